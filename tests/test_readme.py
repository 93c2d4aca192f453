"""README's documented commands, run as written with tiny step counts appended, so none breaks unnoticed.

Every `ganapps ...` line of README.md's fenced bash blocks runs in order in one scratch directory (beside a link to
../shared, as the README assumes), through the console entry point in a fresh process; the inputs the README
names (photo.jpg, clip.gif, ...) are made first. Lines that need the network or a cluster are listed with the
reason; nothing else is skipped.
"""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, SHARED_DATA
from PIL import Image

pytestmark = pytest.mark.slow

NEEDS_THE_NETWORK_OR_A_CLUSTER = {
    "photos2monet": "downloads the tfds cycle_gan set",
    "--content vgg": "downloads the VGG19 ImageNet weights (offline: --vgg-weights or --content pixel, tested apart)",
    "multi-worker": "needs a TF_CONFIG cluster (tests/test_multiworker.py runs one on 127.0.0.1)",
}
TRAINING = ("train", "benchmark", "semisup")
# Appended to what a line asks (a later flag wins): the fewest steps that still run every part of the command.
TINY = {"train": ["--epochs", "1", "--steps", "2"], "benchmark": ["--epochs", "1", "--steps", "2", "--runs", "1"],
        "semisup": ["--epochs", "1", "--steps", "2", "--baseline-epochs", "1"]}
TINY_PER_APP = {("cgan", "train"): ["--caption-steps", "5"], ("dcgan", "evaluate"): ["--num", "20"],
                ("cgan", "evaluate"): ["--num", "20"], ("dcgan", "invert"): ["--steps", "3", "--restarts", "1"],
                ("nextframe", "train"): ["--sequences", "16"], ("nextframe", "evaluate"): ["--sequences", "8"],
                ("toy", "benchmark"): ["--dataset", "ring"]}


def documented_commands() -> list[list[str]]:
    text = (REPO / "README.md").read_text()
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            line = line.split(" #")[0].strip()
            if line.startswith("ganapps "):
                lines.append(line)
    return lines


def make_inputs(folder: Path) -> None:
    rng = np.random.default_rng(0)
    picture = lambda h, w: Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))  # noqa: E731
    picture(40, 48).save(folder / "photo.jpg")
    picture(40, 48).save(folder / "photo.png")
    for name in ("photos", "horses", "zebras"):
        (folder / name).mkdir()
        for k in range(4):
            picture(36, 40).save(folder / name / f"{k}.png")
    picture(32, 32).convert("L").save(folder / "target.png")
    picture(32, 32).convert("L").save(folder / "seven.png")
    picture(64, 64).save(folder / "scene.png")
    frames = [picture(64, 64).convert("L") for _ in range(12)]  # nextframe: 10 context frames and more
    frames[0].save(folder / "clip.gif", save_all=True, append_images=frames[1:], duration=100)


def test_every_documented_command_runs(tmp_path):
    if not SHARED_DATA.exists():
        pytest.skip("../shared/data is not beside the repository")
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "shared").symlink_to(SHARED_DATA.parent)
    make_inputs(work)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "XDG_CACHE_HOME": str(tmp_path / "cache")}
    ran, skipped = [], []
    for line in documented_commands():
        if line in ran:  # the same command shown again in another section
            continue
        reason = next((why for key, why in NEEDS_THE_NETWORK_OR_A_CLUSTER.items() if key in line), None)
        if reason:
            skipped.append((line, reason))
            continue
        args = shlex.split(line)[1:]
        app, verb = args[0], args[1] if len(args) > 1 else ""
        args += TINY.get(verb, []) + TINY_PER_APP.get((app, verb), [])
        done = subprocess.run([sys.executable, "-m", "ganapps.cli", *args], cwd=work, env=env, capture_output=True,
                              text=True, timeout=900)
        assert done.returncode == 0, f"{line}\n{done.stderr[-3000:]}"
        assert "Traceback" not in done.stderr, f"{line}\n{done.stderr[-3000:]}"
        ran.append(line)
    assert len(ran) >= 35 and len(skipped) <= 5, skipped
