"""The CycleGAN lab, usable from a notebook: train, translate, evaluate and export.

    from ganapps.apps.cyclegan import lab
    run = lab.train(lab.Config(), lab.default_options(out="runs/cyclegan"))    # the synthetic pair
    images = lab.translate_images("runs/cyclegan", images, "a2b")            # [N, S, S, 3] in [-1, 1]
    print([row for row in lab.evaluate("runs/cyclegan").as_dicts()])       # PSNR/SSIM against the true mapping

A trained model is named by its run directory or by an exported folder (holding `a2b/` and `b2a/`, each a
SavedModel in the TF Serving layout). Translating and evaluating use the run's export when there is one, else its
checkpoint; exporting rebuilds the networks from the checkpoint.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import tensorflow as tf
from ganapps.apps.cyclegan import data as D
from ganapps.apps.cyclegan import models
from ganapps.apps.cyclegan.recipe import (
    ADVERSARIAL_WEIGHT,
    CYCLE_WEIGHT,
    DEFAULT_DATA,
    DEFAULTS,
    IDENTITY_WEIGHT,
    IMAGE_SIZE,
    POOL_SIZE,
    SYNTHETIC_SCENES,
    TEST_SCENES,
    default_blocks,
    default_width,
)

from ganapps.core import metrics
from ganapps.core.errors import GanappsError
from ganapps.core.export import export_generator
from ganapps.core.export import load_generator as load_saved_model
from ganapps.core.images import IMAGE_SUFFIXES, list_images, load_image, save_image, save_image_grid
from ganapps.core.runs import (
    TrainOptions,
    TrainResult,
    compile_gan,
    load_run,
    open_model,
    read_run_config,
    train_gan,
)

APP = "cyclegan"
DIRECTIONS = ("a2b", "b2a")
SAMPLE_IMAGES = 4  # held-out images per domain in the per-epoch grid


def default_options(**overrides) -> TrainOptions:
    """The lab's default training options, with any field overridden."""
    return TrainOptions(**{**DEFAULTS, "out": Path("runs") / APP, **overrides})


# ------------------------------------------------------------------------------------------------------ training


@dataclass(frozen=True)
class Config:
    """What finds a run's data and rebuilds its networks and losses; saved in its config.json (options.extra).

    `blocks`, `width` and `jitter` left at None are resolved when training starts: the paper's networks at 128 and
    256 pixels (6 and 9 blocks, width 64), 3 blocks of width 16 below; jitter on for real data, off for the
    synthetic scenes (already placed at random).
    """

    data: str | None = DEFAULT_DATA  # synthetic, a cycle_gan name or a trainA/trainB folder (None: the folders)
    domain_a: str | None = None
    domain_b: str | None = None
    image_size: int = IMAGE_SIZE
    blocks: int | None = None
    width: int | None = None
    cycle_weight: float = CYCLE_WEIGHT
    identity_weight: float = IDENTITY_WEIGHT
    pool_size: int = POOL_SIZE
    jitter: bool | None = None
    scenes: int = SYNTHETIC_SCENES  # synthetic training scenes per domain

    @classmethod
    def of(cls, options: TrainOptions) -> Config:
        return cls(**options.extra.get(APP, {}))

    def source(self) -> D.Source:
        return D.resolve(self.data, self.domain_a, self.domain_b)

    def resolved(self) -> Config:
        """Defaults that depend on the image size and the data, filled in."""
        return replace(
            self,
            blocks=default_blocks(self.image_size) if self.blocks is None else self.blocks,
            width=default_width(self.image_size) if self.width is None else self.width,
            jitter=self.source().kind != "synthetic" if self.jitter is None else self.jitter,
        )


def build_gan(options: TrainOptions) -> models.CycleGAN:
    """The compiled CycleGAN for `options` (its `Config` in `options.extra`)."""
    config = Config.of(options).resolved()
    unsupported = [f"--{name.replace('_', '-')}" for name in ("gp_weight", "r1_weight", "feature_matching")
                   if getattr(options, name)]
    if unsupported:
        raise GanappsError(f"{', '.join(unsupported)}: not supported by cyclegan (two critics judge pooled images)")
    generators, critics = models.cycle_networks(config.image_size, config.blocks, config.width)
    gan = models.CycleGAN(generators, critics, cycle_weight=config.cycle_weight,
                          identity_weight=config.identity_weight, pool_size=config.pool_size,
                          ema_decay=options.ema or None, pack=options.pack, seed=options.seed)
    return compile_gan(gan, options, adversarial_weight=ADVERSARIAL_WEIGHT)


