"""The conditional GAN lab, usable from a notebook: train, generate, evaluate and export.

    from ganapps.apps.cgan import lab
    run = lab.train(lab.Config(condition="label"), lab.APP.options(out="runs/cgan"))
    sevens = lab.generate("runs/cgan", label=7, num=16)            # [16, 32, 32, 3] in [-1, 1]
    print(lab.evaluate("runs/cgan").as_dicts())                     # scored by an independent judge

A trained model is a `Sampler` handle, a run directory or an exported SavedModel folder. Generating and evaluating
use the run's export when there is one, else its checkpoint. Exports take the condition as input: `latent` and
`label` (int), `metadata` (float, in the attributes' units) or `text` (string); image+metadata takes `image` and
`metadata`. The model's condition, classes, attribute ranges and vocabulary travel with it in
`assets.extra/cgan.json`.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from ganapps.apps.cgan import captions, conditions
from ganapps.apps.cgan import data as D
from ganapps.apps.cgan import evaluators as E
from ganapps.apps.cgan.app import APP, Sampler, build, dataset, load_examples, prepare, samples
from ganapps.apps.cgan.conditions import Generated, to_float  # noqa: F401 (the notebook API)
from ganapps.apps.cgan.evaluators import Evaluation
from ganapps.apps.cgan.recipe import Config

from ganapps.core import runs
from ganapps.core.callbacks import RunCheckpoint
from ganapps.core.config import TrainOptions
from ganapps.core.console import working
from ganapps.core.errors import GanappsError, check_at_least
from ganapps.core.strategy import resolve_strategy
from ganapps.core.images import save_image_grid

Model = Sampler | str | os.PathLike  # a handle, a run directory, an export folder


@dataclass
class CganRun:
    result: runs.TrainResult
    config: Config  # as prepared from the data
    samples: Path  # the last epoch's sample grid
    towers: captions.Towers | None = None  # joint encoder: the caption embedding fitted before the GAN (not on resume)


def train(config: Config | None = None, options: TrainOptions | None = None, download: bool = True,
          progress: bool = True) -> CganRun:
    """Train on `config.data`'s training split; each epoch writes a grid that shows the conditioning at work.

    The data is read once; with the joint caption encoder its embedding is fitted first (a resumed run restores
    it, and continues with the config it was started with).
    """
    config, options = config or Config(), options or APP.options()
    resolve_strategy(options.strategy, options.devices)  # before the data and the caption fit use TensorFlow
    restoring = RunCheckpoint(options.out / "checkpoints").exists()
    record = runs.read_run(options.out, APP) if restoring and options.resume else None
    config = record.config if record else config
    examples = load_examples(config, download, progress)
    config = config if record else prepare(config, examples)
    training, held_out = D.split(examples)
    towers = None
    if config.caption_dim and not restoring:
        towers = fit_caption_embedding(config, training, options.seed)
    grid = conditions.of(config).grid_inputs(held_out, options.seed + 1)
    app = replace(APP, prepare=None, build=functools.partial(build, towers=towers),
                  dataset=functools.partial(dataset, training=training), samples=functools.partial(samples, grid=grid))
    result = runs.train(app, config, options)
    return CganRun(result, result.config, result.run_dir / "samples" / f"epoch_{options.epochs:04d}.png", towers)


def fit_caption_embedding(config: Config, training: D.Examples, seed: int = 0) -> captions.Towers:
    """The joint caption and image towers for `config`, fitted on the training pairs (`captions.fit`)."""
    text = conditions.of(config)
    with working(f"fitting the caption embedding ({config.caption_steps} steps)"):
        return captions.fit(training.images, text.tokens(training.captions), text.vocabulary_size,
                            config.caption_steps, seed=seed, dim=config.caption_dim)


def generate(model: Model, label: int | str | None = None, metadata: str | None = None, text: str | None = None,
             image: str | os.PathLike | np.ndarray | None = None, num: int = 16, seed: int = 0) -> Generated:
    """`num` images for one condition (label: index or class name; metadata: "angle=30,scale=0.8", attributes
    left out are drawn uniformly in their ranges; text: a caption; image: the original to redraw at metadata).

    A label model given no label draws `num` images of every class, one row per class.
    """
    check_at_least("num", num, 1)
    sampler = runs.open_model(APP, model)
    return sampler.condition.generate(sampler, num, seed, label=label, metadata=metadata, text=text, image=image)


def save_grid(generated: Generated, path: str | os.PathLike) -> Path:
    """The images as one PNG grid (square unless the generation asked for rows)."""
    save_image_grid(generated.images, path, generated.columns or None)
    return Path(path)


def evaluate(model: Model, num: int = 1000, seed: int = 0, download: bool = True, progress: bool = False
             ) -> Evaluation:
    """Generate `num` images from held-out conditions and let an independent judge read them.

    label: per-class accuracy (num spread evenly over the classes); metadata: mean absolute error per attribute,
    in its units and as a share of its range, beside the error of guessing (the judge read against shuffled
    targets); text: digit, colour and size accuracy against what held-out captions name; image+metadata: the
    redrawing's metadata error, whether it keeps the digit and colour, and its L1 distance to the true redrawing.
    """
    check_at_least("num", num, 10)
    sampler = runs.open_model(APP, model)
    config, condition = sampler.config, sampler.condition
    if condition.glyphs_only and config.data != D.GLYPHS:
        raise GanappsError(f"{config.data}: {condition.name} evaluation needs the embedded set ({D.GLYPHS}), "
                           "whose captions and poses are known")
    _, held_out = D.split(load_examples(config, download, progress))
    judge = E.judge(config.data, config.image_size, config.channels or 1, download)
    result = Evaluation(condition.name, config.data, num)
    condition.evaluate(sampler, held_out, judge, num, seed, result)
    return result


def export(run_dir: str | os.PathLike, out: str | os.PathLike | None = None, version: int = 1) -> Path:
    """Export a run's sampling generator from its checkpoint as a SavedModel at `out/version` (TF Serving layout).

    `out` defaults to the run's `export/cgan`, the folder training writes at its end.
    """
    return runs.export(APP, run_dir, out, version)
