"""Props (mat, cushion, towel, ball, chair, table) as hulls of spheres, like the body.

A box is the hull of eight spheres at its corners, so its edges come out softly
rounded in every view. Sizes are in head heights (one head is about 23 cm): a
chair seat is 2 heads high, a mat is about 1 cm thick.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.illustrations.body import Hull
from bot.illustrations.geometry import Vec
from bot.illustrations.scene import Ball, Block, Chair, Mat, Prop, Table

MAT_THICKNESS = 0.1
MAT_HALF_WIDTH = 1.4


@dataclass(frozen=True)
class Shape:
    """One solid piece of a prop. `behind` pieces are drawn before the figure (what it
    lies, kneels or sits on); the others are sorted by depth with the body parts."""

    hull: Hull
    colour: str
    behind: bool


def box(low: Vec, high: Vec, rounding: float) -> Hull:
    r = min(rounding, *((h - lo) / 2 for lo, h in zip(low, high, strict=True)))
    xs, ys, zs = ((lo + r, h - r) for lo, h in zip(low, high, strict=True))
    return tuple(((x, y, z), r) for x in xs for y in ys for z in zs)


def shapes(prop: Prop) -> list[Shape]:
    if isinstance(prop, Mat):
        return [
            Shape(
                box((prop.start, 0.0, -MAT_HALF_WIDTH), (prop.end, MAT_THICKNESS, MAT_HALF_WIDTH), 0.05),
                "mat",
                True,
            )
        ]
    if isinstance(prop, Block):
        x, y = prop.at[0], prop.at[1]
        z = prop.at[2] if len(prop.at) == 3 else 0.0
        w, h, d = prop.size
        colour: Literal["cushion", "towel"] = prop.kind
        return [Shape(box((x - w / 2, y, z - d / 2), (x + w / 2, y + h, z + d / 2), h * 0.45), colour, True)]
    if isinstance(prop, Ball):
        return [Shape((((prop.at[0], prop.at[1], prop.at[2]), prop.radius),), "ball", False)]
    if isinstance(prop, Chair):
        return _chair(prop)
    return _table(prop)


def _chair(chair: Chair) -> list[Shape]:
    seat_height, seat_depth, back_height, half_width = 2.0, 1.8, 1.9, 0.85
    toward = 1.0 if chair.facing == "right" else -1.0
    front, rear = chair.at, chair.at - toward * seat_depth
    z = chair.z
    lo_x, hi_x = min(front, rear), max(front, rear)
    out = []
    for leg_x in (front - toward * 0.12, rear + toward * 0.12):
        out.append(
            Shape(
                box((leg_x - 0.07, 0.0, z - half_width), (leg_x + 0.07, seat_height, z + half_width), 0.05),
                "wood_dark",
                True,
            )
        )
    out.append(
        Shape(
            box((lo_x, seat_height - 0.18, z - half_width), (hi_x, seat_height, z + half_width), 0.06),
            "wood",
            True,
        )
    )
    back_x = rear + toward * 0.08
    out.append(
        Shape(
            box(
                (back_x - 0.09, seat_height, z - half_width),
                (back_x + 0.09, seat_height + back_height, z + half_width),
                0.07,
            ),
            "wood",
            True,
        )
    )
    return out


def _table(table: Table) -> list[Shape]:
    half_width = 1.5
    top = table.height
    out = []
    for leg_x in (table.start + 0.35, table.end - 0.35):
        out.append(
            Shape(
                box((leg_x - 0.12, 0.0, -half_width), (leg_x + 0.12, top - 0.2, half_width), 0.06),
                "wood_dark",
                True,
            )
        )
    out.append(
        Shape(box((table.start, top - 0.32, -half_width), (table.end, top, half_width), 0.08), "wood", True)
    )
    return out