def export_model(gan: models.CycleGAN, directory: str | os.PathLike, version: int = 1) -> Path:
    """Both sampling generators as SavedModels, `directory/a2b/VERSION` and `directory/b2a/VERSION` (TF Serving
    layout): `image [N, S, S, 3]` in [-1, 1] in, `translation` out."""
    directory = Path(directory)
    for direction in DIRECTIONS:
        export_generator(gan.translator(direction), directory / direction, version, input_names=["image"],
                         output_name="translation")
    return directory


@dataclass
class CycleGanRun:
    result: TrainResult
    samples: Path  # the last epoch's sample grid
    names: tuple[str, str]  # what domains A and B are


def sample_grid(gan: models.CycleGAN, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rows of [a, G(a), F(G(a)), b, F(b), G(F(b))] for images in [-1, 1]: input, translation, reconstruction."""
    g, f = gan.translator("a2b"), gan.translator("b2a")
    fake_b, fake_a = g(a, training=False), f(b, training=False)
    columns = [a, fake_b, f(fake_b, training=False), b, fake_a, g(fake_a, training=False)]
    return np.stack([np.asarray(c) for c in columns], axis=1).reshape(-1, *a.shape[1:])


def train(config: Config | None = None, options: TrainOptions | None = None, download: bool = True) -> CycleGanRun:
    """Train on `config`'s domains; each epoch writes `samples/epoch_NNNN.png` from the same held-out images (rows:
    a, G(a), F(G(a)), b, F(b), G(F(b)))."""
    config = (config or Config()).resolved()
    options = options or default_options()
    models.check_shape(config.image_size, config.blocks, config.width)
    source = config.source()
    if config.domain_a is not None:  # saved as absolute paths, so the run can be evaluated from anywhere
        config = replace(config, data=None, domain_a=source.folders[0], domain_b=source.folders[1])
    else:
        config = replace(config, data=source.spec)
    training = D.load(source, config.image_size, scenes_count=config.scenes, download=download)
    shown = D.load(source, config.image_size, held_out=True, test_scenes=TEST_SCENES, download=download)
    options = replace(options, extra={**options.extra, APP: asdict(config)})
    grid_a = D.to_float(shown.a[:SAMPLE_IMAGES]).numpy()
    grid_b = D.to_float(shown.b[:SAMPLE_IMAGES]).numpy()
    count = min(len(grid_a), len(grid_b))

    def write_samples(gan: models.CycleGAN, path: Path) -> None:
        save_image_grid(sample_grid(gan, grid_a[:count], grid_b[:count]), path, columns=6)

    result = train_gan(
        APP, options, build_gan,
        lambda start: D.unpaired_batches(training, options.batch_size, options.seed, start, config.jitter),
        write_samples, lambda gan, folder: export_model(gan, folder / APP),
    )
    return CycleGanRun(result, result.run_dir / "samples" / f"epoch_{options.epochs:04d}.png", source.names)


# ------------------------------------------------------------------------------------------------------ loading


class Translator:
    """A trained model's generators: images `[N, S, S, 3]` in [-1, 1] -> the other domain, per direction."""

    def __init__(self, functions: dict, image_shape: tuple[int, int, int], source: str):
        self.functions = functions
        self.image_shape = image_shape
        self.source = source

    @classmethod
    def from_keras(cls, generators, source: str) -> Translator:
        """From the container of both generators (a CycleGAN's `sampling_generator`)."""
        networks = {d: generators.get_layer(d) for d in DIRECTIONS}
        functions = {d: (lambda x, n=n: n(x, training=False)) for d, n in networks.items()}
        return cls(functions, tuple(networks["a2b"].inputs[0].shape[1:]), source)

    @classmethod
    def from_saved_model(cls, path: Path) -> Translator:
        """From an export folder holding `a2b/` and `b2a/` (or one of them), or one direction's folder itself."""
        path = Path(path)
        folders = {d: path / d for d in DIRECTIONS if (path / d).is_dir()}
        if not folders and path.name in DIRECTIONS:
            folders = {path.name: path}
        if not folders:
            raise GanappsError(f"{path}: no exported generators (a2b/ or b2a/ folders)")
        functions, shape = {}, None
        for direction, folder in folders.items():
            signature = load_saved_model(folder)
            (name, spec), = signature.structured_input_signature[1].items()
            output_name = next(iter(signature.structured_outputs))
            functions[direction] = lambda x, s=signature, n=name, o=output_name: s(**{n: x})[o]
            shape = tuple(spec.shape[1:])
        return cls(functions, shape, str(path))

    def translate(self, images: np.ndarray, direction: str, batch_size: int = 16) -> np.ndarray:
        """Images in [-1, 1] translated in `direction`, in batches."""
        if direction not in DIRECTIONS:
            raise GanappsError(f"--direction {direction!r}: choose a2b or b2a")
        if direction not in self.functions:
            raise GanappsError(f"{self.source}: holds no {direction} generator")
        chunks = [np.asarray(self.functions[direction](tf.constant(images[i : i + batch_size], tf.float32)))
                  for i in range(0, len(images), batch_size)]
        return np.concatenate(chunks) if chunks else np.zeros((0, *self.image_shape), np.float32)


