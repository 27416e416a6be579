"""Draw a scene as a PNG with Pillow: one or two panels, anti-aliased by drawing at
three times the size and shrinking.

Everything solid (body parts, props) is the hull of projected spheres, painted far to
near. Each part is first painted a little larger in white, so where a near limb crosses
a far one a thin white gap separates them; the hulls of one part are filled together,
so a limb has no seam at its joints. Then comes the warm glow over the region to feel,
then the arrows and the panel numbers. Pillow needs no system libraries, so this works
wherever `pip install` does.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from bot.illustrations.body import HAND_NAMES, HEAD_RADIUS, Figure, Hull, pose_figure, region
from bot.illustrations.geometry import Camera, Point, Vec, hull_of_circles, quadratic
from bot.illustrations.props import shapes
from bot.illustrations.scene import Anchor, Arc, Arrow, Panel, Scene, Where

SIDE_BY_SIDE: Final = (1200, 600)  # for upright scenes
STACKED: Final = (1000, 1000)  # for lying scenes, which are long and low
SUPERSAMPLE: Final = 3
MAX_PX_PER_UNIT: Final = 96.0  # one head height at the final size, at most
MARGIN: Final = 12
GAP: Final = 12
CORNER: Final = 18
FLOOR_BELOW: Final = 44  # pixels of floor under the floor line
HEADROOM: Final = 40  # pixels kept free above the scene (the panel number sits there)
SIDE_ROOM: Final = 20  # pixels kept free left and right of the scene
FLOOR_DEPTH: Final = 2.2  # how far the floor reaches behind the scene, for views from above
SEPARATION: Final = 2.2  # the white gap between overlapping parts, in pixels of the final picture
HAIR_CAP_DEGREES: Final = 82  # how far the hair reaches from the crown, as an angle on the head
GLOW_STRENGTH: Final = 215  # of 255: how much the glow covers what is under its middle
FAR_SHADE: Final = 0.8  # limbs on the far side are drawn this much darker
ARROW_WIDTH: Final = 5  # pixels of the final picture

COLOURS: Final[dict[str, str]] = {
    "background": "#ffffff",
    "panel": "#f2f5f8",
    "floor": "#e3e8ed",
    "separation": "#ffffff",
    "trunk": "#5d95c9",
    "arm": "#5d95c9",
    "leg": "#33628f",
    "head": "#9cc2e6",  # also the hands
    "hair": "#2b4563",
    "glow": "#ff6a35",
    "arrow": "#364656",
    "badge": "#364656",
    "badge_text": "#ffffff",
    "mat": "#c6e2d3",
    "cushion": "#e8d3a9",
    "towel": "#d7dff0",
    "ball": "#8f5fd0",
    "wood": "#cfae85",
    "wood_dark": "#ad8c64",
}


@dataclass(frozen=True)
class Layout:
    """The picture's size and where its panels go."""

    size: tuple[int, int]
    panel: tuple[int, int]
    origins: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class _Item:
    """One thing to paint: a body part or a piece of a prop."""

    name: str
    hulls: tuple[Hull, ...]
    colour: str
    depth: float
    behind: bool  # painted before the figure, whatever its depth (what the figure lies on)
    skin: tuple[Hull, ...] = ()
    skin_colour: str = ""


@dataclass(frozen=True)
class _Staged:
    """A panel with its posed figure and everything to paint, in order."""

    panel: Panel
    figure: Figure
    items: tuple[_Item, ...]


class _Projector:
    """World (head heights, y up) to pixels of one supersampled panel."""

    def __init__(self, camera: Camera, offset: Point, ppu: float) -> None:
        self.camera = camera
        self.offset = offset
        self.ppu = ppu

    def point(self, p: Vec) -> Point:
        x, y, _z = self.camera.view(p)
        return (self.offset[0] + x * self.ppu, self.offset[1] - y * self.ppu)

    def polygon(self, hull: Hull, grow: float = 0.0) -> list[Point]:
        return hull_of_circles([(self.point(c), (r + grow) * self.ppu) for c, r in hull])


