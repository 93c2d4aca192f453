"""Training callbacks shared by every app: crash-safe checkpoints, samples per epoch, GAN health."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import sys
import tempfile
from pathlib import Path
from typing import Callable, Iterator

import keras
import numpy as np
from PIL import Image

from ganapps.core.images import atomic_write_bytes
from ganapps.core.summaries import EventWriter

log = logging.getLogger("ganapps")

SIGMOID_FAMILIES = ("minimax", "non-saturating")


def is_chief(strategy) -> bool:
    """Whether this process writes files under `strategy`: always, except on non-chief workers of a multi-worker
    run. Pass the model's strategy: outside its scope (where callbacks run) TensorFlow reports the default one."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


@contextlib.contextmanager
def chief_writes(path: Path, strategy) -> Iterator[Path]:
    """Where this worker writes `path`: `path` itself on the chief, a scratch copy removed afterwards elsewhere.

    Every worker must do the same TensorFlow work (sampling and export may run collective ops, which pair up
    across workers), while only the chief's files land in the run.
    """
    if is_chief(strategy):
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="ganapps-worker-") as scratch:
        yield Path(scratch) / path.name


class RunCheckpoint(keras.callbacks.Callback):
    """Saves every variable of the GAN and both optimizers at each epoch end, atomically.

    One `.npz` file holds the completed epoch and the variables in model order, so a run killed at any
    moment resumes from the last finished epoch. Non-finite weights are never written: a NaN run keeps
    its last good checkpoint.
    """

    def __init__(self, directory: str | Path, health: "GanHealth | None" = None):
        super().__init__()
        self.path = Path(directory) / "checkpoint.npz"
        self.health = health

    @staticmethod
    def state_variables(gan) -> list:
        return list(gan.weights) + list(gan.g_optimizer.variables) + list(gan.d_optimizer.variables)

    def exists(self) -> bool:
        return self.path.exists()

    def saved_epoch(self) -> int:
        with np.load(self.path) as data:
            return int(data["epoch"])

    def restore(self, gan) -> int:
        """Load the saved state into `gan` (inside the strategy scope); returns the epochs completed."""
        from ganapps.core.errors import GanappsError

        variables = self.state_variables(gan)
        with np.load(self.path) as data:
            count = int(data["count"])
            if count != len(variables):
                raise GanappsError(
                    f"{self.path}: checkpoint holds {count} variables, this model has {len(variables)}; "
                    "was it trained with other options? Resume with the same options or choose a new --out"
                )
            for k, variable in enumerate(variables):
                value = data[f"v{k}"]
                if tuple(value.shape) != tuple(variable.shape):
                    raise GanappsError(
                        f"{self.path}: variable {variable.path} has shape {value.shape} in the checkpoint, "
                        f"{tuple(variable.shape)} in the model; resume with the same options"
                    )
                variable.assign(value)
            return int(data["epoch"])

    def on_epoch_end(self, epoch, logs=None):
        # An epoch cut short by a failure is not a finished epoch: keep the last good checkpoint.
        if self.health is not None and self.health.failure:
            return
        arrays = {f"v{k}": np.asarray(v.numpy()) for k, v in enumerate(self.state_variables(self.model))}
        if not is_chief(self.model.distribute_strategy):  # read on every worker, as reads may pair up across them
            return
        if not all(np.all(np.isfinite(a)) for a in arrays.values() if a.dtype.kind == "f"):
            log.warning("weights are not finite at epoch %d: checkpoint not overwritten", epoch + 1)
            return
        buffer = io.BytesIO()
        np.savez(buffer, epoch=epoch + 1, count=len(arrays), **arrays)
        atomic_write_bytes(self.path, buffer.getvalue())


