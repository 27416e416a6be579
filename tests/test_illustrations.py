"""Exercise pictures: every exercise has one, it draws as a clear PNG that shows a
movement and where to feel it, and validation names an exercise without a picture or
a picture whose data is impossible."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from PIL import Image, ImageChops

from bot.cli import main
from bot.core.app import build_core
from bot.illustrations import IllustrationError, Illustrations
from tests.support import ROOT, content_problems, copy_content_tree, edit_yaml

EXERCISES = sorted(yaml.safe_load((ROOT / "content/exercises.yaml").read_text(encoding="utf-8"))["exercises"])
PLAIN = ((255, 255, 255), (0xF2, 0xF5, 0xF8), (0xE3, 0xE8, 0xED))  # background, panel, floor


@pytest.fixture(scope="module")
def drawn(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Every picture, written by `psoasbot render-pictures` as a person would."""
    out = tmp_path_factory.mktemp("pictures")
    assert main(["render-pictures", "--output", str(out)]) == 0
    return {path.stem: path.read_bytes() for path in out.glob("*.png")}


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    return copy_content_tree(tmp_path)


edit = edit_yaml


def problems(tree: Path) -> str:
    return "\n".join(content_problems(tree))


def share(mask: Image.Image) -> float:
    """The fraction of a 0/255 mask that is set."""
    return mask.histogram()[255] / (mask.width * mask.height)


def differs(image: Image.Image, other: Image.Image, limit: int) -> Image.Image:
    """255 where some channel of the two pictures differs by more than `limit`."""
    red, green, blue = ImageChops.difference(image, other).split()
    return ImageChops.lighter(ImageChops.lighter(red, green), blue).point(lambda v: 255 if v > limit else 0)


def glow(image: Image.Image) -> Image.Image:
    """255 where the picture shows the warm orange that marks where to feel an exercise
    (alone, or laid over the figure); no other colour in it (blue figure, wood, sand
    cushion, purple ball) is this red."""
    red, green, blue = image.split()
    reddish = red.point(lambda v: 255 if v >= 170 else 0)
    over_green = ImageChops.subtract(red, green).point(lambda v: 255 if v >= 60 else 0)
    over_blue = ImageChops.subtract(red, blue).point(lambda v: 255 if v >= 90 else 0)
    return ImageChops.darker(ImageChops.darker(reddish, over_green), over_blue)


