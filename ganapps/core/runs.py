"""A training run: options, run directory, strategy, resumable checkpoints, samples, logs, export.

Every app trains through `train(APP, config, options)`, so all of them resume, log and export the same way:

    run_dir/config.json           the app, its config and the options the run was started with
    run_dir/checkpoints/          the last finished epoch (weights, optimizer and RNG state)
    run_dir/samples/epoch_NNNN.*  something to look at after each epoch
    run_dir/logs/                 TensorBoard scalars and sample grids; run_dir/history.csv the scalars as a table
    run_dir/events.log            GAN health warnings
    run_dir/export/NAME/1/        the generator as a SavedModel for TF Serving
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import math
import os
import platform
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from ganapps.core.callbacks import (GanHealth, HistoryLog, QualityMonitor, RunCheckpoint, SampleWriter, chief_writes,
                                    is_chief)
from ganapps.core.app import App
from ganapps.core.config import EXPORT_FORMATS, TrainOptions, check_run_directory, from_dict, model_path, to_json
from ganapps.core.errors import GanappsError, Interrupted, ParameterError, check_choice, interrupted_by_user
from ganapps.core.export import export_generator
from ganapps.core.gan import GAN
from ganapps.core.images import atomic_write_bytes
from ganapps.core.optimizers import make_optimizer
from ganapps.core.strategy import resolve_jit, resolve_precision, resolve_strategy, set_precision


@dataclass
class TrainResult:
    gan: GAN
    config: Any
    run_dir: Path
    history: dict
    export_dir: Path | None  # None on the workers of a multi-worker run other than the chief
    initial_epoch: int
    health: GanHealth
    best: dict | None = None  # with --keep-best: {"epoch", "key", "value", "higher"} of the exported epoch

    @property
    def exported(self) -> str:
        """Where the export went, for a command's last lines: on a worker that is not the chief, who wrote it; with
        `--keep-best`, which epoch it is."""
        where = str(self.export_dir) if self.export_dir else f"{self.run_dir / 'export'} (written by the chief worker)"
        if self.best:
            where += f" (epoch {self.best['epoch']}, the best {self.best['key']}: {self.best['value']:.4g})"
        return where


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
    """Compile with the options' optimizers, regularisers and steps per execution; call inside the strategy
    scope."""
    mixed = keras.mixed_precision.global_policy().name == "mixed_float16"
    def optimizer(lr):
        return make_optimizer(options.optimizer, lr, options.beta1, options.beta2)

    gan.compile(
        g_optimizer=optimizer(learning_rate(options, options.g_lr)),
        d_optimizer=optimizer(learning_rate(options, options.d_lr, options.d_steps, options.d_stop)),
        loss=options.loss,
        d_steps=options.d_steps,
        gp_weight=options.gp_weight,
        r1_weight=options.r1_weight,
        label_smoothing=options.label_smoothing,
        feature_matching=options.feature_matching,
        augment=options.augment,
        mixed_precision=mixed,
        jit_compile=resolve_jit(options.jit),
        **{"steps_per_execution": _steps_per_execution(options), **compile_kwargs},
    )
    return gan


@dataclass(frozen=True)
class RunRecord:
    """A run directory's config.json, read back: the app's config and the training options it was started with."""

    path: Path
    config: Any
    options: TrainOptions
    raw: dict


def read_run(run_dir: str | Path | None, app: App) -> RunRecord | None:
    """A run's config.json; None when `run_dir` is not a run directory (or None: the shipped model), a one-line
    error for another app's run.

    A run written before the `App` spec kept its config under `options.extra`; it is read the same way.
    """
    if run_dir is None:
        return None
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        return None
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise GanappsError(f"{path}: unreadable run configuration ({error})") from None
    if raw.get("app") != app.name:
        raise GanappsError(f"{run_dir}: a {raw.get('app')!r} run, not a {app.name} run")
    options = dict(raw.get("options") or {})
    legacy = options.pop("extra", None)
    values = raw.get("config")
    if values is None and legacy is not None:  # the layout before the App spec
        values = legacy.get(app.name, legacy)
    if values is not None and app.upgrade:
        values = app.upgrade(dict(values))
    try:
        return RunRecord(Path(run_dir), from_dict(app.config, values), from_dict(TrainOptions, options), raw)
    except (TypeError, GanappsError) as error:
        raise GanappsError(f"{run_dir}: this version cannot rebuild the run from its config.json ({error})") from None


def _require_run(run_dir: str | Path, app: App) -> RunRecord:
    record = read_run(run_dir, app)
    if record is None:
        raise GanappsError(f"{run_dir}: not a {app.name} run directory (no config.json)")
    return record


def load(app: App, run_dir: str | Path) -> GAN:
    """A run's GAN rebuilt from its config.json and restored from its last checkpoint."""
    record = _require_run(run_dir, app)
    checkpoint = RunCheckpoint(Path(run_dir) / "checkpoints")
    if not checkpoint.exists():
        raise GanappsError(f"{run_dir}: no checkpoint yet (the run has not finished an epoch)")
    previous = keras.mixed_precision.global_policy()
    set_precision(record.options.mixed_precision)  # the checkpoint holds the loss-scale state of float16 runs
    try:
        gan = app.build(record.config, record.options)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    checkpoint.restore(gan)
    return gan


