"""Choosing where training runs: the one `tf.distribute` strategy resolver, precision and XLA choices."""

from __future__ import annotations

import functools
import json
import os

import keras
import tensorflow as tf

from ganapps.core.config import PRECISIONS, STRATEGIES
from ganapps.core.errors import GanappsError


def split_cpu(devices: int) -> None:
    """Expose the CPU as `devices` logical devices, so multi-replica runs can be tested without GPUs.

    Must run before TensorFlow initialises its devices (before the first op).
    """
    if devices <= 1:
        return
    cpus = tf.config.list_physical_devices("CPU")
    try:
        tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * devices)
    except RuntimeError as error:
        current = len(tf.config.list_logical_devices("CPU"))
        if current != devices:
            raise GanappsError(
                f"--devices {devices}: TensorFlow already started with {current} CPU device(s); "
                "split the CPU before any TensorFlow work"
            ) from error


def _compute_devices() -> list[str]:
    gpus = tf.config.list_logical_devices("GPU")
    if gpus:
        return [d.name for d in gpus]
    return [d.name for d in tf.config.list_logical_devices("CPU")]


def auto_strategy_name() -> str:
    """What `auto` picks: mirrored over several GPUs (or split CPUs), one-device on one GPU, else default."""
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1 or (not gpus and len(tf.config.list_logical_devices("CPU")) > 1):
        return "mirrored"
    if len(gpus) == 1:
        return "one-device"
    return "default"


@functools.cache
def _mirrored(devices: tuple[str, ...]) -> tf.distribute.MirroredStrategy:
    """One MirroredStrategy per device set and process: a second one starts its collective keys where the first
    did, and TensorFlow then matches its all-reduces with the first one's stale ones (a shape-mismatch abort
    when two different models train one after the other in a notebook or a test session)."""
    return tf.distribute.MirroredStrategy(list(devices))


def resolve_strategy(name: str = "auto", devices: int | None = None) -> tf.distribute.Strategy:
    """Build the distribution strategy named by `--strategy`.

    `multi-worker` reads the cluster from `TF_CONFIG`; `tpu` connects to the local or named TPU.
    """
    if name not in STRATEGIES:
        raise GanappsError(f"--strategy {name!r} is not one of: {', '.join(STRATEGIES)}")
    if devices:
        split_cpu(devices)
    if name == "auto":
        name = auto_strategy_name()
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "one-device":
        return tf.distribute.OneDeviceStrategy(_compute_devices()[0])
    if name == "mirrored":
        return _mirrored(tuple(_compute_devices()))
    if name == "multi-worker":
        if "TF_CONFIG" not in os.environ:
            raise GanappsError("--strategy multi-worker needs TF_CONFIG (cluster and task) in the environment")
        try:
            json.loads(os.environ["TF_CONFIG"])
        except json.JSONDecodeError as error:
            raise GanappsError(f"TF_CONFIG is not valid JSON: {error}") from error
        return tf.distribute.MultiWorkerMirroredStrategy()
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=os.environ.get("TPU_NAME", ""))
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.NotFoundError) as error:
        raise GanappsError(f"--strategy tpu: no TPU found ({error}); use --strategy auto") from error
    return tf.distribute.TPUStrategy(resolver)


def resolve_jit(jit: str) -> bool:
    """`auto` turns XLA on only where it pays: on GPUs/TPUs (on CPU it measured slower for a DCGAN step)."""
    if jit not in ("auto", "on", "off"):
        raise GanappsError(f"--jit {jit!r}: choose auto, on or off")
    if jit == "auto":
        return bool(tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("TPU"))
    return jit == "on"


def set_precision(mixed_precision: str) -> bool:
    """Set the Keras global dtype policy; returns whether loss scaling is needed (float16)."""
    if mixed_precision not in PRECISIONS:
        raise GanappsError(f"--mixed-precision {mixed_precision!r}: choose {', '.join(PRECISIONS)}")
    policy = {"off": "float32", "float16": "mixed_float16", "bfloat16": "mixed_bfloat16"}[mixed_precision]
    keras.mixed_precision.set_global_policy(policy)
    return mixed_precision == "float16"
