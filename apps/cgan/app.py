"""The cgan app as the core sees it: the networks of a config, its conditioned images as a resumable stream, a
grid per epoch that shows the conditioning at work, an export that takes the condition, and the `Sampler` handle.

`lab.train` reads the data once and fits the joint caption embedding first, and hands both to these functions;
called by the core alone (`runs.resume`) they read the data themselves, and the checkpoint restores the towers.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import tensorflow as tf
from ganapps.apps.cgan import conditions, models
from ganapps.apps.cgan import data as D
from ganapps.apps.cgan.recipe import DEFAULTS, SHIPPED, Config

from ganapps.core.app import App, Quality
from ganapps.core.config import TrainOptions, from_dict, to_json
from ganapps.core.data import TFDS_PREFIX, array_dataset, to_float
from ganapps.core.errors import GanappsError
from ganapps.core.export import Handle, KerasFunction, ServingFunction, export_generator
from ganapps.core.images import atomic_write_bytes, save_image_grid
from ganapps.core.runs import compile_gan

INFO_FILE = Path("assets.extra") / "cgan.json"  # the model's Config, beside its SavedModel


class Sampler(Handle):
    """A trained conditional generator: the export's inputs, positionally (`latent` and `label` / `metadata` /
    `text`, or `image` and `metadata`), to images in [-1, 1]. `config` and `condition` say what it takes."""

    def __init__(self, function, source: str, config: Config):
        super().__init__(function, source)
        self.config = config
        self.condition = conditions.of(config)

    @classmethod
    def from_gan(cls, gan, config: Config, source: str) -> Sampler:
        return cls(KerasFunction(conditions.of(config).serving(gan.sampling_generator)), source, config)

    @classmethod
    def from_saved_model(cls, path: str | Path) -> Sampler:
        function = ServingFunction(path)
        info = function.path / INFO_FILE
        if not info.is_file():
            raise GanappsError(f"{function.path}: a SavedModel without {INFO_FILE} (not exported by `cgan export`)")
        return cls(function, str(path), from_dict(Config, json.loads(info.read_text())))

    def images(self, *inputs, batch_size: int = 250) -> np.ndarray:
        """Images for equal-length condition arrays, in batches."""
        return np.concatenate([np.asarray(self(*(x[i : i + batch_size] for x in inputs)), np.float32)
                               for i in range(0, len(inputs[0]), batch_size)])

    def latents(self, num: int, seed: int = 0) -> np.ndarray:
        return np.random.default_rng(seed).standard_normal((num, self.config.latent_dim)).astype(np.float32)


def load_examples(config: Config, download: bool = True, progress: bool = False) -> D.Examples:
    return D.load(config.data, config.image_size, config.channels, pairs=conditions.of(config).pairs,
                  download=download, progress=progress)


def prepare(config: Config, examples: D.Examples | None = None) -> Config:
    """Read what the networks depend on from the data (its absolute path, channels, classes, attribute ranges,
    vocabulary, images per class after `class_fraction`); one-line errors for data without the condition."""
    examples = load_examples(config) if examples is None else examples
    folder = config.data != D.GLYPHS and not config.data.startswith(TFDS_PREFIX)
    data = str(Path(config.data).expanduser().resolve()) if folder else config.data
    training, _ = D.split(examples)
    # What a class keeps depends on the seed, how many it keeps does not: the counts are the run's (`cgan augment`).
    kept = D.cut(training, config.class_fraction)  # a one-line error for a class the data lacks
    counts = () if kept.labels is None else D.class_counts(kept)
    return conditions.of(replace(config, data=data, channels=examples.channels, class_counts=counts)).fit(training)


def training_split(config: Config, examples: D.Examples, seed: int) -> D.Examples:
    """What a run trains on: the training part of `examples`, cut by `config.class_fraction` with the run's seed."""
    return D.cut(D.split(examples)[0], config.class_fraction, seed)