def open_model(app: App, model: Any = None) -> Any:
    """The app's inference handle for `model`: a handle (returned as is), a run directory (its export, else its
    checkpoint), an exported SavedModel folder, the name of a shipped model, or None for the app's shipped default.
    """
    if isinstance(model, app.handle):
        return model
    if model is None:
        if app.shipped is None:
            raise GanappsError(f"{app.name} ships no model: name a run directory or an exported model")
        model = app.shipped
    path = model_path(model)
    record = read_run(path, app)
    if record is not None:
        export_dir = path / "export" / app.name
        if _holds_saved_model(export_dir):
            return app.handle.from_saved_model(export_dir)
        return app.handle.from_gan(load(app, path), record.config, str(path))
    try:
        return app.handle.from_saved_model(path)
    except GanappsError:
        raise GanappsError(
            f"{path}: neither a {app.name} run directory (no config.json) nor an exported {app.name} model "
            "(no saved_model.pb)"
        ) from None


def export(app: App, run_dir: str | Path, out: str | Path | None = None, version: int = 1,
           format: str = "saved_model") -> Path:
    """Export a run's model from its last checkpoint at `out/version` (TF Serving layout) in `format`
    (`EXPORT_FORMATS`); `out` defaults to the run's `export/NAME` (SavedModel, the folder training writes at its
    end) or `export/NAME-FORMAT`."""
    check_choice("format", format, EXPORT_FORMATS)
    record = _require_run(run_dir, app)
    suffix = "" if format == "saved_model" else f"-{format}"
    folder = Path(out) if out else Path(run_dir) / "export" / f"{app.name}{suffix}"
    return _export(app, load(app, run_dir), record.config, folder, version, format)


def _export(app: App, gan: GAN, config: Any, folder: Path, version: int = 1, format: str = "saved_model") -> Path:
    if app.export is not None:
        return app.export(gan, config, folder, version, format)
    return export_generator(gan.sampling_generator, folder, version, format=format,
                            info={"latent_dim": int(gan.sampling_generator.inputs[0].shape[-1])})


def _holds_saved_model(folder: Path) -> bool:
    """Whether `folder` holds a finished SavedModel: a run killed while exporting leaves only a dot-named staging
    folder there, and its checkpoint is then the model to open."""
    return folder.is_dir() and any(
        not any(part.startswith(".") for part in found.relative_to(folder).parts)
        for found in folder.rglob("saved_model.pb")
    )


def _write_json(path: Path, data: dict) -> None:
    atomic_write_bytes(path, (json.dumps(data, indent=2, default=str) + "\n").encode())


def _steps_per_execution(options: TrainOptions) -> int:
    """`--steps-per-execution`, or auto: the largest divisor of the epoch's steps up to 20 (Keras then runs that
    many steps per call into the graph, so per-step Python and dispatch overhead is paid once per call), under
    every strategy, multi-worker included (`GAN.make_train_function`)."""
    if options.steps_per_execution:
        return math.gcd(options.steps, options.steps_per_execution)
    return math.gcd(options.steps, 20)


@contextlib.contextmanager
def run_lock(run_dir: Path):
    """Hold `RUN/.lock` while this process writes the run, so that a second writer stops with one line naming the
    first. It is an flock: the kernel frees the lock of a killed process, and the next writer takes it over."""
    run_dir.mkdir(parents=True, exist_ok=True)
    handle = open(run_dir / ".lock", "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise GanappsError(f"{run_dir} is being written by {holder}; wait for it or choose another run directory") \
            from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"process {os.getpid()} on {socket.gethostname()}\n")
    handle.flush()
    try:
        yield
    finally:
        handle.seek(0)
        handle.truncate()
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def train(app: App, config: Any = None, options: TrainOptions | None = None,
          callbacks: list[keras.callbacks.Callback] | None = None) -> TrainResult:
    """Train `app` as a resumable run in `options.out` (default: the app's recipe in `runs/NAME`).

    Writes config.json (`{"app", "config", "options", versions}`), a checkpoint per epoch, samples, TensorBoard
    logs and history.csv, and the export; with `options.resume` it continues from the last finished epoch and ends
    with the weights an uninterrupted run would have. One process writes a run at a time (`run_lock`; under
    multi-worker the cluster coordinates its workers); Ctrl-C stops
    with `Interrupted`, the last finished epoch kept.
    """
    config = app.config() if config is None else config
    options = options or app.options()
    if options.eval_every and app.quality is None:
        raise ParameterError("eval_every", f"{app.name} has no quality figure to compute during training")
    check_run_directory(options.out, options.resume)
    strategy = resolve_strategy(options.strategy, options.devices)
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):  # the cluster coordinates its workers
        return _train(app, config, options, callbacks, strategy)
    with run_lock(options.out):
        try:
            return _train(app, config, options, callbacks, strategy)
        except BaseException as error:
            if not interrupted_by_user(error):
                raise
            checkpoint = RunCheckpoint(options.out / "checkpoints")
            kept = checkpoint.saved_epoch() if checkpoint.exists() else 0
            raise Interrupted(
                f"interrupted during epoch {kept + 1} of {options.epochs}; {options.out} keeps epoch {kept}: "
                f"continue with --resume (options.resume)") from None


