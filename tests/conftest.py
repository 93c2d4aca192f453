"""Test set-up: quiet TensorFlow, two logical CPU devices (for replica tests), small shared helpers."""

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from ganapps.core.strategy import split_cpu  # noqa: E402

split_cpu(2)

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def run_cli(*args, env=None, timeout=600):
    """Run the `ganapps` console entry point in a fresh process; returns the CompletedProcess."""
    import subprocess

    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    return subprocess.run([sys.executable, "-m", "ganapps.cli", *map(str, args)], capture_output=True, text=True,
                          env=full_env, timeout=timeout)


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip("../shared/data is not beside the repository")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _float32_policy():
    import keras

    keras.mixed_precision.set_global_policy("float32")
    yield
    keras.mixed_precision.set_global_policy("float32")


assert len(tf.config.list_logical_devices("CPU")) == 2
