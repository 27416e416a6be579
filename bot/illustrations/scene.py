"""The picture data of one exercise (`content/illustrations/<exercise_id>.yaml`), validated.

A scene is one or two panels (start and end position). Each panel poses the same
figure with joint angles, places props, marks where the exercise should be felt and
draws arrows for the movement. Angles are in degrees, anticlockwise from "pointing
right" in the side view, for a person whose front faces right when upright; a pair
`[angle, tilt]` also tips the segment `tilt` degrees out of that plane, towards the
viewer of the side view (the person's right). Distances are in head heights.

Loading checks the file's structure and that every joint bends the way a body does,
so a typo that would draw a knee bending backwards fails validation, naming the key.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.core import yamlfile
from bot.illustrations.body import HAND_NAMES, JOINT_NAMES, PART_NAMES, REGION_NAMES

Angle = float | tuple[float, float]
XY = tuple[float, float]
XYZ = tuple[float, float, float]


class IllustrationError(ValueError):
    """The picture data is invalid; `problems` holds (key path, problem) pairs."""

    def __init__(self, path: Path, problems: list[tuple[str, str]]) -> None:
        self.path = path
        self.problems = problems
        super().__init__("; ".join(f"{key}: {problem}" if key else problem for key, problem in problems))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Side(_Strict):
    """One side's limbs: each segment's direction, from the joint nearer the trunk."""

    thigh: Angle
    shin: Angle
    foot: Angle
    upper_arm: Angle
    forearm: Angle
    hand: Angle | None = None  # along the forearm unless given


class Pose(_Strict):
    pelvis: XY | XYZ  # the centre between the hip joints
    spine: tuple[float, float]  # lower back (pelvis to waist) and upper back (waist to shoulders)
    pelvis_turn: float = 0.0  # rotation about the lower back's axis; + turns the front to the person's left
    chest_turn: float = 0.0  # the same for the chest and shoulders
    head: Angle
    belly: float = Field(default=0.0, ge=0.0, le=1.0)  # 1 = a full belly breath
    right: Side
    left: Side


class Anchor(_Strict):
    """A point on the posed figure (`right_knee`, `pelvis`, ...), moved by `offset` in the picture."""

    at: str
    offset: XY = (0.0, 0.0)

    @field_validator("at")
    @classmethod
    def _known_joint(cls, value: str) -> str:
        if value not in JOINT_NAMES:
            raise ValueError(f"unknown joint {value!r}; use one of {sorted(JOINT_NAMES)}")
        return value


Where = XY | XYZ | Anchor


class Arrow(_Strict):
    """The movement, from `start` to `end`; `bend` bows it sideways (+ to the left of travel)."""

    start: Where
    end: Where
    bend: float = Field(default=0.0, ge=-1.0, le=1.0)


class Arc(_Strict):
    """A curved movement (a leg swinging about the hip, the chest turning): part of an
    ellipse around `centre`, from `start` to `end` degrees (anticlockwise from the right)."""

    centre: Where
    radius: XY
    start: float
    end: float


class Mat(_Strict):
    kind: Literal["mat"]
    start: float
    end: float


class Block(_Strict):
    """A cushion or a folded towel: `at` is the middle of its underside."""

    kind: Literal["cushion", "towel"]
    at: XY | XYZ
    size: XYZ


class Ball(_Strict):
    kind: Literal["ball"]
    at: XYZ
    radius: float = Field(default=0.3, gt=0.0, le=1.0)


class Chair(_Strict):
    """A kitchen chair; `at` is the front edge of the seat, `facing` where a sitter's knees point."""

    kind: Literal["chair"]
    at: float
    facing: Literal["left", "right"]
    z: float = 0.0


class Table(_Strict):
    """A firm bed or sturdy table from `start` to `end`, its top at `height`."""

    kind: Literal["table"]
    start: float
    end: float
    height: float = Field(gt=0.5, le=5.0)


Prop = Annotated[Mat | Block | Ball | Chair | Table, Field(discriminator="kind")]
PROP_KINDS = frozenset(("mat", "cushion", "towel", "ball", "chair", "table"))


class Panel(_Strict):
    pose: Pose
    props: list[Prop] = Field(default_factory=list)
    highlight: list[str] = Field(default_factory=list)
    arrows: list[Arrow] = Field(default_factory=list)
    arcs: list[Arc] = Field(default_factory=list)
    hide: list[str] = Field(default_factory=list)
    # Body parts, hands or props drawn over everything else whatever their depth, such as
    # a hand resting on the far side of the chest while its arm lies behind the body ...
    front: list[str] = Field(default_factory=list)
    # ... or under everything but the floor and mat, such as thighs seen from the front,
    # which start behind the belly though their knees come towards the viewer.
    behind: list[str] = Field(default_factory=list)

    @field_validator("highlight")
    @classmethod
    def _known_regions(cls, value: list[str]) -> list[str]:
        for name in value:
            if name not in REGION_NAMES:
                raise ValueError(f"unknown region {name!r}; use one of {sorted(REGION_NAMES)}")
        return value

    @field_validator("hide")
    @classmethod
    def _known_parts(cls, value: list[str]) -> list[str]:
        for name in value:
            if name not in PART_NAMES:
                raise ValueError(f"unknown part {name!r}; use one of {sorted(PART_NAMES)}")
        return value

    @field_validator("front", "behind")
    @classmethod
    def _known_things(cls, value: list[str]) -> list[str]:
        known = PART_NAMES | PROP_KINDS | HAND_NAMES
        for name in value:
            if name not in known:
                raise ValueError(f"unknown part or prop {name!r}; use one of {sorted(known)}")
        return value


