"""The figure: one set of body proportions, posed by joint angles, built from spheres.

Every body part is the hull of a few spheres (a thigh is a sphere at the hip swept to a
smaller one at the knee), so a part looks the same from any side and projects to a
rounded outline. Lengths are in head heights and shared by every picture, so the
trunk, thigh and shin keep their proportions across all exercises.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Final

from bot.illustrations.geometry import (
    TOWARDS_VIEWER,
    Vec,
    add,
    cross,
    direction,
    lerp,
    rotate,
    scale,
    sub,
    unit,
)

if TYPE_CHECKING:
    from bot.illustrations.scene import Angle, Pose

# Segment lengths, in head heights (a standing figure is about 7.7 heads tall).
LOWER_BACK: Final = 1.1  # hip joints' centre to the waist
UPPER_BACK: Final = 1.45  # waist to the shoulders' centre
NECK_AND_HEAD: Final = 0.8  # shoulders' centre to the middle of the head
HEAD_RADIUS: Final = 0.46
HIP_HALF_WIDTH: Final = 0.36
SHOULDER_HALF_WIDTH: Final = 0.7
THIGH: Final = 1.95
SHIN: Final = 1.85
UPPER_ARM: Final = 1.3
FOREARM: Final = 1.15
HAND: Final = 0.4

SIDES: Final = ("right", "left")
_SIDE_SIGN: Final = {"right": 1.0, "left": -1.0}
_SIDE_JOINTS: Final = ("hip", "knee", "ankle", "heel", "toe", "shoulder", "elbow", "wrist", "hand")
JOINT_NAMES: Final = frozenset(
    ("pelvis", "waist", "shoulders", "head", "navel", *(f"{s}_{j}" for s in SIDES for j in _SIDE_JOINTS))
)
PART_NAMES: Final = frozenset(("trunk", "head", "right_leg", "left_leg", "right_arm", "left_arm"))
HAND_NAMES: Final = frozenset(("right_hand", "left_hand"))  # an arm's hand alone, to bring it in front

Sphere = tuple[Vec, float]
Hull = tuple[Sphere, ...]


@dataclass(frozen=True)
class Part:
    """A body part drawn in one piece: its hulls are filled together, so no seam shows.
    `skin` hulls (the hands) take the head's colour, so a hand resting on the body shows."""

    name: str
    kind: str  # trunk, head, leg or arm: picks the colour
    side: str | None
    hulls: tuple[Hull, ...]
    skin: tuple[Hull, ...] = ()


@dataclass(frozen=True)
class Figure:
    """A posed body: named joint positions, the trunk's axes, and the parts to draw."""

    joints: Mapping[str, Vec]
    pelvis_axes: tuple[Vec, Vec, Vec]  # along the lower back, to the person's right, to their front
    chest_axes: tuple[Vec, Vec, Vec]
    head_axes: tuple[Vec, Vec]  # from the neck to the head, to the front of the face
    parts: tuple[Part, ...]


def _segment(angle: Angle) -> Vec:
    if isinstance(angle, tuple):
        return direction(angle[0], angle[1])
    return direction(angle)


def _frame(along: Vec, turn: float) -> tuple[Vec, Vec, Vec]:
    """A trunk section's axes: along it, to the person's right, to their front."""
    right = rotate(TOWARDS_VIEWER, along, turn)
    return along, right, cross(along, right)


def pose_figure(pose: Pose) -> Figure:
    """Place every joint and build every part for one pose."""
    pelvis: Vec = (pose.pelvis[0], pose.pelvis[1], pose.pelvis[2] if len(pose.pelvis) == 3 else 0.0)
    low_axis, low_right, low_front = _frame(direction(pose.spine[0]), pose.pelvis_turn)
    up_axis, up_right, up_front = _frame(direction(pose.spine[1]), pose.chest_turn)
    waist = add(pelvis, scale(low_axis, LOWER_BACK))
    shoulders = add(waist, scale(up_axis, UPPER_BACK))
    head_axis = _segment(pose.head)
    face = unit(sub(up_front, scale(head_axis, sum(a * b for a, b in zip(up_front, head_axis, strict=True)))))
    head = add(shoulders, scale(head_axis, NECK_AND_HEAD), scale(face, 0.04))
    joints: dict[str, Vec] = {
        "pelvis": pelvis,
        "waist": waist,
        "shoulders": shoulders,
        "head": head,
        "navel": add(lerp(pelvis, waist, 0.85), scale(low_front, 0.42)),
    }
    for side in SIDES:
        sign = _SIDE_SIGN[side]
        limbs = getattr(pose, side)
        hip = add(pelvis, scale(low_right, sign * HIP_HALF_WIDTH))
        knee = add(hip, scale(_segment(limbs.thigh), THIGH))
        shin = _segment(limbs.shin)
        ankle = add(knee, scale(shin, SHIN))
        foot = _segment(limbs.foot)
        shoulder = add(shoulders, scale(up_right, sign * SHOULDER_HALF_WIDTH), scale(up_axis, -0.14))
        elbow = add(shoulder, scale(_segment(limbs.upper_arm), UPPER_ARM))
        forearm = _segment(limbs.forearm)
        wrist = add(elbow, scale(forearm, FOREARM))
        hand_axis = _segment(limbs.hand) if limbs.hand is not None else forearm
        joints |= {
            f"{side}_hip": hip,
            f"{side}_knee": knee,
            f"{side}_ankle": ankle,
            f"{side}_heel": add(ankle, scale(shin, 0.13), scale(foot, -0.16)),
            f"{side}_toe": add(ankle, scale(shin, 0.16), scale(foot, 0.78)),
            f"{side}_shoulder": shoulder,
            f"{side}_elbow": elbow,
            f"{side}_wrist": wrist,
            f"{side}_hand": add(wrist, scale(hand_axis, HAND)),
        }
    pelvis_axes = (low_axis, low_right, low_front)
    chest_axes = (up_axis, up_right, up_front)
    parts = _parts(joints, pelvis_axes, chest_axes, head_axis, pose.belly)
    return Figure(joints, pelvis_axes, chest_axes, (head_axis, face), parts)