def panels(image: Image.Image) -> tuple[Image.Image, Image.Image]:
    """The two panels: side by side in a wide picture, one above the other in a square one."""
    width, height = image.size
    if width > height:
        return image.crop((0, 0, width // 2, height)), image.crop((width // 2, 0, width, height))
    return image.crop((0, 0, width, height // 2)), image.crop((0, height // 2, width, height))


def test_render_pictures_draws_one_for_every_exercise(drawn):
    assert sorted(drawn) == EXERCISES


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_each_picture_is_a_clear_png_for_a_phone(drawn, exercise_id):
    data = drawn[exercise_id]
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    image.load()  # decodes every row: a truncated or corrupt file fails here
    assert image.size in ((1200, 600), (1000, 1000))
    assert 10_000 < len(data) < 120_000, f"{len(data)} bytes"

    image = image.convert("RGB")
    plain = [differs(image, Image.new("RGB", image.size, colour), 12) for colour in PLAIN]
    drawn_on = ImageChops.darker(ImageChops.darker(plain[0], plain[1]), plain[2])
    assert share(drawn_on) > 0.08, "the picture is nearly empty"
    assert share(glow(image)) > 0.001, "no region is marked to feel"
    start, end = panels(image)
    assert share(differs(start, end, 40)) > 0.02, "the start and end panels look the same"


def test_a_picture_is_drawn_once_per_process_and_kept_on_disk(tree, tmp_path):
    cache = tmp_path / "cache"
    first = Illustrations(tree / "content", cache_dir=cache)
    picture = first.png("plank")
    assert first.png("plank") is picture  # the second ask is served from memory
    stored = cache / f"plank-{first.key('plank')}.png"
    assert stored.read_bytes() == picture

    # A restart finds the picture on disk instead of drawing it again ...
    stored.write_bytes(b"kept from the last run")
    assert Illustrations(tree / "content", cache_dir=cache).png("plank") == b"kept from the last run"

    # ... until the picture's data changes, which changes its key.
    edit(tree / "content/illustrations/plank.yaml", lambda d: d["panels"][1]["pose"].__setitem__("head", 0))
    later = Illustrations(tree / "content", cache_dir=cache)
    assert later.key("plank") != first.key("plank")
    assert later.key("dead_bug") == first.key("dead_bug")
    redrawn = later.png("plank")
    assert redrawn.startswith(b"\x89PNG") and redrawn != picture
    assert (cache / f"plank-{later.key('plank')}.png").read_bytes() == redrawn


def test_a_cache_that_cannot_be_written_only_means_drawing_again(tree, tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder should be", encoding="utf-8")
    picture = Illustrations(tree / "content", cache_dir=blocked / "pictures").png("dead_bug")
    assert picture.startswith(b"\x89PNG")


def test_the_caption_says_what_the_numbers_and_the_glow_mean(tree):
    messages = build_core(tree / "content", tree / "flows").content.messages
    caption = Illustrations(tree / "content").caption("glute_bridge", messages)
    assert caption.startswith(messages.text("exercise.glute_bridge.name"))
    assert "1" in caption and "2" in caption and "glow" in caption

    edit(tree / "content/illustrations/glute_bridge.yaml", lambda d: d.__setitem__("panels", d["panels"][1:]))
    single = Illustrations(tree / "content").caption("glute_bridge", messages)
    assert "2" not in single and "glow" in single


def test_validate_names_an_exercise_added_without_a_picture(tree):
    def add_exercise(d):
        d["exercises"]["wall_sit"] = {
            "kind": "strength",
            "dose": {"hold_seconds": 20, "repetitions": 3, "sides": "none"},
            "frequency": "daily",
            "tags": ["standing"],
        }

    def add_words(d):
        d["exercise"]["wall_sit"] = {
            "name": "Wall sit",
            "steps": ["Lean your back on a wall and slide down a little."],
            "feel": "Work in the fronts of your thighs.",
            "stop": "Stop if your knees hurt.",
        }

    edit(tree / "content/exercises.yaml", add_exercise)
    for messages in (tree / "content/messages").glob("*.yaml"):  # every language names it
        if not messages.name.endswith(".terminal.yaml"):
            edit(messages, add_words)
    done = subprocess.run(
        [sys.executable, "-m", "bot", "validate"],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "PSOASBOT_CONTENT_DIR": str(tree / "content"),
            "PSOASBOT_FLOWS_DIR": str(tree / "flows"),
        },
        cwd=tree,
        timeout=60,
    )
    assert done.returncode == 1
    assert (
        "content/exercises.yaml: exercises.wall_sit: has no picture: add illustrations/wall_sit.yaml"
        in done.stderr
    )
    assert done.stderr.count("\n  ") == 1, done.stderr  # that is the only problem


def test_validate_names_the_key_of_a_knee_drawn_bending_backwards(tree):
    edit(
        tree / "content/illustrations/plank.yaml",
        lambda d: d["panels"][1]["pose"]["right"].__setitem__("shin", 200),
    )
    found = problems(tree)
    assert "content/illustrations/plank.yaml: panels[1].pose.right: the knee bends -15°" in found


def test_validate_names_unknown_regions_joints_and_missing_highlights(tree):
    edit(
        tree / "content/illustrations/glute_bridge.yaml",
        lambda d: d["panels"][1].__setitem__("highlight", ["right_elbow_glow"]),
    )
    edit(
        tree / "content/illustrations/dead_bug.yaml",
        lambda d: d["panels"][1]["arcs"][0]["centre"].__setitem__("at", "left_wing"),
    )
    edit(tree / "content/illustrations/plank.yaml", lambda d: d["panels"][1].pop("highlight"))
    found = problems(tree)
    assert "content/illustrations/glute_bridge.yaml: panels[1].highlight" in found
    assert "unknown region 'right_elbow_glow'" in found
    assert "content/illustrations/dead_bug.yaml: panels[1].arcs[0].centre" in found
    assert "unknown joint 'left_wing'" in found
    assert (
        "content/illustrations/plank.yaml: panels: no panel marks where the exercise should be felt" in found
    )


def test_validate_names_a_picture_for_no_exercise(tree):
    shutil.copy(tree / "content/illustrations/plank.yaml", tree / "content/illustrations/side_plank.yaml")
    assert "content/illustrations/side_plank.yaml: no exercise 'side_plank' in exercises.yaml" in problems(
        tree
    )


def test_asking_for_a_broken_picture_raises_with_the_file_named(tree):
    (tree / "content/illustrations/plank.yaml").write_text("panels: [", encoding="utf-8")
    with pytest.raises(IllustrationError) as caught:
        Illustrations(tree / "content").png("plank")
    assert caught.value.path.name == "plank.yaml" and "not valid YAML" in str(caught.value)


def test_start_up_checks_the_pictures_without_drawing_or_loading_pillow():
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from bot.core.app import build_core\n"
        f"build_core(Path({str(ROOT / 'content')!r}), Path({str(ROOT / 'flows')!r}))\n"
        "print('PIL' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