def build(config: Config, options: TrainOptions, towers=None) -> models.ConditionalGAN:
    """The compiled conditional GAN of `config`; the discriminator drops batch norm under a gradient penalty.

    With the joint caption encoder, `towers` gives the fitted caption and image towers; without, they start random
    and a checkpoint restores them.
    """
    condition = conditions.of(config)
    generator = models.generator(condition)
    discriminator = models.discriminator(condition, batch_norm=not (options.gp_weight or options.r1_weight))
    matcher = condition.matcher(generator, discriminator, towers)
    gan = models.ConditionalGAN(generator, discriminator, condition, matcher, ema_decay=options.ema or None,
                                pack=options.pack, seed=options.seed)
    return compile_gan(gan, options)


def dataset(config: Config, options: TrainOptions, start_step: int, training: D.Examples | None = None
            ) -> tf.data.Dataset:
    """Batches `(images, condition)` of the training split (cut by `class_fraction`; every class as often as
    the largest with `balance_classes`), images in [-1, 1]."""
    training = training_split(config, load_examples(config), options.seed) if training is None else training
    if config.balance_classes:
        training = D.oversample(training, options.seed)
    condition = conditions.of(config)
    arrays = (training.images, *condition.columns(training))
    return array_dataset(arrays, options.batch_size, options.seed, start_step).map(
        lambda images, *columns: (to_float(images), condition.batch(*columns)))


def samples(gan: models.ConditionalGAN, config: Config, options: TrainOptions, path: Path,
            grid: tuple[list, int] | None = None) -> None:
    """The grid of `Condition.grid_inputs`: one row per class, caption or held-out example."""
    condition = conditions.of(config)
    inputs, columns = grid or condition.grid_inputs(D.split(load_examples(config))[1], options.seed + 1)
    images = np.asarray(gan.sampling_generator.predict(inputs, batch_size=250, verbose=0))
    images, columns = condition.grid_picture(inputs, images, columns)
    save_image_grid(images, path, columns)


def export(gan: models.ConditionalGAN, config: Config, folder: Path, version: int = 1, format: str = "saved_model"
           ) -> Path:
    """The sampling generator taking the condition: inputs `latent` + `label` (class index) / `metadata` / `text`
    (strings), or `image` (in [-1, 1]) + `metadata`; output `samples`. `assets.extra/cgan.json` holds the
    `Config`; `assets.extra/serving.json` what a client needs (classes, vocabulary, attribute ranges)."""
    ranges = {"image": (-1.0, 1.0)}
    if config.class_names:
        ranges["label"] = (0, len(config.class_names) - 1)
    info = {"condition": config.condition, "latent_dim": config.latent_dim, "classes": list(config.class_names),
            "attributes": dict(zip(config.attributes, map(list, config.ranges))),
            "vocabulary": list(config.vocabulary)}
    target = export_generator(conditions.of(config).serving(gan.sampling_generator), folder, version,
                              input_ranges=ranges, info=info, format=format)
    atomic_write_bytes(target / INFO_FILE, (json.dumps(to_json(config), indent=2) + "\n").encode())
    return target


QUALITY_SAMPLES = 500  # generated images per evaluation during training


def quality(gan: models.ConditionalGAN, config: Config, options: TrainOptions) -> dict[str, float]:
    """The independent judge's reading of `QUALITY_SAMPLES` images from held-out conditions, as `evaluate`: `judge`
    is its first accuracy over all samples (label: the label's; text: the digit's; image+metadata: whether the
    digit is kept), for metadata one minus the mean error as a share of each attribute's range."""
    from ganapps.apps.cgan import lab  # the app's evaluate (lab imports this module)

    rows = lab.evaluate(Sampler.from_gan(gan, config, "training"), num=QUALITY_SAMPLES, seed=options.seed).rows
    shares = [row["share_of_range"] for row in rows if "share_of_range" in row]
    if shares:
        return {"judge": 1.0 - float(np.mean(shares))}
    return {"judge": next(float(row["generated"]) for row in rows if row["scope"] == "all"
                          and ("accuracy" in row["what"] or row["what"].startswith("keeps")))}


APP = App("cgan", Config, build, dataset, Sampler, defaults=DEFAULTS, prepare=prepare, samples=samples,
          export=export, shipped=SHIPPED, quality=Quality(quality, ("judge",)))
