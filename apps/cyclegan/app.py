"""CycleGAN (and, with `paired`, pix2pix) as the core sees it: both generators and critics, unpaired (or paired)
jittered batches, a grid per epoch, both generators exported (`a2b/` and `b2a/`), and the `Translator` that
inference opens."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import tensorflow as tf
from ganapps.apps.cyclegan import data as D
from ganapps.apps.cyclegan import models
from ganapps.apps.cyclegan.recipe import (
    ADVERSARIAL_WEIGHT,
    DEFAULTS,
    DIRECTIONS,
    SHIPPED,
    TEST_SCENES,
    Config,
    default_blocks,
    default_width,
)

from ganapps.core.app import App, Quality
from ganapps.core.config import TrainOptions
from ganapps.core.errors import GanappsError, ParameterError, check_choice
from ganapps.core.export import Handle, KerasFunction, ServingFunction, export_generator
from ganapps.core.images import save_image_grid
from ganapps.core.runs import compile_gan

SAMPLE_IMAGES = 4  # held-out images per domain in the per-epoch grid


class Translator(Handle):
    """A trained model's generators: images `[N, S, S, 3]` in [-1, 1] -> the other domain, per direction.

    `functions` maps `a2b` (G) and `b2a` (F) to the generator of that direction (an export may hold only one);
    the handle's own `function` is the first of them.
    """

    def __init__(self, functions: dict[str, ServingFunction | KerasFunction], source: str):
        super().__init__(next(iter(functions.values())), source)
        self.functions = functions

    @classmethod
    def from_keras(cls, model, source: str) -> Translator:
        """From the container of both generators: a CycleGAN's `sampling_generator` (layers `a2b` and `b2a`), which
        is what `Handle.from_gan` passes."""
        return cls({d: KerasFunction(model.get_layer(d)) for d in DIRECTIONS}, source)

    @classmethod
    def from_saved_model(cls, path: str | Path) -> Translator:
        """From an export folder holding `a2b/` and `b2a/` (or one of them), or one direction's folder itself."""
        path = Path(path)
        folders = {d: path / d for d in DIRECTIONS if (path / d).is_dir()}
        if not folders and path.name in DIRECTIONS:
            folders = {path.name: path}
        if not folders:
            raise GanappsError(f"{path}: no exported generators (a2b/ or b2a/ folders)")
        return cls({d: ServingFunction(folder) for d, folder in folders.items()}, str(path))

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """The size it was trained at (an export takes any size divisible by 4, but translates best there)."""
        height, width, channels = self.input_shapes[0][1:]
        if height is None:  # only exports leave it open, and they record the size (serving.json)
            height = width = self.function.info["trained_size"]
        return height, width, channels

    def translate(self, images: np.ndarray, direction: str, batch_size: int = 16) -> np.ndarray:
        """Images in [-1, 1] translated in `direction`, in batches."""
        check_choice("direction", direction, DIRECTIONS)
        if direction not in self.functions:
            raise GanappsError(f"{self.source}: holds no {direction} generator")
        chunks = [np.asarray(self.functions[direction](images[i : i + batch_size]))
                  for i in range(0, len(images), batch_size)]
        return np.concatenate(chunks) if chunks else np.zeros((0, *self.image_shape), np.float32)


def source(config: Config) -> D.Source:
    return D.resolve(config.data, config.domain_a, config.domain_b)


def prepare(config: Config) -> Config:
    """The network sizes and jitter that depend on the image size and the data, filled in; domain folders as
    absolute paths (so the run can be evaluated from anywhere)."""
    found = source(config)
    where = (dict(data=None, domain_a=found.folders[0], domain_b=found.folders[1]) if config.domain_a is not None
             else dict(data=found.spec))
    return replace(
        config, **where,
        blocks=default_blocks(config.image_size) if config.blocks is None and not config.paired else config.blocks,
        width=default_width(config.image_size, config.paired) if config.width is None else config.width,
        jitter=found.kind != "synthetic" if config.jitter is None else config.jitter,
    )


def load_domains(config: Config, held_out: bool = False, download: bool = True) -> D.Domains:
    """The training images of both domains (aligned pairs for a paired config), or the held-out ones the sample
    grid shows."""
    return D.load(source(config), config.image_size, held_out=held_out, scenes_count=config.scenes,
                  test_scenes=TEST_SCENES, download=download, paired=config.paired and not held_out)


def method(config: Config) -> str:
    """What a run trains: `pix2pix` (paired) or `cyclegan`."""
    return "pix2pix" if config.paired else "cyclegan"


