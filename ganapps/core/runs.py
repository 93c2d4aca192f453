"""A training run: options, run directory, strategy, resumable checkpoints, samples, logs, export.

Every app's `train` goes through `train_gan`, so all of them resume, log and export the same way:

    run_dir/config.json           the options the run was started with
    run_dir/checkpoints/          the last finished epoch (weights, optimizer and RNG state)
    run_dir/samples/epoch_NNNN.*  something to look at after each epoch
    run_dir/logs/                 TensorBoard scalars; run_dir/history.csv the same as a table
    run_dir/events.log            GAN health warnings
    run_dir/export/NAME/1/        the generator as a SavedModel for TF Serving
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import keras
import tensorflow as tf

from ganapps.core.callbacks import GanHealth, RunCheckpoint, SampleWriter, is_chief
from ganapps.core.config import TrainOptions
from ganapps.core.errors import GanappsError
from ganapps.core.export import export_generator
from ganapps.core.gan import GAN
from ganapps.core.images import atomic_write_bytes
from ganapps.core.strategy import resolve_jit, resolve_strategy, set_precision


@dataclass
class TrainResult:
    gan: GAN
    run_dir: Path
    history: dict
    export_dir: Path | None
    initial_epoch: int
    health: GanHealth


@keras.saving.register_keras_serializable("ganapps")
class LinearDecayAfter(keras.optimizers.schedules.LearningRateSchedule):
    """Constant, then linearly to 0 over the last part of training (CycleGAN's schedule)."""

    def __init__(self, learning_rate: float, total_steps: int, decay_start: float):
        self.learning_rate = learning_rate
        self.total_steps = total_steps
        self.decay_start = decay_start

    def __call__(self, step):
        decay_steps = max(self.total_steps * (1.0 - self.decay_start), 1.0)
        remaining = (self.total_steps - tf.cast(step, "float32")) / decay_steps
        return self.learning_rate * tf.clip_by_value(remaining, 0.0, 1.0)

    def get_config(self) -> dict:
        return {"learning_rate": self.learning_rate, "total_steps": self.total_steps,
                "decay_start": self.decay_start}


def learning_rate(options: TrainOptions, base: float, updates_per_step: int = 1, stop: float = 1.0):
    """`base`, or its `--lr-decay-start` schedule over the optimizer's own update count, ending at `stop`."""
    if options.lr_decay_start >= 1.0 and stop >= 1.0:
        return base
    total = max(round(options.epochs * options.steps * updates_per_step * stop), 1)
    return LinearDecayAfter(base, total, options.lr_decay_start)


def compile_gan(gan: GAN, options: TrainOptions, **compile_kwargs) -> GAN:
    """Compile with the options' optimizers and regularisers; call inside the strategy scope."""
    mixed = keras.mixed_precision.global_policy().name == "mixed_float16"
    adam = lambda lr: keras.optimizers.Adam(lr, beta_1=options.beta1, beta_2=options.beta2)  # noqa: E731
    gan.compile(
        g_optimizer=adam(learning_rate(options, options.g_lr)),
        d_optimizer=adam(learning_rate(options, options.d_lr, options.d_steps, options.d_stop)),
        loss=options.loss,
        d_steps=options.d_steps,
        gp_weight=options.gp_weight,
        r1_weight=options.r1_weight,
        label_smoothing=options.label_smoothing,
        feature_matching=options.feature_matching,
        mixed_precision=mixed,
        jit_compile=resolve_jit(options.jit),
        **compile_kwargs,
    )
    return gan


def read_run_config(run_dir: str | Path, app: str) -> dict | None:
    """A run's config.json; None when `run_dir` is not a run directory, a one-line error for another app's run."""
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        return None
    config = json.loads(path.read_text())
    if config.get("app") != app:
        raise GanappsError(f"{run_dir}: a {config.get('app')!r} run, not a {app} run")
    return config


def load_run(run_dir: str | Path, app: str, build: Callable[[TrainOptions], GAN]) -> GAN:
    """A run's GAN rebuilt by `build` from its config.json and restored from its last checkpoint."""
    config = read_run_config(run_dir, app)
    if config is None:
        raise GanappsError(f"{run_dir}: not a {app} run directory (no config.json)")
    checkpoint = RunCheckpoint(Path(run_dir) / "checkpoints")
    if not checkpoint.exists():
        raise GanappsError(f"{run_dir}: no checkpoint yet (the run has not finished an epoch)")
    options = TrainOptions(**config["options"])
    previous = keras.mixed_precision.global_policy()
    set_precision(options.mixed_precision)  # the checkpoint holds the loss-scale state of float16 runs
    try:
        gan = build(options)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    checkpoint.restore(gan)
    return gan


def open_model(path: str | Path, app: str, build: Callable[[TrainOptions], GAN], kind, what: str = "model"):
    """`kind` (a class with `from_saved_model(path)` and `from_keras(model, name)`) for a run directory (its
    export, else its checkpoint) or an exported SavedModel folder; one-line errors for anything else."""
    path = Path(path)
    if not path.exists():
        raise GanappsError(f"{path}: no such run directory or SavedModel")
    if read_run_config(path, app) is not None:
        export = path / "export" / app
        if _holds_saved_model(export):
            return kind.from_saved_model(export)
        return kind.from_keras(load_run(path, app, build).sampling_generator, str(path))
    try:
        return kind.from_saved_model(path)
    except GanappsError:
        raise GanappsError(
            f"{path}: neither a {app} run directory (no config.json) nor an exported {what} (no saved_model.pb)"
        ) from None


def _holds_saved_model(folder: Path) -> bool:
    """Whether `folder` holds a finished SavedModel: a run killed while exporting leaves only a dot-named staging
    folder there, and its checkpoint is then the model to open."""
    return folder.is_dir() and any(
        not any(part.startswith(".") for part in found.relative_to(folder).parts)
        for found in folder.rglob("saved_model.pb")
    )


def _write_json(path: Path, data: dict) -> None:
    atomic_write_bytes(path, (json.dumps(data, indent=2, default=str) + "\n").encode())


def train_gan(
    app: str,
    options: TrainOptions,
    build: Callable[[TrainOptions], GAN],
    dataset: Callable[[int], tf.data.Dataset],
    write_samples: Callable[[GAN, Path], None] | None = None,
    export: Callable[[GAN, Path], Path] | None = None,
    callbacks: list[keras.callbacks.Callback] | None = None,
) -> TrainResult:
    """Train a GAN as a resumable run in `options.out`.

    Args:
        build: makes the compiled GAN (called inside the strategy scope; use `compile_gan`).
        dataset: returns the global-batch dataset starting at a given step (so a resume skips what was seen).
        write_samples: saves a picture of the current model to a path (grid, scatter plot ...).
        export: writes the final SavedModel(s) under a folder and returns it; by default the sampling
            generator goes to `export/<app>/1`.
    """
    run_dir = options.out
    checkpoint = RunCheckpoint(run_dir / "checkpoints")
    if checkpoint.exists() and not options.resume:
        raise GanappsError(
            f"{run_dir} already holds a run (epoch {checkpoint.saved_epoch()}); pass --resume to continue it "
            "or choose another --out"
        )
    loss_scaling = set_precision(options.mixed_precision)
    strategy = resolve_strategy(options.strategy, options.devices)
    keras.utils.set_random_seed(options.seed)
    chief = is_chief()
    if chief:
        run_dir.mkdir(parents=True, exist_ok=True)
        _write_json(run_dir / "config.json", {
            "app": app, "options": options.to_json(), "strategy": type(strategy).__name__,
            "replicas": strategy.num_replicas_in_sync, "tensorflow": tf.__version__,
            "keras": keras.__version__, "python": platform.python_version(), "loss_scaling": loss_scaling,
        })
    with strategy.scope():
        gan = build(options)
        initial_epoch = checkpoint.restore(gan) if checkpoint.exists() else 0
    health = GanHealth(gan.loss_family, run_dir)
    checkpoint.health = health
    all_callbacks = [health, checkpoint]
    if chief:
        all_callbacks += [
            keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=initial_epoch > 0),
            keras.callbacks.TensorBoard(str(run_dir / "logs"), update_freq="epoch"),
        ]
        if write_samples is not None:
            all_callbacks.append(SampleWriter(run_dir / "samples", write_samples))
    all_callbacks += list(callbacks or [])
    history = {}
    if initial_epoch < options.epochs:
        data = dataset(initial_epoch * options.steps)
        fit = gan.fit(
            data, epochs=options.epochs, steps_per_epoch=options.steps, initial_epoch=initial_epoch,
            callbacks=all_callbacks, verbose=options.verbose, shuffle=False,
        )
        history = fit.history
    if health.failure:
        raise GanappsError(health.failure)
    export_dir = None
    if chief:
        export_dir = export(gan, run_dir / "export") if export else export_generator(
            gan.sampling_generator, run_dir / "export" / app
        )
    return TrainResult(gan, run_dir, history, export_dir, initial_epoch, health)