def load_gan(run_dir: str | os.PathLike) -> models.CycleGAN:
    """Both generators and critics of a run, rebuilt from its config.json and restored from its last checkpoint."""
    return load_run(run_dir, APP, build_gan)


def load_translator(path: str | os.PathLike) -> Translator:
    """The generators of a run directory (its export, else its checkpoint) or of an exported folder."""
    return open_model(path, APP, build_gan, Translator, "pair of generators")


def _translator(model: Translator | str | os.PathLike) -> Translator:
    return model if isinstance(model, Translator) else load_translator(model)


# ------------------------------------------------------------------------------------------------------ translating


def translate_images(model: Translator | str | os.PathLike, images: np.ndarray, direction: str = "a2b") -> np.ndarray:
    """`[N, S, S, 3]` images in [-1, 1] at the model's size, translated: the same shape, in [-1, 1]."""
    return _translator(model).translate(np.asarray(images, np.float32), direction)


def translate(model: Translator | str | os.PathLike, source: str | os.PathLike, direction: str = "a2b",
              out: str | os.PathLike | None = None) -> list[Path]:
    """Translate an image file, or every image below a folder, and save PNGs; returns the written files.

    Images are centre-cropped to squares and resized to the model's size. A file goes to `out` (default
    `STEM_DIRECTION.png`); a folder's images go below the folder `out` (default `NAME_DIRECTION`), keeping their
    relative paths with a .png suffix.
    """
    if direction not in DIRECTIONS:
        raise GanappsError(f"--direction {direction!r}: choose a2b or b2a")
    source = Path(source).expanduser()
    if not source.exists():
        raise GanappsError(f"{source}: no such image file or folder")
    translator = _translator(model)
    if source.is_dir():
        files = list_images(source)
        folder = Path(out) if out else Path(f"{source.resolve().name}_{direction}")
        targets = [folder / f.relative_to(source).with_suffix(".png") for f in files]
    else:
        files = [source]
        targets = [Path(out) if out else Path(f"{source.stem}_{direction}.png")]
        if targets[0].suffix and targets[0].suffix.lower() not in IMAGE_SUFFIXES:
            raise GanappsError(f"{targets[0]}: unknown image type; use one of {', '.join(IMAGE_SUFFIXES)}")
    size = translator.image_shape[0]
    images = np.stack([D.fit(load_image(f, channels=3), size).numpy() for f in files])
    translated = translator.translate(D.to_float(images).numpy(), direction)
    for image, target in zip(translated, targets):
        save_image(image, target)
    return targets


# ------------------------------------------------------------------------------------------------------ evaluation


@dataclass
class Score:
    """One direction's translations (`model`) or the untranslated inputs (`identity`) against the target domain."""

    direction: str
    model: str  # "cyclegan" or "identity" (G(x) = x)
    psnr: float | None = None  # synthetic pair: against the true mapping, images in [0, 1]
    ssim: float | None = None
    fid: float | None = None  # real data: against the held-out target-domain images
    kid: float | None = None
    kid_std: float | None = None