def render_scene(scene: Scene) -> bytes:
    """The scene as PNG bytes: 1200 x 600 side by side or 1000 x 1000 stacked."""
    camera = Camera(scene.view.yaw, scene.view.pitch)
    staged = [_stage(panel, scene, camera) for panel in scene.panels]
    flat = scene.view.pitch < 60.0  # below that the floor shows as a band under the scene
    extent = _extent(staged, camera)
    layout, ppu = _choose_layout(len(staged), extent, flat)
    left, right, bottom, top = extent
    panel_w, panel_h = layout.panel
    # Flat views stand the lowest point (the floor line, or a mat's near edge seen from
    # above) on the floor band; views from above centre the scene.
    offset_y = (
        panel_h - FLOOR_BELOW + min(bottom, 0.0) * ppu if flat else panel_h / 2 + (top + bottom) / 2 * ppu
    )

    canvas = Image.new("RGB", layout.size, COLOURS["background"])
    mask = _rounded_mask(layout.panel)
    for index, stage in enumerate(staged):
        if scene.align == "separately":
            left, right, _bottom, _top = _extent([stage], camera)
        offset_x = panel_w / 2 - (left + right) / 2 * ppu
        projector = _Projector(camera, (offset_x * SUPERSAMPLE, offset_y * SUPERSAMPLE), ppu * SUPERSAMPLE)
        number = index + 1 if len(staged) > 1 else None
        canvas.paste(_panel_image(stage, layout.panel, projector, flat, number), layout.origins[index], mask)
    out = io.BytesIO()
    canvas.save(out, "PNG", compress_level=9)
    return out.getvalue()


def _stage(panel: Panel, scene: Scene, camera: Camera) -> _Staged:
    """Pose the figure and order everything far to near: first what the figure rests on,
    then props and body parts by depth, then the parts the panel asks to have in front."""
    figure = pose_figure(panel.pose)
    items: list[_Item] = []
    for prop in (*scene.props, *panel.props):
        for shape in shapes(prop):
            depth = sum(camera.view(c)[2] for c, _r in shape.hull) / len(shape.hull)
            items.append(_Item(prop.kind, (shape.hull,), COLOURS[shape.colour], depth, shape.behind))
    trunk = figure.parts[0]
    trunk_depth = _mean_depth(trunk.hulls, camera)
    for part in figure.parts:
        if part.name in panel.hide:
            continue
        depth = _mean_depth((*part.hulls, *part.skin), camera)
        shade = FAR_SHADE if part.side is not None and depth < trunk_depth - 0.05 else 1.0
        items.append(
            _Item(
                part.name,
                part.hulls,
                _shaded(COLOURS[part.kind], shade),
                depth,
                False,
                part.skin,
                _shaded(COLOURS["head"], shade),
            )
        )
    under = [item for item in items if item.behind]
    around = sorted((item for item in items if not item.behind), key=lambda item: item.depth)
    back = [item for name in panel.behind for item in around if item.name == name]
    front = [item for name in panel.front for item in around if item.name == name]
    for name in panel.front:  # a hand alone: its arm keeps its place, the hand is drawn again on top
        if name in HAND_NAMES:
            arm = next(item for item in around if item.name == name.replace("_hand", "_arm"))
            front.append(_Item(name, (), arm.colour, arm.depth, False, arm.skin, arm.skin_colour))
    middle = [item for item in around if item.name not in panel.front and item.name not in panel.behind]
    ordered = under + back + middle + front
    return _Staged(panel, figure, tuple(ordered))


def _mean_depth(hulls: Sequence[Hull], camera: Camera) -> float:
    centres = [c for hull in hulls for c, _r in hull]
    return sum(camera.view(c)[2] for c in centres) / len(centres)


def _shaded(hex_colour: str, shade: float) -> str:
    """The colour darkened by `shade` (1 leaves it as it is)."""
    value = hex_colour.lstrip("#")
    return "#" + "".join(f"{round(int(value[i : i + 2], 16) * shade):02x}" for i in (0, 2, 4))


def _extent(staged: Sequence[_Staged], camera: Camera) -> tuple[float, float, float, float]:
    """The camera-space box (left, right, bottom, top) around everything in the panels."""
    xs: list[float] = []
    ys: list[float] = []
    for stage in staged:
        for item in stage.items:
            for hull in (*item.hulls, *item.skin):
                for centre, radius in hull:
                    x, y, _z = camera.view(centre)
                    xs += [x - radius, x + radius]
                    ys += [y - radius, y + radius]
    return min(xs), max(xs), min(ys), max(ys)


