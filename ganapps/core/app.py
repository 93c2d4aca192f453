"""What an app is to the core: one `App` value that the run functions in `ganapps.core.runs` take.

An app gives its name, its `Config` (a TensorFlow-free dataclass of `setting` fields: the defaults are the recipe),
the shared training defaults, and four functions; the core does everything else once for every app: run directories,
config.json, strategy, checkpoints and exact resume, samples, logs, export, and opening a model by run directory,
export folder or shipped name.

    APP = App("mixture1d", Config, build=build, dataset=dataset, handle=Sampler)
    result = runs.train(APP, Config(), APP.options(out="runs/m", epochs=2))
    sampler = runs.open_model(APP, "runs/m")

This module imports no TensorFlow, so a command line can hold an `App`'s name and defaults before TensorFlow loads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ganapps.core.config import TrainOptions

if TYPE_CHECKING:  # pragma: no cover
    import tensorflow as tf

    from ganapps.core.gan import GAN


@dataclass(frozen=True)
class Quality:
    """An app's own figures of merit during training (`--eval-every`).

    `compute(gan, config, options)` returns the figures named in `names` (a quick version of the app's `evaluate`:
    fewer samples, the same measure); `names[0]` is the one `--keep-best` ranks epochs by, better when higher if
    `higher`. `check(config)` refuses, before training starts, a run the figures cannot be computed for.
    """

    compute: Callable[[GAN, Any, TrainOptions], dict[str, float]]
    names: tuple[str, ...]
    higher: bool = True
    check: Callable[[Any], None] | None = None


@dataclass(frozen=True)
class App:
    """An app as the core sees it.

    Args:
        name: the command and run-directory tag (`config.json` records it; another app's run is refused).
        config: the app's `Config` dataclass; one instance rebuilds a run's networks and finds its data.
        build: `(config, options) -> GAN`, compiled (use `runs.compile_gan`); called inside the strategy scope.
        dataset: `(config, options, start_step) -> tf.data.Dataset` of global batches from `start_step` on, so a
            resumed run sees what an uninterrupted one would.
        handle: the inference class (`ganapps.core.export.Handle` subclass): `from_gan(gan, config, source)` for a
            trained model, `from_saved_model(path)` for an export.
        defaults: the recipe's `TrainOptions` values.
        prepare: `(config) -> config` before training: check it and resolve what depends on the data (absolute
            paths, channels, a fitted vocabulary); the result is what config.json keeps.
        samples: `(gan, config, options, path)` writes a picture of the model after each epoch.
        export: `(gan, config, folder, version, format) -> path` writes the SavedModel(s) (or LiteRT / ONNX files,
            `config.EXPORT_FORMATS`); default: the sampling generator as `folder/version` with a `serving_default`
            signature.
        shipped: the shipped model (a folder of `ganapps/saved_models`) that inference opens when none is named.
        quality: the figures `--eval-every` computes into history.csv and TensorBoard (and `--keep-best` ranks by).
        upgrade: `(values) -> values`: the config.json values of a run written by an earlier version, with the
            fields added since filled in as that version behaved, so that its run still rebuilds.
    """

    name: str
    config: type
    build: Callable[[Any, TrainOptions], GAN]
    dataset: Callable[[Any, TrainOptions, int], tf.data.Dataset]
    handle: type
    defaults: dict = field(default_factory=dict)
    prepare: Callable[[Any], Any] | None = None
    samples: Callable[[GAN, Any, TrainOptions, Path], None] | None = None
    export: Callable[[GAN, Any, Path, int, str], Path] | None = None
    shipped: str | None = None
    quality: Quality | None = None
    upgrade: Callable[[dict], dict] | None = None

    def options(self, **overrides) -> TrainOptions:
        """The recipe's training options (run directory `runs/NAME`), with any field overridden."""
        return TrainOptions(**{"out": Path("runs") / self.name, **self.defaults, **overrides})