def build(config: Config, options: TrainOptions) -> models.TwoWayGAN:
    """The compiled CycleGAN (or, paired, pix2pix) of a prepared `config`."""
    for name in ("gp_weight", "r1_weight", "feature_matching"):
        if getattr(options, name):
            raise ParameterError(name, f"is not supported by {method(config)} (two critics judge patches)")
    if options.pack != 1:
        raise ParameterError("pack", "must be 1: the PatchGANs judge single images")
    common = dict(ema_decay=options.ema or None, seed=options.seed)
    if config.paired:
        gan = models.Pix2Pix(*models.paired_networks(config.image_size, config.width), l1_weight=config.l1_weight,
                             **common)
    else:
        generators, critics = models.cycle_networks(config.image_size, config.blocks, config.width)
        gan = models.CycleGAN(generators, critics, cycle_weight=config.cycle_weight,
                              identity_weight=config.identity_weight, pool_size=config.pool_size, **common)
    return compile_gan(gan, options, adversarial_weight=ADVERSARIAL_WEIGHT)


def dataset(config: Config, options: TrainOptions, start_step: int, domains: D.Domains | None = None
            ) -> tf.data.Dataset:
    batches = D.paired_batches if config.paired else D.unpaired_batches
    return batches(domains or load_domains(config), options.batch_size, options.seed, start_step, config.jitter)


def sample_grid(gan: models.CycleGAN, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rows of [a, G(a), F(G(a)), b, F(b), G(F(b))] for images in [-1, 1]: input, translation, reconstruction."""
    g, f = gan.translator("a2b"), gan.translator("b2a")
    fake_b, fake_a = g(a, training=False), f(b, training=False)
    columns = [a, fake_b, f(fake_b, training=False), b, fake_a, g(fake_a, training=False)]
    return np.stack([np.asarray(c) for c in columns], axis=1).reshape(-1, *a.shape[1:])


def samples(gan: models.CycleGAN, config: Config, options: TrainOptions, path: Path,
            shown: D.Domains | None = None) -> None:
    """The grid of the same held-out images after every epoch (rows: a, G(a), F(G(a)), b, F(b), G(F(b)))."""
    shown = shown or load_domains(config, held_out=True)
    count = min(SAMPLE_IMAGES, len(shown.a), len(shown.b))
    a, b = (D.to_float(images[:count]).numpy() for images in (shown.a, shown.b))
    save_image_grid(sample_grid(gan, a, b), path, columns=6)


def export(gan: models.CycleGAN, config: Config, folder: Path, version: int = 1, format: str = "saved_model"
           ) -> Path:
    """Both sampling generators, `folder/a2b/VERSION` and `folder/b2a/VERSION` (TF Serving layout): `image
    [N, H, W, 3]` in [-1, 1] in (trained at S x S; any size divisible by 4), `translation` out."""
    for direction in DIRECTIONS:
        export_generator(gan.translator(direction), Path(folder) / direction, version, input_names=["image"],
                         output_name="translation", input_ranges={"image": (-1.0, 1.0)}, dynamic_size=True,
                         format=format, info={"direction": direction, "trained_size": config.image_size})
    return Path(folder)


QUALITY_IMAGES = 50  # held-out pairs per evaluation during training


def check_quality(config: Config) -> None:
    """Unpaired real data has no truth to score against during training: `evaluate` scores it by FID."""
    if source(config).kind in ("tfds", "folders"):
        raise ParameterError("eval_every", f"{config.data or config.domain_a}: no aligned held-out pairs to score "
                             "against during training (the synthetic pair and side-by-side images have them); "
                             "score the run with `evaluate` instead")


def quality(gan: models.TwoWayGAN, config: Config, options: TrainOptions) -> dict[str, float]:
    """PSNR of both directions against the truth on `QUALITY_IMAGES` held-out pairs (the synthetic scenes or
    side-by-side images); `psnr` is their mean."""
    from ganapps.apps.cyclegan import lab  # the app's evaluate (lab imports this module)

    result = lab.evaluate(Translator.from_gan(gan, config, "training"), config.data, config.domain_a,
                          config.domain_b, num=QUALITY_IMAGES)
    psnr = {d: result.of(d, result.scores[0].model).psnr for d in DIRECTIONS}
    return {"psnr": (psnr["a2b"] + psnr["b2a"]) / 2, "psnr_a2b": psnr["a2b"], "psnr_b2a": psnr["b2a"]}


APP = App("cyclegan", Config, build, dataset, Translator, defaults=DEFAULTS, prepare=prepare, samples=samples,
          export=export, shipped=SHIPPED,
          quality=Quality(quality, ("psnr", "psnr_a2b", "psnr_b2a"), check=check_quality))
