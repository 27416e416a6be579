"""The exercise pictures of one content folder: checked at start-up, drawn on demand.

Start-up only reads and checks the small YAML files (about a millisecond each); Pillow
is imported and a picture drawn the first time someone asks for it. Each picture is
then kept for the life of the process and, given a cache folder, on disk under a name
that holds a hash of its data and of the renderer, so a restart reuses it and any edit
to either draws it afresh.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from bot.core.messages import Messages
from bot.illustrations.scene import IllustrationError, Scene, load_scene, parse_scene

FOLDER: Final = "illustrations"  # under the content folder: <exercise_id>.yaml
# The caption that goes with a picture says what the numbers and the glow mean.
ILLUSTRATION_MESSAGE_KEYS: Final = (
    "illustration.caption.start_end",
    "illustration.caption.one_position",
    "illustration.legend.start_end",
    "illustration.legend.one_position",
)
_RENDERER_FILES: Final = ("body.py", "draw.py", "geometry.py", "props.py", "scene.py")


def picture_path(content_root: Path, exercise_id: str) -> Path:
    return content_root / FOLDER / f"{exercise_id}.yaml"


def illustration_problems(content_root: Path, exercise_ids: Iterable[str]) -> list[tuple[Path, str, str]]:
    """Every picture problem as (file, key, problem): an exercise with no picture file,
    a picture file that is invalid, a picture file for no exercise."""
    problems: list[tuple[Path, str, str]] = []
    known = set(exercise_ids)
    for exercise_id in sorted(known):
        path = picture_path(content_root, exercise_id)
        if not path.is_file():
            problems.append(
                (
                    content_root / "exercises.yaml",
                    f"exercises.{exercise_id}",
                    f"has no picture: add {FOLDER}/{exercise_id}.yaml",
                )
            )
            continue
        try:
            load_scene(path)
        except IllustrationError as error:
            problems.extend((path, key, problem) for key, problem in error.problems)
    folder = content_root / FOLDER
    if folder.is_dir():
        for path in sorted(folder.glob("*.yaml")):
            if path.stem not in known:
                problems.append((path, "", f"no exercise {path.stem!r} in exercises.yaml"))
    return problems


class Illustrations:
    """The pictures of the exercises in `content_root`, as PNG bytes, each drawn once.

    Each picture file is read once per process: what `key` describes is what `png` draws.
    """

    def __init__(self, content_root: Path, cache_dir: Path | None = None) -> None:
        self.content_root = content_root
        self.cache_dir = cache_dir
        self._sources: dict[str, tuple[str, str]] = {}  # exercise id -> (file text, key)
        self._pictures: dict[str, bytes] = {}
        self._panels: dict[str, int] = {}
        self._lock = threading.Lock()
        self._renderer_hash: str | None = None

    def key(self, exercise_id: str) -> str:
        """A short hash of the picture's data and of the renderer's code: it changes whenever
        the picture would, so a copy stored under it (on disk, or an uploaded file's id) is
        never mistaken for a newer picture. Raises IllustrationError if the file is missing."""
        return self._source(exercise_id)[1]

    def png(self, exercise_id: str) -> bytes:
        """The picture of one exercise (1200 x 600 or 1000 x 1000 PNG).

        Drawing one takes 0.1-0.2 s of CPU, so an asyncio front should call this through
        `asyncio.to_thread`; it is safe from several threads at once (two threads asking for
        the same new picture may both draw it, and get the same bytes).
        Raises IllustrationError if the exercise has no valid picture.
        """
        with self._lock:
            cached = self._pictures.get(exercise_id)
        if cached is not None:
            return cached
        text, key = self._source(exercise_id)
        stored = self.cache_dir / f"{exercise_id}-{key}.png" if self.cache_dir is not None else None
        picture = stored.read_bytes() if stored is not None and stored.is_file() else None
        if picture is None:
            from bot.illustrations.draw import render_scene  # Pillow loads on the first picture

            picture = render_scene(parse_scene(text, picture_path(self.content_root, exercise_id)))
            if stored is not None:
                _write_quietly(stored, picture)
        with self._lock:
            return self._pictures.setdefault(exercise_id, picture)

    def caption(self, exercise_id: str, messages: Messages) -> str:
        """The words to send with the picture: the exercise's name and what the numbered
        panels and the glow mean."""
        key = "illustration.caption." + self._layout(exercise_id)
        return messages.text(key, name=messages.text(f"exercise.{exercise_id}.name"))

    def legend(self, exercise_id: str, messages: Messages) -> str:
        """What the numbered panels and the glow mean, without the name: for a picture whose
        caption already names the exercise."""
        return messages.text("illustration.legend." + self._layout(exercise_id))

    def file(self, exercise_id: str) -> Path:
        """The picture as a file in the cache folder (written now if it is not there yet), for a
        front that shows pictures by path. Raises OSError when it cannot be written, and
        ValueError when this instance has no cache folder."""
        if self.cache_dir is None:
            raise ValueError("pictures as files need a cache folder")
        picture = self.png(exercise_id)
        path = self.cache_dir / f"{exercise_id}-{self.key(exercise_id)}.png"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(picture)
        return path

    def _layout(self, exercise_id: str) -> str:
        panels = self._panels.get(exercise_id)
        if panels is None:
            panels = len(self.scene(exercise_id).panels)
            self._panels[exercise_id] = panels
        return "start_end" if panels > 1 else "one_position"

    def scene(self, exercise_id: str) -> Scene:
        """The checked picture data of one exercise."""
        text, _key = self._source(exercise_id)
        return parse_scene(text, picture_path(self.content_root, exercise_id))

    def _source(self, exercise_id: str) -> tuple[str, str]:
        with self._lock:
            known = self._sources.get(exercise_id)
        if known is not None:
            return known
        path = picture_path(self.content_root, exercise_id)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise IllustrationError(path, [("", f"cannot be read: {error.strerror}")]) from None
        key = hashlib.sha256((self._renderer() + text).encode("utf-8")).hexdigest()[:16]
        with self._lock:
            return self._sources.setdefault(exercise_id, (text, key))

    def _renderer(self) -> str:
        if self._renderer_hash is None:
            here = Path(__file__).parent
            renderer = hashlib.sha256()
            for name in _RENDERER_FILES:
                renderer.update((here / name).read_bytes())
            self._renderer_hash = renderer.hexdigest()
        return self._renderer_hash


def _write_quietly(path: Path, data: bytes) -> None:
    """Keep a drawn picture for the next start; a cache that cannot be written (full or
    read-only disk) only means drawing it again, so it never fails the caller."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".picture-", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError:
        return
