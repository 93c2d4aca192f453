"""The conditional GAN lab, usable from a notebook: train, generate, evaluate and export.

    from ganapps.apps.cgan import lab
    run = lab.train(lab.Config(condition="label"), lab.APP.options(out="runs/cgan"))
    sevens = lab.generate("runs/cgan", label=7, num=16)            # [16, 32, 32, 3] in [-1, 1]
    print(lab.evaluate("runs/cgan").as_dicts())                     # scored by an independent judge
    lab.augment("runs/cgan", "runs/cgan-extra", balance=True)       # generated images that even out the classes

A trained model is a `Sampler` handle, a run directory or an exported SavedModel folder. Generating and evaluating
use the run's export when there is one, else its checkpoint. Exports take the condition as input: `latent` and
`label` (int), `metadata` (float, in the attributes' units) or `text` (string); image+metadata takes `image` and
`metadata`. The model's condition, classes, attribute ranges and vocabulary travel with it in
`assets.extra/cgan.json`.

A label run trained with `Config.class_fraction` ("3=0.05,8=0.05") sees only that share of those classes' training
images, and records its images per class (`Config.class_counts`); `augment(run, out, balance=True)` writes generated
images that top every class up to the largest, as a folder that `Config.data` reads (labels.csv: file, label).
"""

from __future__ import annotations

import csv
import functools
import json
import os
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from ganapps.apps.cgan import captions, conditions
from ganapps.apps.cgan import data as D
from ganapps.apps.cgan import evaluators as E
from ganapps.apps.cgan.app import APP, Sampler, build, dataset, load_examples, prepare, samples, training_split
from ganapps.apps.cgan.conditions import Generated, to_float  # noqa: F401 (the notebook API)
from ganapps.apps.cgan.evaluators import Evaluation
from ganapps.apps.cgan.recipe import SHIPPED_TEXT, Config

from ganapps.core import runs
from ganapps.core.callbacks import RunCheckpoint
from ganapps.core.config import TrainOptions
from ganapps.core.console import working
from ganapps.core.errors import GanappsError, ParameterError, check_at_least
from ganapps.core.strategy import resolve_strategy
from ganapps.core.images import save_image_grid, to_uint8
from PIL import Image

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
    it, and continues with the config it was started with). `config.class_fraction` thins the training split's
    classes it names, drawn from `options.seed`.
    """
    config, options = config or Config(), options or APP.options()
    resolve_strategy(options.strategy, options.devices)  # before the data and the caption fit use TensorFlow
    restoring = RunCheckpoint(options.out / "checkpoints").exists()
    record = runs.read_run(options.out, APP) if restoring and options.resume else None
    config = record.config if record else config
    examples = load_examples(config, download, progress)
    config = config if record else prepare(config, examples)
    training = training_split(config, examples, record.options.seed if record else options.seed)
    held_out = D.split(examples)[1]
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
    if model is None and text is not None:
        model = SHIPPED_TEXT  # the shipped label model reads no captions
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


def export(run_dir: str | os.PathLike, out: str | os.PathLike | None = None, version: int = 1,
           format: str = "saved_model") -> Path:
    """Export a run's sampling generator from its checkpoint as a SavedModel at `out/version` (TF Serving layout).

    `out` defaults to the run's `export/cgan`, the folder training writes at its end.
    """
    return runs.export(APP, run_dir, out, version, format)


def _record(run: str | os.PathLike, why: str = "") -> runs.RunRecord:
    if not Path(run).exists():
        raise GanappsError(f"{run}: no such run directory")
    record = runs.read_run(run, APP)
    if record is None:
        raise GanappsError(f"{run}: not a cgan run directory (no config.json){why}")
    return record


def training_set(run: str | os.PathLike, download: bool = True, progress: bool = False) -> D.Examples:
    """The real images a run trained on: its data's training split, cut by its `class_fraction` with its seed.
    (The held-out fifth, which neither it nor `augment` sees, is `data.split(...)[1]` of the same data.)"""
    record = _record(run)
    return training_split(record.config, load_examples(record.config, download, progress), record.options.seed)


AUGMENT_INFO = "augment.json"  # what wrote an augment folder; `overwrite` replaces only folders that hold it


@dataclass
class Augmented:
    """An augment folder: `CLASS/NNNNN.png` per image (CLASS the class index), `labels.csv` (file, label: the class
    name) and `augment.json`; `real` is the run's training images per class (None: counts not asked for)."""

    folder: Path
    class_names: tuple[str, ...]
    generated: tuple[int, ...]
    real: tuple[int, ...] | None = None

    @property
    def images(self) -> int:
        return sum(self.generated)

    def as_dicts(self) -> list[dict]:
        return [{"class": name, "real": None if self.real is None else self.real[k], "generated": self.generated[k],
                 "total": None if self.real is None else self.real[k] + self.generated[k], "folder": str(self.folder)}
                for k, name in enumerate(self.class_names)]