class SampleWriter(keras.callbacks.Callback):
    """Calls `write(model, path)` after each epoch to save something to look at; a PNG also goes to TensorBoard
    as the image `samples` at step EPOCH in `summaries` (the run's `logs/train`, beside the curves)."""

    def __init__(self, directory: str | Path, write: Callable[[keras.Model, Path], None], suffix: str = ".png",
                 summaries: str | Path | None = None):
        super().__init__()
        self.directory = Path(directory)
        self.write = write
        self.suffix = suffix
        self.summaries = None if summaries is None else Path(summaries)
        self._events = None

    def on_train_begin(self, logs=None):
        if self.summaries is not None and self.suffix == ".png" and is_chief(self.model.distribute_strategy):
            self._events = EventWriter(self.summaries, "samples")

    def on_epoch_end(self, epoch, logs=None):
        path = self.directory / f"epoch_{epoch + 1:04d}{self.suffix}"
        with chief_writes(path, self.model.distribute_strategy) as target:
            self.write(self.model, target)
        if self._events is not None and path.is_file():
            png = path.read_bytes()
            with Image.open(io.BytesIO(png)) as image:
                self._events.image("samples", png, *image.size, step=epoch + 1)

    def on_train_end(self, logs=None):
        if self._events is not None:
            self._events.close()
            self._events = None


class HistoryLog(keras.callbacks.Callback):
    """history.csv: one row per epoch (`epoch` counted from 0, then the logs' columns in sorted order), appended on
    resume under the header already there. Keras's CSVLogger adds a `val_` column per metric, always empty here:
    GAN runs have no validation pass."""

    def __init__(self, path: str | Path, append: bool = False):
        super().__init__()
        self.path, self.append = Path(path), append
        self.columns = None

    def on_epoch_end(self, epoch, logs=None):
        import csv

        logs = logs or {}
        if self.columns is None:
            header = None
            if self.append and self.path.is_file():
                with open(self.path, newline="") as handle:
                    header = next(csv.reader(handle), None)
            self.columns = header[1:] if header else sorted(logs)
            if not header:
                with open(self.path, "w", newline="") as handle:
                    csv.writer(handle).writerow(["epoch", *self.columns])
        value = lambda v: float(np.asarray(v).reshape(-1)[0]) if v is not None else "NA"  # noqa: E731
        with open(self.path, "a", newline="") as handle:
            csv.writer(handle).writerow([epoch, *(value(logs.get(name)) for name in self.columns)])