def _parts(
    j: Mapping[str, Vec],
    pelvis_axes: tuple[Vec, Vec, Vec],
    chest_axes: tuple[Vec, Vec, Vec],
    head_axis: Vec,
    belly: float,
) -> tuple[Part, ...]:
    low_axis, low_right, low_front = pelvis_axes
    up_axis, up_right, up_front = chest_axes
    pelvis, waist, shoulders = j["pelvis"], j["waist"], j["shoulders"]
    waist_right = unit(add(low_right, up_right))
    hips: list[Sphere] = []
    chest: list[Sphere] = []
    for sign in (1.0, -1.0):
        hips += [
            (add(pelvis, scale(low_right, sign * 0.32), scale(low_front, -0.04)), 0.5),
            (add(pelvis, scale(low_right, sign * 0.3), scale(low_front, -0.2), scale(low_axis, 0.05)), 0.46),
            (add(waist, scale(waist_right, sign * 0.28)), 0.44),
        ]
        chest += [
            (add(waist, scale(waist_right, sign * 0.28)), 0.44),
            (add(waist, scale(up_axis, 0.8), scale(up_right, sign * 0.34), scale(up_front, 0.06)), 0.52),
            (add(shoulders, scale(up_right, sign * 0.6), scale(up_axis, -0.16)), 0.3),
        ]
    # The belly rounds forward on a full breath in.
    hips.append((add(lerp(pelvis, waist, 0.75), scale(low_front, 0.05 + 0.32 * belly)), 0.44))
    parts = [
        Part("trunk", "trunk", None, (tuple(hips), tuple(chest))),
        Part(
            "head",
            "head",
            None,
            (
                ((shoulders, 0.2), (add(shoulders, scale(head_axis, 0.45)), 0.19)),
                ((j["head"], HEAD_RADIUS),),
            ),
        ),
    ]
    for side in SIDES:
        hip, knee, ankle = j[f"{side}_hip"], j[f"{side}_knee"], j[f"{side}_ankle"]
        heel, toe = j[f"{side}_heel"], j[f"{side}_toe"]
        parts.append(
            Part(
                f"{side}_leg",
                "leg",
                side,
                (
                    ((hip, 0.41), (knee, 0.27)),
                    ((knee, 0.26), (lerp(knee, ankle, 0.3), 0.25), (ankle, 0.15)),
                    ((ankle, 0.16), (heel, 0.15), (toe, 0.11)),
                ),
            )
        )
        shoulder, elbow, wrist, hand = (j[f"{side}_{n}"] for n in ("shoulder", "elbow", "wrist", "hand"))
        parts.append(
            Part(
                f"{side}_arm",
                "arm",
                side,
                (
                    ((shoulder, 0.21), (elbow, 0.155)),
                    ((elbow, 0.155), (wrist, 0.115)),
                ),
                (((wrist, 0.12), (lerp(wrist, hand, 0.7), 0.125), (hand, 0.095)),),
            )
        )
    return tuple(parts)


# ---------------------------------------------------------------- regions to highlight

Blob = tuple[Vec, float]


def _hip_front(f: Figure, side: str) -> list[Blob]:
    """The hip flexors: the lower belly beside the hip bone, the hip crease, the top of the thigh."""
    axis, right, front = f.pelvis_axes
    sign = _SIDE_SIGN[side]
    hip, knee = f.joints[f"{side}_hip"], f.joints[f"{side}_knee"]
    return [
        (add(f.joints["pelvis"], scale(right, sign * 0.3), scale(front, 0.3), scale(axis, 0.45)), 0.3),
        (add(hip, scale(front, 0.28), scale(axis, 0.05)), 0.32),
        (add(lerp(hip, knee, 0.3), scale(front, 0.16)), 0.27),
    ]


