"""Small 3-D vector maths for posing the figure and projecting it onto the picture.

The scenes hold a few hundred points, so plain tuples are quick enough and keep the
renderer free of numpy (whose import alone would cost more than a whole picture).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

Vec = tuple[float, float, float]
Point = tuple[float, float]

ORIGIN: Vec = (0.0, 0.0, 0.0)
UP: Vec = (0.0, 1.0, 0.0)
TOWARDS_VIEWER: Vec = (0.0, 0.0, 1.0)


def add(*vectors: Vec) -> Vec:
    return (sum(v[0] for v in vectors), sum(v[1] for v in vectors), sum(v[2] for v in vectors))


def sub(a: Vec, b: Vec) -> Vec:
    return (a[0] - b[0], a[1] - b[1], a[2] - b[2])


def scale(v: Vec, k: float) -> Vec:
    return (v[0] * k, v[1] * k, v[2] * k)


def dot(a: Vec, b: Vec) -> float:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def cross(a: Vec, b: Vec) -> Vec:
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def length(v: Vec) -> float:
    return math.sqrt(dot(v, v))


def unit(v: Vec) -> Vec:
    size = length(v)
    return scale(v, 1.0 / size) if size > 1e-9 else v


def lerp(a: Vec, b: Vec, t: float) -> Vec:
    return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t)


def direction(angle: float, out_of_plane: float = 0.0) -> Vec:
    """A unit vector `angle` degrees anticlockwise from +x in the picture plane, tipped
    `out_of_plane` degrees towards the viewer of the side view (+z)."""
    a, b = math.radians(angle), math.radians(out_of_plane)
    return (math.cos(a) * math.cos(b), math.sin(a) * math.cos(b), math.sin(b))


def rotate(v: Vec, axis: Vec, degrees: float) -> Vec:
    """Rotate `v` about the unit vector `axis` (right-hand rule), by Rodrigues' formula."""
    k = unit(axis)
    theta = math.radians(degrees)
    cos, sin = math.cos(theta), math.sin(theta)
    return add(scale(v, cos), scale(cross(k, v), sin), scale(k, dot(k, v) * (1.0 - cos)))


@dataclass(frozen=True)
class Camera:
    """An orthographic camera: turn the scene `yaw` degrees about the vertical, then tip
    it `pitch` degrees towards the viewer (looking down from above)."""

    yaw: float = 0.0
    pitch: float = 0.0
    _turn: tuple[float, float, float, float] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        yaw, pitch = math.radians(self.yaw), math.radians(self.pitch)
        object.__setattr__(self, "_turn", (math.cos(yaw), math.sin(yaw), math.cos(pitch), math.sin(pitch)))

    def view(self, p: Vec) -> Vec:
        """Camera coordinates: x right, y up, z towards the viewer (the depth)."""
        cos_yaw, sin_yaw, cos_pitch, sin_pitch = self._turn
        x = p[0] * cos_yaw + p[2] * sin_yaw
        z = -p[0] * sin_yaw + p[2] * cos_yaw
        return (x, p[1] * cos_pitch - z * sin_pitch, p[1] * sin_pitch + z * cos_pitch)


def convex_hull(points: Iterable[Point]) -> list[Point]:
    """Andrew's monotone chain; returns the hull anticlockwise without repeating the start."""
    pts = sorted(set(points))
    if len(pts) <= 2:
        return pts

    def turn(o: Point, a: Point, b: Point) -> float:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list[Point] = []
    for p in pts:
        while len(lower) >= 2 and turn(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    upper: list[Point] = []
    for p in reversed(pts):
        while len(upper) >= 2 and turn(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return lower[:-1] + upper[:-1]


def circle_points(centre: Point, radius: float, steps: int) -> list[Point]:
    return [
        (
            centre[0] + radius * math.cos(2 * math.pi * i / steps),
            centre[1] + radius * math.sin(2 * math.pi * i / steps),
        )
        for i in range(steps)
    ]


def hull_of_circles(circles: Sequence[tuple[Point, float]]) -> list[Point]:
    """The outline of a group of discs: the picture of a shape swept from spheres."""
    points: list[Point] = []
    for centre, radius in circles:
        points.extend(circle_points(centre, radius, max(16, min(72, int(radius / 2.5)))))
    return convex_hull(points)


def quadratic(a: Point, control: Point, b: Point, steps: int = 24) -> list[Point]:
    """Points along a quadratic Bézier curve from a to b."""
    out = []
    for i in range(steps + 1):
        t = i / steps
        out.append(
            (
                (1 - t) ** 2 * a[0] + 2 * (1 - t) * t * control[0] + t**2 * b[0],
                (1 - t) ** 2 * a[1] + 2 * (1 - t) * t * control[1] + t**2 * b[1],
            )
        )
    return out