def _train(app: App, config: Any, options: TrainOptions, callbacks: list | None,
           strategy: tf.distribute.Strategy) -> TrainResult:
    run_dir = options.out
    checkpoint = RunCheckpoint(run_dir / "checkpoints")
    if checkpoint.exists() and not options.resume:
        raise GanappsError(
            f"{run_dir} already holds a run (epoch {checkpoint.saved_epoch()}); resume it (--resume, "
            "options.resume) or choose another run directory"
        )
    if options.resume and checkpoint.exists():
        config = _require_run(run_dir, app).config  # what the run was started with, prepared already
    elif app.prepare is not None:
        config = app.prepare(config)
    if options.eval_every and app.quality.check is not None:
        app.quality.check(config)
    # `auto` is recorded as what it chose here, so a resume on another machine trains in the same precision
    options = dataclasses.replace(options, mixed_precision=resolve_precision(options.mixed_precision))
    loss_scaling = set_precision(options.mixed_precision)
    keras.utils.set_random_seed(options.seed)
    chief = is_chief(strategy)
    if chief:
        run_dir.mkdir(parents=True, exist_ok=True)
        _write_json(run_dir / "config.json", {
            "app": app.name, "config": to_json(config), "options": options.to_json(),
            "strategy": type(strategy).__name__, "replicas": strategy.num_replicas_in_sync,
            "tensorflow": tf.__version__, "keras": keras.__version__, "python": platform.python_version(),
            "loss_scaling": loss_scaling,
        })
    with strategy.scope():
        gan = app.build(config, options)
        initial_epoch = checkpoint.restore(gan) if checkpoint.exists() else 0
    health = GanHealth(gan.loss_family, run_dir)
    checkpoint.health = health
    all_callbacks = [health, checkpoint]
    if chief:  # Keras's TensorBoard first: the quality columns are NaN between evaluations, the monitor logs its own
        all_callbacks.append(keras.callbacks.TensorBoard(str(run_dir / "logs"), update_freq="epoch"))
    export_folder = run_dir / "export" / app.name
    monitor = None
    if options.eval_every:

        def export_best(model):
            with chief_writes(export_folder, strategy) as folder:
                _export(app, model, config, folder)

        monitor = QualityMonitor(app.quality, lambda g: app.quality.compute(g, config, options), options.eval_every,
                                 options.epochs, run_dir / "logs" / "train", run_dir / "best.json",
                                 export_best if options.keep_best else None)
        all_callbacks.append(monitor)
    if chief:
        all_callbacks.append(HistoryLog(run_dir / "history.csv", append=initial_epoch > 0))
    if app.samples is not None:  # every worker draws them (collectives pair up); the chief's are kept
        all_callbacks.append(SampleWriter(run_dir / "samples", lambda g, p: app.samples(g, config, options, p),
                                          summaries=run_dir / "logs" / "train"))
    all_callbacks += list(callbacks or [])
    history = {}
    if initial_epoch < options.epochs:
        data = app.dataset(config, options, initial_epoch * options.steps)
        fit = gan.fit(
            data, epochs=options.epochs, steps_per_epoch=options.steps, initial_epoch=initial_epoch,
            callbacks=all_callbacks, verbose=_verbosity(options.verbose), shuffle=False,
        )
        history = fit.history
    if health.failure:
        raise GanappsError(health.failure)
    if monitor is not None and monitor.export is not None and monitor.best is not None:
        exported = export_folder  # the best epoch's, exported when it was reached
    else:
        with chief_writes(export_folder, strategy) as folder:
            exported = _export(app, gan, config, folder)
    export_dir = exported if chief else None
    return TrainResult(gan, config, run_dir, history, export_dir, initial_epoch, health,
                       None if monitor is None else monitor.best)


def _verbosity(verbose: int | str) -> int:
    """`auto`: Keras's progress bar on a terminal, one line per epoch otherwise (no control codes in a log)."""
    if verbose != "auto":
        return int(verbose)
    return 1 if sys.stdout.isatty() else 2


def resume(app: App, run_dir: str | Path, epochs: int | None = None) -> TrainResult:
    """Continue a run from its last finished epoch with the options it was started with (or more `epochs`)."""
    record = _require_run(run_dir, app)
    options = dataclasses.replace(record.options, out=Path(run_dir), resume=True,
                                  **({"epochs": epochs} if epochs else {}))
    return train(app, record.config, options)