def _check_out(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise ParameterError("out", f"{out}: is a file; name a folder to create")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise ParameterError("out", f"{out}: already holds files; name a new or empty folder (overwrite "
                                        "replaces an earlier augment output)")
        if not (out / AUGMENT_INFO).is_file():
            raise ParameterError("out", f"{out}: holds files that augment did not write (no {AUGMENT_INFO}); "
                                        "not replacing it")


def augment(model: Model, out: str | os.PathLike, balance: bool = False, num_per_class: int | None = None,
            seed: int = 0, overwrite: bool = False, batch_size: int = 250) -> Augmented:
    """Generated training images from a label model, as a folder `Config.data` reads (labels.csv: file, label).

    `balance` tops every class of a run up to its largest (`Config.class_counts`, its training images per class
    after `class_fraction`), so that its real plus these images are as many per class; `num_per_class` draws that
    many of every class instead (any label model, an export too). The images go to a hidden folder beside `out`,
    renamed into place once complete, so `out` never holds half of them: it must be new or empty, or with
    `overwrite` an earlier augment output, replaced whole.
    """
    if balance == (num_per_class is not None):
        raise ParameterError("balance", "or num_per_class: give exactly one (balance tops every class up to the "
                                        "largest; num_per_class draws that many of each)")
    if num_per_class is not None:
        check_at_least("num_per_class", num_per_class, 1)
    out = Path(out).expanduser()
    _check_out(out, overwrite)
    real = None
    if balance:
        if isinstance(model, Sampler):
            raise ParameterError("model", "is a handle; balance reads a run's training counts: give its run directory")
        config = _record(model, "; balance reads the training counts in a run's config.json").config
        if config.condition != "label":
            raise GanappsError(f"{model}: a {config.condition} run; augment needs a label run (--condition label)")
        real = config.class_counts or D.class_counts(training_set(model))  # runs trained before the counts
    sampler = runs.open_model(APP, model)
    if sampler.condition.name != "label":
        raise GanappsError(f"{sampler.source}: a {sampler.condition.name} model; augment needs a label model "
                           "(--condition label)")
    names = sampler.config.class_names
    wanted = [max(real) - n for n in real] if balance else [num_per_class] * len(names)
    labels = np.repeat(np.arange(len(names), dtype=np.int32), wanted)
    latents = sampler.latents(len(labels), seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.augment-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        rows = []
        for k in range(len(names)):
            (staging / str(k)).mkdir(parents=True)
        with working(f"generating {len(labels)} images into {out}"):
            written = np.zeros(len(names), int)
            for start in range(0, len(labels), batch_size):
                chunk = labels[start : start + batch_size]
                for image, label in zip(to_uint8(sampler.images(latents[start : start + batch_size], chunk)), chunk):
                    name = f"{label}/{written[label]:05d}.png"
                    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(staging / name)
                    rows.append((name, names[label]))
                    written[label] += 1
        with open(staging / "labels.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(("file", "label"))
            writer.writerows(rows)
        info = {"model": str(sampler.source), "balance": balance, "num_per_class": num_per_class, "seed": seed,
                "class_names": list(names), "real": None if real is None else list(real), "generated": wanted}
        (staging / AUGMENT_INFO).write_text(json.dumps(info, indent=2) + "\n")
        _replace_folder(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Augmented(out, names, tuple(int(n) for n in wanted), None if real is None else tuple(real))


def _replace_folder(staging: Path, out: Path) -> None:
    """Rename the finished `staging` to `out`: an empty `out` is replaced by the rename itself; a full one (an earlier
    augment output, checked) is moved aside first and removed once the new folder is in place."""
    old = None
    if out.is_dir() and any(out.iterdir()):
        old = out.parent / f".{out.name}.replaced-{os.getpid()}"
        os.rename(out, old)
    try:
        os.replace(staging, out)
    except BaseException:
        if old is not None:
            os.rename(old, out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
