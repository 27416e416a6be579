"""Exercise pictures: a pose per panel described as data, drawn by a small renderer.

Each exercise has `content/illustrations/<exercise_id>.yaml` (see `scene.py` for the
format): one or two panels (start and end position) that pose one figure with joint
angles, place props, mark where the exercise should be felt with a warm glow and show
the movement with arrows. `library.Illustrations` turns them into PNG bytes on demand;
`draw.py` draws them with Pillow. Importing this package does not import Pillow.
"""

from bot.illustrations.library import (
    FOLDER,
    ILLUSTRATION_MESSAGE_KEYS,
    Illustrations,
    illustration_problems,
    picture_path,
)
from bot.illustrations.scene import IllustrationError

__all__ = [
    "FOLDER",
    "ILLUSTRATION_MESSAGE_KEYS",
    "IllustrationError",
    "Illustrations",
    "illustration_problems",
    "picture_path",
]