class QualityMonitor(keras.callbacks.Callback):
    """Every `every` epochs and after the last: the app's `Quality` figures, as `quality_NAME` columns of this
    epoch's logs (NaN on the epochs in between, so history.csv keeps one column per figure) and as TensorBoard
    scalars `quality/NAME` in `summaries` at step EPOCH (only where computed); with `keep_best`, `export(model)`
    whenever the ranked figure improves, and `best.json` records which epoch that was (read back on resume).

    Put it before `HistoryLog`, so the figures reach history.csv; every worker computes them alike.
    """

    def __init__(self, quality, compute: Callable[[keras.Model], dict], every: int, epochs: int,
                 summaries: Path, best_file: Path | None = None, export: Callable[[keras.Model], None] | None = None):
        super().__init__()
        self.quality, self.compute, self.every, self.epochs = quality, compute, every, epochs
        self.summaries, self.best_file, self.export = Path(summaries), best_file, export
        self.best = None
        if best_file is not None and best_file.is_file():
            self.best = json.loads(best_file.read_text())
        self._events = None

    def on_train_begin(self, logs=None):
        if is_chief(self.model.distribute_strategy):
            self._events = EventWriter(self.summaries, "quality")

    def due(self, epoch: int) -> bool:
        return (epoch + 1) % self.every == 0 or epoch + 1 == self.epochs

    def better(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.best is None:
            return True
        return value > self.best["value"] if self.quality.higher else value < self.best["value"]

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        if not self.due(epoch):
            logs.update({f"quality_{name}": float("nan") for name in self.quality.names})
            return
        figures = {name: float(value) for name, value in self.compute(self.model).items()}
        logs.update({f"quality_{name}": figures.get(name, float("nan")) for name in self.quality.names})
        strategy = self.model.distribute_strategy
        if is_chief(strategy):
            for name, value in figures.items():
                self._events.scalar(f"quality/{name}", value, step=epoch + 1)
        key = self.quality.names[0]
        if self.export is not None and self.better(figures[key]):
            self.export(self.model)
            self.best = {"epoch": epoch + 1, "key": key, "value": figures[key], "higher": self.quality.higher}
            if is_chief(strategy) and self.best_file is not None:
                atomic_write_bytes(self.best_file, (json.dumps(self.best, indent=2) + "\n").encode())

    def on_train_end(self, logs=None):
        if self._events is not None:
            self._events.close()
            self._events = None


class NonFiniteLoss(RuntimeError):
    """Training stopped because a loss became NaN or infinite."""


class GanHealth(keras.callbacks.Callback):
    """Watches the step metrics and warns about failing GAN training; stops on a non-finite loss.

    - vanishing generator gradients: the discriminator near-certain (mean D(real) > 0.99 and D(fake) < 0.01
      for the sigmoid losses) or the generator gradient norm below 1e-3 of its early median, for
      `patience` consecutive steps;
    - collapsing diversity: the fake batch's spread below `min_diversity` of the real batch's;
    - NaN or infinite loss: training stops and `failure` says at which step.
    Warnings go to the progress output, to the `ganapps` logger and to `events.log` in the run directory.
    """

    def __init__(self, loss_family: str, run_dir: str | Path | None = None, patience: int = 50,
                 min_diversity: float = 0.1):
        super().__init__()
        self.loss_family = loss_family
        self.events = Path(run_dir) / "events.log" if run_dir else None
        self.patience = patience
        self.min_diversity = min_diversity
        self.failure: str | None = None
        self.warnings: list[str] = []
        self._streaks = {"certain": 0, "gradient": 0, "diversity": 0}
        self._early_norms: list[float] = []
        self._warned: set[str] = set()
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._warned.clear()

    def _warn(self, kind: str, message: str) -> None:
        if kind in self._warned:
            return
        self._warned.add(kind)
        text = f"GAN health (epoch {self._epoch + 1}): {message}"
        self.warnings.append(text)
        # stderr, so that a command's --json output on stdout stays parseable; the logger has it for handlers.
        print(f"\nWARNING {text}", file=sys.stderr, flush=True)
        log.info(text)
        self._append_event({"epoch": self._epoch + 1, "warning": kind, "message": message})

    def _append_event(self, event: dict) -> None:
        if self.events is not None and is_chief(self.model.distribute_strategy):
            self.events.parent.mkdir(parents=True, exist_ok=True)
            with open(self.events, "a") as handle:
                handle.write(json.dumps(event) + "\n")

    def _streak(self, kind: str, condition: bool) -> bool:
        self._streaks[kind] = self._streaks[kind] + 1 if condition else 0
        return self._streaks[kind] >= self.patience

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        losses = {k: float(v) for k, v in logs.items() if k.endswith("loss")}
        bad = [k for k, v in losses.items() if not math.isfinite(v)]
        if bad:
            self.failure = (f"{bad[0]} became {losses[bad[0]]} at epoch {self._epoch + 1}, step {batch + 1}; "
                            "training stopped, the last finished epoch's checkpoint is kept. "
                            "Lower the learning rates or add a gradient penalty")
            self._append_event({"epoch": self._epoch + 1, "error": "non-finite loss", "message": self.failure})
            self.model.stop_training = True
            return
        if self.loss_family in SIGMOID_FAMILIES and "d_real" in logs and "d_fake" in logs:
            real_p = 1.0 / (1.0 + math.exp(-max(min(float(logs["d_real"]), 50.0), -50.0)))
            fake_p = 1.0 / (1.0 + math.exp(-max(min(float(logs["d_fake"]), 50.0), -50.0)))
            if self._streak("certain", real_p > 0.99 and fake_p < 0.01):
                self._warn("vanishing-gradients", f"the discriminator is near-certain (D(real)={real_p:.3f}, "
                           f"D(fake)={fake_p:.3f}); generator gradients vanish. Try the non-saturating or "
                           "hinge loss, label smoothing, or a lower discriminator learning rate")
        if "g_grad_norm" in logs:
            norm = float(logs["g_grad_norm"])
            if len(self._early_norms) < self.patience:
                self._early_norms.append(norm)
            else:
                reference = float(np.median(self._early_norms))
                if self._streak("gradient", norm < 1e-3 * reference):
                    self._warn("vanishing-gradients", f"generator gradient norm {norm:.2e} is below 1/1000 of "
                               f"its early value {reference:.2e}")
        if "diversity" in logs:
            diversity = float(logs["diversity"])
            if self._streak("diversity", diversity < self.min_diversity):
                self._warn("mode-collapse", f"sample diversity collapsed: fake spread is {diversity:.3f} of the "
                           "real spread. Try minibatch standard deviation, packing or a gradient penalty")