@dataclass
class Evaluation:
    scores: list[Score]
    images: int  # held-out images per domain
    data: str
    names: tuple[str, str]
    extractor: str | None = None  # feature network of FID/KID (real data)

    def of(self, direction: str, model: str) -> Score:
        return next(s for s in self.scores if s.direction == direction and s.model == model)

    def as_dicts(self) -> list[dict]:
        """One dict per direction and model (fields that do not apply left out), then a summary."""
        rows = [{k: v for k, v in asdict(s).items() if v is not None} for s in self.scores]
        summary = {"summary": True, "images": self.images, "data": self.data, "domain_a": self.names[0],
                   "domain_b": self.names[1]}
        if self.extractor:
            summary["extractor"] = self.extractor
        for direction in DIRECTIONS:
            model, identity = self.of(direction, "cyclegan"), self.of(direction, "identity")
            if model.psnr is not None:
                summary[f"psnr_gain_{direction}"] = model.psnr - identity.psnr
            else:
                summary[f"fid_drop_{direction}"] = identity.fid - model.fid
        return [*rows, summary]


def feature_extractor(name: str = "inception") -> metrics.FeatureExtractor:
    """`inception` (InceptionV3, ImageNet weights from the Keras cache) or a .keras model path."""
    return metrics.inception_v3_extractor() if name == "inception" else metrics.FeatureExtractor.load(name)


def evaluate(
    model: Translator | str | os.PathLike,
    data: str | None = None,
    domain_a: str | None = None,
    domain_b: str | None = None,
    num: int = TEST_SCENES,
    extractor: str = "inception",
    download: bool = True,
) -> Evaluation:
    """Score both directions on held-out images beside the identity baseline G(x) = x.

    Synthetic pair: PSNR and SSIM (images in [0, 1]) of G(a) against the true B rendering of the same scene, and of
    F(b) against its A rendering. Real data: FID and KID between the translated held-out images of one domain and
    the held-out images of the other, on `extractor`'s features. The data is the run's unless given.
    """
    if num < 2:
        raise GanappsError(f"--num must be at least 2, got {num}")
    translator = _translator(model)
    if data is None and domain_a is None:
        config = None if isinstance(model, Translator) or not Path(model).is_dir() else read_run_config(model, APP)
        if config is None:
            raise GanappsError(f"{model}: not a run directory, so pass --data (or --domain-a/--domain-b) to say "
                               "what to evaluate on")
        run = Config(**config["options"]["extra"][APP])
        data, domain_a, domain_b = run.data, run.domain_a, run.domain_b
    source = D.resolve(data, domain_a, domain_b)
    size = translator.image_shape[0]
    held_out = D.load(source, size, held_out=True, test_scenes=num, download=download)
    count = min(num, len(held_out.a), len(held_out.b))
    if count < 2:
        raise GanappsError(f"{source.spec}: only {count} held-out image(s) in a domain; need at least 2")
    a, b = D.to_float(held_out.a[:count]).numpy(), D.to_float(held_out.b[:count]).numpy()
    fake_b, fake_a = translator.translate(a, "a2b"), translator.translate(b, "b2a")
    cases = {"a2b": (a, fake_b, b), "b2a": (b, fake_a, a)}
    scores, name = [], None
    if held_out.paired:
        unit = lambda x: (np.clip(x, -1.0, 1.0) + 1.0) / 2.0
        for direction, (inputs, translated, truth) in cases.items():
            for label, images in (("cyclegan", translated), ("identity", inputs)):
                scores.append(Score(direction, label, psnr=float(metrics.psnr(unit(images), unit(truth))),
                                    ssim=float(metrics.ssim(unit(images), unit(truth)))))
    else:
        features = feature_extractor(extractor)
        name = features.name
        embed = lambda x: metrics.compute_features(features, x, batch_size=50, value_range=(-1.0, 1.0))[0]
        for direction, (inputs, translated, target) in cases.items():
            target_features = embed(target)
            for label, images in (("cyclegan", translated), ("identity", inputs)):
                images_features = embed(images)
                kid, kid_std = metrics.kernel_inception_distance(images_features, target_features,
                                                                 subset_size=min(1000, count))
                scores.append(Score(direction, label, fid=metrics.frechet_distance(images_features, target_features),
                                    kid=kid, kid_std=kid_std))
    return Evaluation(scores, count, source.spec, source.names, name)


# ------------------------------------------------------------------------------------------------------ export


def export(run_dir: str | os.PathLike, out: str | os.PathLike | None = None, version: int = 1) -> Path:
    """Export a run's two generators from its checkpoint: `out/a2b/VERSION` and `out/b2a/VERSION` (TF Serving
    layout). `out` defaults to the run's `export/cyclegan`, the folder training writes at its end."""
    gan = load_gan(run_dir)
    return export_model(gan, Path(out) if out else Path(run_dir) / "export" / APP, version)
