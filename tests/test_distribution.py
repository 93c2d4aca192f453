"""Every app on two replicas, from its `train` command: two steps mirrored over two logical devices (in one call,
the app's steps per execution) end with the weights of the same two steps on one device, one step per call.

The checkpoint holds every variable of a run (networks, optimizer slots, EMA copies, CycleGAN's image pools,
batch-norm statistics, step counters), so the comparison covers them all. The global batches are the same on
both sides: a replica sees its half of each, the noise is drawn for the global batch and split.
"""

import json

import keras
import numpy as np
import pytest
from cli_helpers import invoke
from PIL import Image

import ganapps.core.optimizers  # noqa: F401  (subclasses Adam: defined before plain_gradient_steps patches it)

RUN = ["--epochs", 1, "--steps", 2, "--seed", 3]
CGAN = ["cgan", "train", "--latent-dim", 8, "--width", 4, "--batch-size", 8]
CASES = {
    "toy": ["toy", "train", "--dataset", "ring", "--batch-size", 16],
    "dcgan+ema": ["dcgan", "train", "--width", 4, "--latent-dim", 8, "--batch-size", 8, "--ema", 0.9],
    "dcgan+augment+r1": ["dcgan", "train", "--width", 4, "--latent-dim", 8, "--batch-size", 8, "--augment",
                         "color,translation,cutout", "--r1-weight", 1],
    "superres": ["superres", "train", "--data", "{images}", "--blocks", 1, "--filters", 8, "--patch", 8,
                 "--batch-size", 4],
    "cyclegan+pool": ["cyclegan", "train", "--image-size", 32, "--width", 4, "--blocks", 1, "--batch-size", 2,
                      "--scenes", 8, "--pool-size", 2],
    "cgan label": [*CGAN, "--ema", 0.9],
    "cgan metadata acgan": [*CGAN, "--condition", "metadata", "--discriminator", "acgan"],
    "cgan text": [*CGAN, "--condition", "text", "--caption-steps", 5],
    "cgan image+metadata": [*CGAN, "--condition", "image+metadata"],
    "cgan semisup": ["cgan", "semisup", "--labels", 20, "--baseline-epochs", 1, "--batch-size", 8],  # see below
    "nextframe": ["nextframe", "train", "--image-size", 16, "--context", 2, "--width", 4, "--sequences", 8,
                  "--batch-size", 4],
}
# The paper's semi-supervised discriminator adds Gaussian noise inside the network (keras GaussianNoise and
# Dropout layers), which each replica draws for its own half: it trains on two replicas, to other weights.
NOT_EXACT = {"cgan semisup"}


@pytest.fixture
def plain_gradient_steps(monkeypatch):
    """SGD in place of Adam: Adam's first steps move every weight by about the learning rate whatever its
    gradient's size, so a gradient that cancels to round-off noise flips sign between two summation orders and
    hides a real difference among ones of 1e-4; a plain step keeps the comparison at round-off."""
    monkeypatch.setattr(keras.optimizers, "Adam", lambda learning_rate, **_: keras.optimizers.SGD(learning_rate))


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hr")
    rng = np.random.default_rng(0)
    for k in range(3):
        Image.fromarray(rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)).save(folder / f"{k}.png")
    return folder


@pytest.mark.parametrize("name", list(CASES))
def test_two_replicas_match_one_device(name, tmp_path, images, plain_gradient_steps):
    args = [str(images) if a == "{images}" else a for a in CASES[name]]
    weights = {}
    for strategy, flags in (("one", ["--strategy", "default", "--steps-per-execution", 1]),
                            ("two", ["--strategy", "mirrored", "--devices", 2])):
        out = tmp_path / strategy
        invoke(*args, *RUN, *flags, "--out", out)
        weights[strategy] = dict(np.load(out / "checkpoints" / "checkpoint.npz"))
        assert json.loads((out / "config.json").read_text())["replicas"] == {"one": 1, "two": 2}[strategy]
    one, two = weights["one"], weights["two"]
    assert sorted(one) == sorted(two) and int(one["epoch"]) == 1
    if name in NOT_EXACT:
        assert all(np.isfinite(v).all() for v in two.values())
        return
    for key in one:
        np.testing.assert_allclose(two[key], one[key], atol=1e-5, err_msg=f"{name}: {key}")
