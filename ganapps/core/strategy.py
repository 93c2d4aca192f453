"""Choosing where training runs: the one `tf.distribute` strategy resolver, precision and XLA choices."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import keras
import tensorflow as tf

from ganapps.core.config import JIT, PRECISIONS, STRATEGIES
from ganapps.core.errors import GanappsError, ParameterError, check_choice


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
            raise ParameterError(
                "devices", f"{devices}: TensorFlow already started with {current} CPU device(s); "
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


@functools.cache
def _multi_worker(tf_config: str) -> tf.distribute.MultiWorkerMirroredStrategy:
    """One MultiWorkerMirroredStrategy per process: TensorFlow configures its collective ops once, at start-up, so
    a second one (or one made after other TensorFlow work) is refused."""
    return tf.distribute.MultiWorkerMirroredStrategy()


def resolve_strategy(name: str = "auto", devices: int | None = None) -> tf.distribute.Strategy:
    """Build the distribution strategy named by `--strategy`.

    `multi-worker` reads the cluster from `TF_CONFIG`; `tpu` connects to the local or named TPU. Resolve it before
    any other TensorFlow work when that work precedes `runs.train` (multi-worker must come first in a process);
    asking again returns the same strategy.
    """
    check_choice("strategy", name, STRATEGIES)
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
            raise ParameterError("strategy", "multi-worker needs TF_CONFIG (cluster and task) in the environment")
        try:
            json.loads(os.environ["TF_CONFIG"])
        except json.JSONDecodeError as error:
            raise GanappsError(f"TF_CONFIG is not valid JSON: {error}") from error
        return _multi_worker(os.environ["TF_CONFIG"])
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=os.environ.get("TPU_NAME", ""))
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.NotFoundError) as error:
        raise ParameterError("strategy", f"tpu: no TPU found ({error}); use auto") from error
    return tf.distribute.TPUStrategy(resolver)


def resolve_jit(jit: str) -> bool:
    """`auto` turns XLA on only where it pays: on GPUs/TPUs (on CPU it measured slower for a DCGAN step)."""
    check_choice("jit", jit, JIT)
    if jit == "auto":
        return bool(tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("TPU"))
    return jit == "on"


def cpu_has_native_bfloat16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX), as /proc/cpuinfo reports it."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(mixed_precision: str) -> str:
    """`auto`: bfloat16 on TPUs, GPUs of compute capability 8 or more and CPUs with native bfloat16; float16 on
    older GPUs; off elsewhere (emulated bfloat16 on a CPU is slower than float32)."""
    check_choice("mixed_precision", mixed_precision, PRECISIONS)
    if mixed_precision != "auto":
        return mixed_precision
    if tf.config.list_logical_devices("TPU"):
        return "bfloat16"
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        capability = tf.config.experimental.get_device_details(gpus[0]).get("compute_capability", (0, 0))
        return "bfloat16" if tuple(capability) >= (8, 0) else "float16"
    return "bfloat16" if cpu_has_native_bfloat16() else "off"


def set_precision(mixed_precision: str) -> bool:
    """Set the Keras global dtype policy (`auto` resolved here); returns whether loss scaling is needed (float16)."""
    chosen = resolve_precision(mixed_precision)
    policy = {"off": "float32", "float16": "mixed_float16", "bfloat16": "mixed_bfloat16"}[chosen]
    keras.mixed_precision.set_global_policy(policy)
    return chosen == "float16"