def _layouts(panels: int) -> tuple[Layout, Layout]:
    (wide_w, wide_h), (tall_w, tall_h) = SIDE_BY_SIDE, STACKED
    wide_panel = ((wide_w - 2 * MARGIN - (panels - 1) * GAP) // panels, wide_h - 2 * MARGIN)
    tall_panel = (tall_w - 2 * MARGIN, (tall_h - 2 * MARGIN - (panels - 1) * GAP) // panels)
    return (
        Layout(
            SIDE_BY_SIDE,
            wide_panel,
            tuple((MARGIN + i * (wide_panel[0] + GAP), MARGIN) for i in range(panels)),
        ),
        Layout(
            STACKED, tall_panel, tuple((MARGIN, MARGIN + i * (tall_panel[1] + GAP)) for i in range(panels))
        ),
    )


def _fit(layout: Layout, extent: tuple[float, float, float, float], flat: bool) -> float:
    """Pixels per head height that fit the scene into one panel of `layout`."""
    left, right, bottom, top = extent
    room_x = layout.panel[0] - 2 * SIDE_ROOM
    room_y = layout.panel[1] - HEADROOM - (FLOOR_BELOW if flat else HEADROOM)
    height = top - min(bottom, 0.0) if flat else top - bottom
    return min(MAX_PX_PER_UNIT, room_x / (right - left), room_y / height)


def _choose_layout(
    panels: int, extent: tuple[float, float, float, float], flat: bool
) -> tuple[Layout, float]:
    """The layout that shows the figure biggest for the picture's width (a phone scales
    every picture to its width): side by side, unless stacking gains a quarter or more."""
    wide, tall = _layouts(panels)
    wide_scale, tall_scale = _fit(wide, extent, flat), _fit(tall, extent, flat)
    if tall_scale / tall.size[0] > 1.25 * wide_scale / wide.size[0]:
        return tall, tall_scale
    return wide, wide_scale


def _rounded_mask(size: tuple[int, int]) -> Image.Image:
    ss = SUPERSAMPLE
    mask = Image.new("L", (size[0] * ss, size[1] * ss), 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, size[0] * ss - 1, size[1] * ss - 1), CORNER * ss, fill=255)
    return mask.reduce(ss)


def _panel_image(
    stage: _Staged, panel_size: tuple[int, int], projector: _Projector, flat: bool, number: int | None
) -> Image.Image:
    ss = SUPERSAMPLE
    size = (panel_size[0] * ss, panel_size[1] * ss)
    image = Image.new("RGB", size, COLOURS["panel"])
    draw = ImageDraw.Draw(image)
    if flat:
        horizon = (
            projector.offset[1] - FLOOR_DEPTH * math.tan(math.radians(projector.camera.pitch)) * projector.ppu
        )
        draw.rectangle((0, horizon, size[0], size[1]), fill=COLOURS["floor"])
    panel, figure = stage.panel, stage.figure
    resting = sum(1 for item in stage.items if item.name in panel.front)
    for item in stage.items[: len(stage.items) - resting]:
        _paint(image, draw, item, figure, projector)
    if panel.highlight:
        _glow(image, figure, panel.highlight, projector)
    for item in stage.items[len(stage.items) - resting :]:  # hands resting on the body stay over the glow
        _paint(image, draw, item, figure, projector)
    for arrow in panel.arrows:
        _arrow(draw, _path(arrow, figure, projector))
    for arc in panel.arcs:
        _arrow(draw, _path(arc, figure, projector))
    if number is not None:
        _badge(draw, number)
    return image.reduce(ss)


def _paint(
    image: Image.Image, draw: ImageDraw.ImageDraw, item: _Item, figure: Figure, projector: _Projector
) -> None:
    gap = SEPARATION * SUPERSAMPLE / projector.ppu
    for hull in (*item.hulls, *item.skin):
        draw.polygon(projector.polygon(hull, gap), fill=COLOURS["separation"])
    for hull in item.hulls:
        draw.polygon(projector.polygon(hull), fill=item.colour)
    for hull in item.skin:
        draw.polygon(projector.polygon(hull), fill=item.skin_colour)
    if item.name == "head":
        _hair(image, figure, projector)


def _where(where: Where, figure: Figure, projector: _Projector) -> Point:
    if isinstance(where, Anchor):
        x, y = projector.point(figure.joints[where.at])
        return (x + where.offset[0] * projector.ppu, y - where.offset[1] * projector.ppu)
    return projector.point((where[0], where[1], where[2] if len(where) == 3 else 0.0))


def _path(movement: Arrow | Arc, figure: Figure, projector: _Projector) -> list[Point]:
    if isinstance(movement, Arrow):
        start, end = _where(movement.start, figure, projector), _where(movement.end, figure, projector)
        dx, dy = end[0] - start[0], end[1] - start[1]
        control = ((start[0] + end[0]) / 2 + dy * movement.bend, (start[1] + end[1]) / 2 - dx * movement.bend)
        return quadratic(start, control, end)
    centre = _where(movement.centre, figure, projector)
    rx, ry = movement.radius[0] * projector.ppu, movement.radius[1] * projector.ppu
    angles = [math.radians(movement.start + (movement.end - movement.start) * i / 40) for i in range(41)]
    return [(centre[0] + rx * math.cos(a), centre[1] - ry * math.sin(a)) for a in angles]


def _hair(image: Image.Image, figure: Figure, projector: _Projector) -> None:
    """Darken the back and crown of the head, so which way the figure faces reads at a glance.

    The hair is a cap of the head's sphere around the direction up and behind the face:
    a pixel of the head's disc is hair when the point of the sphere it shows lies in that
    cap, so it looks right from any side (from the front only a fringe shows).
    """
    head_axis, face = figure.head_axes
    crown = projector.camera.view(
        (
            0.6 * head_axis[0] - 0.8 * face[0],
            0.6 * head_axis[1] - 0.8 * face[1],
            0.6 * head_axis[2] - 0.8 * face[2],
        )
    )
    length = math.sqrt(sum(c * c for c in crown))
    cx, cy, cz = (c / length for c in crown)
    radius = HEAD_RADIUS * projector.ppu
    centre_x, centre_y = projector.point(figure.joints["head"])
    left, top = math.floor(centre_x - radius), math.floor(centre_y - radius)
    side = math.ceil(2 * radius) + 2
    edge = math.cos(math.radians(HAIR_CAP_DEGREES))
    cells = bytearray(side * side)
    for row in range(side):
        v = (centre_y - (top + row + 0.5)) / radius
        for column in range(side):
            u = (left + column + 0.5 - centre_x) / radius
            depth_squared = 1.0 - u * u - v * v
            if depth_squared > 0.0 and u * cx + v * cy + math.sqrt(depth_squared) * cz > edge:
                cells[row * side + column] = 255
    mask = Image.frombytes("L", (side, side), bytes(cells))
    image.paste(COLOURS["hair"], (left, top, left + side, top + side), mask)


def _glow(image: Image.Image, figure: Figure, regions: Sequence[str], projector: _Projector) -> None:
    """A soft warm glow over the regions: drawn at the final size, blurred, enlarged and
    laid over the panel, only inside the box it covers."""
    ss = SUPERSAMPLE
    small = Image.new("L", (image.width // ss, image.height // ss), 0)
    draw = ImageDraw.Draw(small)
    blur = 0.0
    for name in regions:
        for centre, radius in region(figure, name):
            x, y = projector.point(centre)
            r = radius * projector.ppu / ss
            draw.ellipse((x / ss - r, y / ss - r, x / ss + r, y / ss + r), fill=255)
            blur = max(blur, r * 0.65)
    # The blur leaves small regions faint; lifting it keeps the middle of every region the
    # same strong orange while the edges still fade out softly.
    small = small.filter(ImageFilter.GaussianBlur(blur)).point(
        lambda v: min(255, v * 4 // 3) * GLOW_STRENGTH // 255
    )
    box = small.getbbox()
    if box is None:
        return
    mask = small.crop(box).resize(((box[2] - box[0]) * ss, (box[3] - box[1]) * ss), Image.Resampling.BILINEAR)
    image.paste(COLOURS["glow"], (box[0] * ss, box[1] * ss, box[2] * ss, box[3] * ss), mask)


def _arrow(draw: ImageDraw.ImageDraw, points: list[Point]) -> None:
    """A thick arrow along the points, with a white rim so it reads over the figure."""
    ss = SUPERSAMPLE
    width = ARROW_WIDTH * ss
    head_length, head_half = 16 * ss, 11 * ss
    tip = points[-1]
    shaft = list(points)
    while len(shaft) > 2 and math.dist(shaft[-2], tip) < head_length:
        shaft.pop()
    angle = math.atan2(tip[1] - shaft[-2][1], tip[0] - shaft[-2][0])
    back = (tip[0] - head_length * math.cos(angle), tip[1] - head_length * math.sin(angle))
    shaft[-1] = back
    side = (-math.sin(angle) * head_half, math.cos(angle) * head_half)
    head = [tip, (back[0] + side[0], back[1] + side[1]), (back[0] - side[0], back[1] - side[1])]
    for colour, grow in ((COLOURS["separation"], 3 * ss), (COLOURS["arrow"], 0)):
        draw.line(shaft, fill=colour, width=width + 2 * grow, joint="curve")
        x, y = shaft[0]
        r = width / 2 + grow
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
        draw.polygon(_grown(head, grow), fill=colour)


def _grown(triangle: list[Point], grow: float) -> list[Point]:
    """The triangle pushed out from its centre by about `grow` on every side."""
    if grow == 0:
        return triangle
    cx = sum(p[0] for p in triangle) / 3
    cy = sum(p[1] for p in triangle) / 3
    out = []
    for x, y in triangle:
        k = (math.dist((x, y), (cx, cy)) + 2 * grow) / math.dist((x, y), (cx, cy))
        out.append((cx + (x - cx) * k, cy + (y - cy) * k))
    return out


def _badge(draw: ImageDraw.ImageDraw, number: int) -> None:
    """The panel's number, 1 or 2, in a small disc at its top left (the only text)."""
    ss = SUPERSAMPLE
    x, y, r = 30 * ss, 30 * ss, 17 * ss
    draw.ellipse((x - r, y - r, x + r, y + r), fill=COLOURS["badge"])
    font = ImageFont.load_default(22 * ss)
    draw.text((x, y), str(number), fill=COLOURS["badge_text"], font=font, anchor="mm")