class View(_Strict):
    """Where the camera stands: `yaw` turns the scene about the vertical (0 = from the person's
    right, 180 = from their left, -90 = from the front), `pitch` looks down from above."""

    yaw: float = 0.0
    pitch: float = Field(default=0.0, ge=0.0, le=90.0)


class Scene(_Strict):
    schema_version: Literal[1]
    view: View = View()
    # "together": both panels share one place on the floor, so a shift between them shows
    # (hips moving forward). "separately": each panel is centred on its own figure.
    align: Literal["together", "separately"] = "together"
    props: list[Prop] = Field(default_factory=list)  # in every panel
    panels: list[Panel] = Field(min_length=1, max_length=2)


# ---------------------------------------------------------------- loading


def load_scene(path: Path) -> Scene:
    """Read and check one picture file; raise IllustrationError naming every bad key."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise IllustrationError(path, [("", f"cannot be read: {error.strerror}")]) from None
    return parse_scene(text, path)


def parse_scene(text: str, path: Path) -> Scene:
    """Check the text of a picture file (`path` only names it in errors)."""
    try:
        raw = yamlfile.safe_load(text)
    except yaml.YAMLError as error:
        raise IllustrationError(path, [("", f"not valid YAML: {error}")]) from None
    if not isinstance(raw, dict):
        raise IllustrationError(path, [("", "expected a mapping at the top level")])
    try:
        scene = Scene.model_validate(raw)
    except ValidationError as error:
        raise IllustrationError(path, [(_location(d["loc"]), d["msg"]) for d in error.errors()]) from None
    problems = list(_scene_problems(scene))
    if problems:
        raise IllustrationError(path, problems)
    return scene


def _location(parts: tuple[int | str, ...]) -> str:
    return ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in parts).replace(".[", "[")


# ---------------------------------------------------------------- anatomy

# (name, parent segment, child segment, allowed range of bending, in degrees).
# Bending is measured in the side plane for a person facing right, so it is only
# checked when both segments lie in that plane; out-of-plane poses are checked by eye.
_LIMITS: tuple[tuple[str, str, str, float, float], ...] = (
    ("hip", "trunk", "thigh", -35.0, 150.0),
    ("knee", "thigh", "shin", -3.0, 165.0),
    ("ankle", "shin", "foot", -100.0, 35.0),  # the foot runs from ankle to toes, not along the sole
    ("shoulder", "trunk", "upper_arm", -75.0, 185.0),
    ("elbow", "upper_arm", "forearm", -3.0, 160.0),
    ("wrist", "forearm", "hand", -95.0, 95.0),
)


def _in_plane(angle: Angle | None) -> float | None:
    if angle is None:
        return None
    if isinstance(angle, tuple):
        return angle[0] if angle[1] == 0 else None
    return angle


def _wrapped(value: float, low: float) -> float:
    """`value` moved by whole turns into [low, low + 360)."""
    return (value - low) % 360.0 + low


def bending(pose: Pose, side: str) -> dict[str, float]:
    """Each joint's bend for one side, in degrees, for the joints that lie in the side plane.

    Positive is flexion (bending the knee, lifting the thigh or arm forward), negative
    is extension; zero is standing straight with the arms by the sides and feet flat.
    """
    limbs: Side = getattr(pose, side)
    lower_back, upper_back = pose.spine
    segments: dict[str, float | None] = {
        "thigh": _in_plane(limbs.thigh),
        "shin": _in_plane(limbs.shin),
        "foot": _in_plane(limbs.foot),
        "upper_arm": _in_plane(limbs.upper_arm),
        "forearm": _in_plane(limbs.forearm),
        "hand": _in_plane(limbs.hand if limbs.hand is not None else limbs.forearm),
    }
    parents = {"thigh": lower_back + 180.0, "upper_arm": upper_back + 180.0}
    out: dict[str, float] = {}
    for name, parent, child, low, _high in _LIMITS:
        child_angle = segments[child]
        parent_angle = parents.get(child) if parent == "trunk" else segments[parent]
        if child_angle is None or parent_angle is None:
            continue
        if name == "ankle":
            value = child_angle - (parent_angle + 90.0)
        elif name in ("knee",):
            value = parent_angle - child_angle
        else:
            value = child_angle - parent_angle
        out[name] = _wrapped(value, low - 90.0)
    return out


def _scene_problems(scene: Scene) -> Iterator[tuple[str, str]]:
    """What the schema cannot say: a region to feel is marked, and every joint bends the
    way a body does."""
    if not any(panel.highlight for panel in scene.panels):
        yield "panels", "no panel marks where the exercise should be felt (add `highlight` to one)"
    limits = {name: (low, high) for name, _p, _c, low, high in _LIMITS}
    for index, panel in enumerate(scene.panels):
        pose = panel.pose
        where = f"panels[{index}].pose"
        lower_back, upper_back = pose.spine
        spine_bend = _wrapped(lower_back - upper_back, -180.0)
        if not -35.0 <= spine_bend <= 60.0:
            yield f"{where}.spine", f"the back bends {spine_bend:.0f}°, outside its range of -35° to 60°"
        twist = pose.chest_turn - pose.pelvis_turn
        if not -60.0 <= twist <= 60.0:
            yield f"{where}.chest_turn", f"the back twists {twist:.0f}°, outside its range of -60° to 60°"
        head = _in_plane(pose.head)
        if head is not None:
            neck = _wrapped(upper_back - head, -180.0)
            if not -50.0 <= neck <= 75.0:
                yield f"{where}.head", f"the neck bends {neck:.0f}°, outside its range of -50° to 75°"
        for side in ("right", "left"):
            for joint, value in bending(pose, side).items():
                low, high = limits[joint]
                if not low <= value <= high:
                    yield (
                        f"{where}.{side}",
                        f"the {joint} bends {value:.0f}°, outside its range of {low:.0f}° to {high:.0f}°",
                    )