def _thigh_front(f: Figure, side: str) -> list[Blob]:
    front = f.pelvis_axes[2]
    hip, knee = f.joints[f"{side}_hip"], f.joints[f"{side}_knee"]
    # "front" of the thigh: the side facing the way the knee cap faces, taken from the shin.
    ankle = f.joints[f"{side}_ankle"]
    thigh = unit(sub(knee, hip))
    shin_back = unit(sub(ankle, knee))
    kneecap = unit(sub(scale(thigh, sum(a * b for a, b in zip(thigh, shin_back, strict=True))), shin_back))
    if sum(a * a for a in kneecap) < 0.5:
        kneecap = front
    return [(add(lerp(hip, knee, t), scale(kneecap, 0.17)), 0.3) for t in (0.35, 0.6, 0.82)]


def _buttock(f: Figure, side: str) -> list[Blob]:
    axis, right, front = f.pelvis_axes
    sign = _SIDE_SIGN[side]
    return [
        (add(f.joints["pelvis"], scale(right, sign * 0.3), scale(front, -0.36), scale(axis, 0.1)), 0.36),
    ]


def _hamstrings(f: Figure, side: str) -> list[Blob]:
    hip, knee, ankle = (f.joints[f"{side}_{n}"] for n in ("hip", "knee", "ankle"))
    thigh = unit(sub(knee, hip))
    shin = unit(sub(ankle, knee))
    back = unit(sub(shin, scale(thigh, sum(a * b for a, b in zip(thigh, shin, strict=True)))))
    if sum(a * a for a in back) < 0.5:
        back = scale(f.pelvis_axes[2], -1.0)
    return [(add(lerp(hip, knee, t), scale(back, 0.17)), 0.27) for t in (0.3, 0.55, 0.78)]


def _inner_thigh(f: Figure, side: str) -> list[Blob]:
    right = f.pelvis_axes[1]
    sign = _SIDE_SIGN[side]
    hip, knee = f.joints[f"{side}_hip"], f.joints[f"{side}_knee"]
    return [(add(lerp(hip, knee, t), scale(right, -sign * 0.1)), 0.27) for t in (0.15, 0.4, 0.65)]


def _belly(f: Figure) -> list[Blob]:
    _axis, _right, front = f.pelvis_axes
    up_axis, _r, up_front = f.chest_axes
    return [
        (add(lerp(f.joints["pelvis"], f.joints["waist"], 0.6), scale(front, 0.38)), 0.4),
        (add(f.joints["waist"], scale(up_front, 0.36), scale(up_axis, 0.3)), 0.38),
    ]


def _abdominals(f: Figure) -> list[Blob]:
    _axis, _right, front = f.pelvis_axes
    up_axis, _r, up_front = f.chest_axes
    return [
        (add(lerp(f.joints["pelvis"], f.joints["waist"], 0.4), scale(front, 0.26)), 0.34),
        (add(f.joints["waist"], scale(front, 0.28)), 0.36),
        (add(f.joints["waist"], scale(up_front, 0.28), scale(up_axis, 0.45)), 0.34),
    ]


def _lower_back(f: Figure) -> list[Blob]:
    _axis, _right, front = f.pelvis_axes
    return [
        (add(lerp(f.joints["pelvis"], f.joints["waist"], t), scale(front, -0.3)), 0.36) for t in (0.5, 1.0)
    ]


def _flank(f: Figure, side: str) -> list[Blob]:
    _axis, right, _front = f.pelvis_axes
    sign = _SIDE_SIGN[side]
    return [
        (add(f.joints["pelvis"], scale(right, sign * 0.55)), 0.34),
        (add(f.joints["waist"], scale(right, sign * 0.45)), 0.34),
    ]


def _release_spot(f: Figure, side: str) -> list[Blob]:
    """Where the ball presses: a few centimetres out from the navel towards the hip and a
    little lower, with the tenderness that may spread from there towards the groin."""
    _axis, right, front = f.pelvis_axes
    pelvis, waist, sign = f.joints["pelvis"], f.joints["waist"], _SIDE_SIGN[side]
    return [
        (add(lerp(pelvis, waist, 0.7), scale(right, sign * 0.2), scale(front, 0.2)), 0.34),
        (add(lerp(pelvis, waist, 0.4), scale(right, sign * 0.25), scale(front, 0.22)), 0.28),
    ]


_REGIONS: dict[str, Callable[[Figure], list[Blob]]] = {
    "belly": _belly,
    "abdominals": _abdominals,
    "lower_back": _lower_back,
}
for _name, _build in (
    ("hip_front", _hip_front),
    ("thigh_front", _thigh_front),
    ("buttock", _buttock),
    ("hamstrings", _hamstrings),
    ("inner_thigh", _inner_thigh),
    ("flank", _flank),
    ("release_spot", _release_spot),
):
    for _side in SIDES:
        _REGIONS[f"{_side}_{_name}"] = partial(_build, side=_side)
REGION_NAMES: Final = frozenset(_REGIONS)


def region(figure: Figure, name: str) -> list[Blob]:
    """The glowing blobs (centre, radius) that mark one region on a posed figure."""
    return _REGIONS[name](figure)
