"""The DCGAN lab, usable from a notebook: train, sample, interpolate, invert, evaluate and export.

    from ganapps.apps.dcgan import lab
    run = lab.train("glyphs", lab.default_options(out="runs/dcgan"))
    images = lab.sample("runs/dcgan", 64)                  # [64, 32, 32, 1] in [-1, 1]
    print(lab.evaluate("runs/dcgan").as_dict())           # FID/KID on held-out glyphs

A trained model is named by its run directory or by an exported SavedModel folder. Generating (sample,
interpolate, evaluate) uses the run's export when there is one, else its checkpoint; inverting through
discriminator features and re-exporting rebuild both networks from the checkpoint.
"""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from ganapps.core import imagesets as D
from ganapps.core.console import console
from ganapps.apps.dcgan import models
from ganapps.apps.dcgan.recipe import (
    DEFAULT_DATA,
    DEFAULTS,
    GRID_SAMPLES,
    IMAGE_SIZE,
    LATENT_DIM,
    WIDTH,
)
from PIL import Image

from ganapps.core import glyphs, metrics
from ganapps.core.data import array_dataset, to_float
from ganapps.core.errors import GanappsError
from ganapps.core.export import export_generator
from ganapps.core.export import load_generator as load_saved_model
from ganapps.core.gan import GAN
from ganapps.core.images import (
    atomic_write_bytes,
    image_grid,
    load_image,
    save_image,
    save_image_grid,
    to_uint8,
)
from ganapps.core.runs import (
    TrainOptions,
    TrainResult,
    compile_gan,
    load_run,
    open_model,
    read_run_config,
    train_gan,
)

APP = "dcgan"
MODES = ("linear", "slerp")
INVERT_FEATURES = ("discriminator", "digits", "pixels")
EXTRACTORS = ("digits", "inception")


def default_options(**overrides) -> TrainOptions:
    """The lab's default training options, with any field overridden."""
    return TrainOptions(**{**DEFAULTS, "out": Path("runs") / APP, **overrides})


# ------------------------------------------------------------------------------------------------------ training


@dataclass(frozen=True)
class Architecture:
    """What rebuilds a run's networks; saved in its config.json (under options.extra)."""

    image_size: int = IMAGE_SIZE
    channels: int = 1
    latent_dim: int = LATENT_DIM
    width: int = WIDTH
    data: str = DEFAULT_DATA

    @classmethod
    def of(cls, options: TrainOptions) -> Architecture:
        return cls(**options.extra.get(APP, {}))


def build_gan(options: TrainOptions) -> GAN:
    """The compiled DCGAN for `options`; the discriminator drops batch norm under a gradient or R1 penalty."""
    arch = Architecture.of(options)
    penalised = bool(options.gp_weight or options.r1_weight)
    generator = models.generator(arch.image_size, arch.channels, arch.latent_dim, arch.width)
    discriminator = models.discriminator(arch.image_size, arch.channels, arch.width, batch_norm=not penalised,
                                         pack=options.pack, features=bool(options.feature_matching))
    gan = GAN(generator, discriminator, ema_decay=options.ema or None, pack=options.pack, seed=options.seed)
    return compile_gan(gan, options)


@dataclass
class DcganRun:
    result: TrainResult
    samples: Path  # the last epoch's sample grid


def train(
    data: str = DEFAULT_DATA,
    options: TrainOptions | None = None,
    image_size: int = IMAGE_SIZE,
    channels: int | None = None,
    latent_dim: int = LATENT_DIM,
    width: int = WIDTH,
    download: bool = True,
    progress: bool = True,
) -> DcganRun:
    """Train on `glyphs`, an image folder or `tfds:NAME` (its held-out share is kept for `evaluate`).

    Each epoch writes `samples/epoch_NNNN.png` from the same fixed latents, so epochs compare side by side.
    """
    models.check_shape(image_size, channels or 1)
    options = options or default_options()
    images = D.load(data, image_size, channels, download=download, progress=progress)
    training, _ = D.split(images)
    source = data if data == D.GLYPHS or data.startswith(D.TFDS_PREFIX) else str(Path(data).expanduser().resolve())
    arch = Architecture(image_size, images.channels, latent_dim, width, source)
    options = replace(options, extra={**options.extra, APP: asdict(arch)})

    def dataset(start_step: int) -> tf.data.Dataset:
        return array_dataset(training.images, options.batch_size, options.seed, start_step).map(to_float)

    def write_samples(gan: GAN, path: Path) -> None:
        save_image_grid(gan.sample(GRID_SAMPLES, seed=options.seed + 1), path)

    result = train_gan(APP, options, build_gan, dataset, write_samples)
    return DcganRun(result, result.run_dir / "samples" / f"epoch_{options.epochs:04d}.png")


# ------------------------------------------------------------------------------------------------------ loading


class Generator:
    """A trained generator: latents `[N, latent_dim]` in, images `[N, S, S, C]` in [-1, 1] out (differentiable)."""

    def __init__(self, function, latent_dim: int, image_shape: tuple[int, int, int], source: str):
        self.function = function
        self.latent_dim = latent_dim
        self.image_shape = image_shape
        self.source = source

    @classmethod
    def from_keras(cls, model: keras.Model, source: str) -> Generator:
        return cls(lambda z: model(z, training=False), int(model.inputs[0].shape[-1]),
                   tuple(model.outputs[0].shape[1:]), source)

    @classmethod
    def from_saved_model(cls, path: Path) -> Generator:
        signature = load_saved_model(path)
        (name, spec), = signature.structured_input_signature[1].items()
        output_name, output = next(iter(signature.structured_outputs.items()))
        return cls(lambda z: signature(**{name: z})[output_name], int(spec.shape[-1]), tuple(output.shape[1:]),
                   str(path))

    def __call__(self, latents: tf.Tensor) -> tf.Tensor:
        return self.function(tf.convert_to_tensor(latents, tf.float32))

    def latents(self, num: int, seed: int = 0) -> np.ndarray:
        """Standard normal latents, the same draw as `GAN.sample(num, seed=seed)`."""
        return np.random.default_rng(seed).standard_normal((num, self.latent_dim)).astype(np.float32)

    def generate(self, latents: np.ndarray, batch_size: int = 256, progress: bool = False) -> np.ndarray:
        starts = range(0, len(latents), batch_size)
        batches = [np.asarray(self(latents[i : i + batch_size]))
                   for i in D.progress_bar(starts, len(starts), "generating", progress)]
        return np.concatenate(batches) if batches else np.zeros((0, *self.image_shape), np.float32)


def load_gan(run_dir: str | os.PathLike) -> GAN:
    """Both networks of a run, rebuilt from its config.json and restored from its last checkpoint."""
    return load_run(run_dir, APP, build_gan)


def load_generator(path: str | os.PathLike) -> Generator:
    """The generator of a run directory (its export, else its checkpoint) or of an exported SavedModel folder."""
    return open_model(path, APP, build_gan, Generator, "generator")


def _generator(model: Generator | str | os.PathLike) -> Generator:
    return model if isinstance(model, Generator) else load_generator(model)


# ------------------------------------------------------------------------------------------------------ sampling


def sample(model: Generator | str | os.PathLike, num: int = 64, seed: int = 0) -> np.ndarray:
    """`num` images in [-1, 1] from standard normal latents drawn with `seed`."""
    generator = _generator(model)
    return generator.generate(generator.latents(num, seed))


def save_grid(images, path: str | os.PathLike, columns: int | None = None) -> Path:
    """Images in [-1, 1] (an array or a list of equal-shape images) as one PNG grid.

    A single image is saved bare, without the grid's white gutter, so that it can go straight back in as an
    `invert` target.
    """
    images = np.stack(images)
    if len(images) == 1:
        save_image(images[0], path)
    else:
        save_image_grid(images, path, columns)
    return Path(path)


def slerp(z0: np.ndarray, z1: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Spherical interpolation (White 2016): Gaussian latents keep a typical norm along the path, unlike a line."""
    cos = np.dot(z0, z1) / (np.linalg.norm(z0) * np.linalg.norm(z1))
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    if np.sin(omega) < 1e-6:
        return (1.0 - t)[:, None] * z0 + t[:, None] * z1
    return (np.sin((1.0 - t) * omega)[:, None] * z0 + np.sin(t * omega)[:, None] * z1) / np.sin(omega)


def path_latents(z0: np.ndarray, z1: np.ndarray, steps: int, mode: str = "linear") -> np.ndarray:
    """`steps` latents from `z0` to `z1` inclusive, evenly spaced in t."""
    if mode not in MODES:
        raise GanappsError(f"--mode {mode!r}: choose {' or '.join(MODES)}")
    if steps < 2:
        raise GanappsError(f"--steps must be at least 2 (the two end points), got {steps}")
    t = np.linspace(0.0, 1.0, steps)
    if mode == "linear":
        return ((1.0 - t)[:, None] * z0 + t[:, None] * z1).astype(np.float32)
    return slerp(z0, z1, t).astype(np.float32)


@dataclass
class Interpolation:
    frames: np.ndarray  # [rows, steps, S, S, C] in [-1, 1]
    latents: np.ndarray  # [rows, steps, latent_dim]; row r runs from latents[r, 0] to latents[r, -1]


def interpolate(
    model: Generator | str | os.PathLike, steps: int = 10, mode: str = "linear", rows: int = 1, seed: int = 0
) -> Interpolation:
    """Images along `rows` latent paths between random end points drawn with `seed`."""
    if rows < 1:
        raise GanappsError(f"--rows must be at least 1, got {rows}")
    generator = _generator(model)
    ends = generator.latents(2 * rows, seed)
    latents = np.stack([path_latents(ends[2 * r], ends[2 * r + 1], steps, mode) for r in range(rows)])
    frames = generator.generate(latents.reshape(rows * steps, -1))
    return Interpolation(frames.reshape(rows, steps, *frames.shape[1:]), latents)


def write_interpolation(frames: np.ndarray, strip: str | os.PathLike, gif: str | os.PathLike,
                        scale: int = 4, frame_ms: int = 80) -> tuple[Path, Path]:
    """A PNG strip (one row per path) and an animated GIF that plays the paths forth and back, enlarged `scale`x."""
    rows, steps = frames.shape[:2]
    save_image_grid(frames.reshape(rows * steps, *frames.shape[2:]), strip, columns=steps)
    pictures = []
    for step in range(steps):
        column = to_uint8(image_grid(frames[:, step], columns=1))
        picture = Image.fromarray(column[..., 0] if column.shape[-1] == 1 else column)
        pictures.append(picture.resize((picture.width * scale, picture.height * scale), Image.Resampling.NEAREST))
    loop = pictures + pictures[-2:0:-1]
    buffer = io.BytesIO()
    loop[0].save(buffer, format="GIF", save_all=True, append_images=loop[1:], duration=frame_ms, loop=0)
    atomic_write_bytes(gif, buffer.getvalue())
    return Path(strip), Path(gif)


# ------------------------------------------------------------------------------------------------------ features


def cache_dir() -> Path:
    """Where trained helper models are kept between runs: $XDG_CACHE_HOME/ganapps (~/.cache/ganapps)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ganapps"


def digit_classifier_path() -> Path:
    return cache_dir() / APP / f"digit-classifier-glyphs-v{glyphs.GLYPH_VERSION}.keras"


def digit_extractor(progress: bool = False) -> metrics.DigitFeatureExtractor:
    """The offline digit classifier as a feature extractor, trained once on glyphs and cached.

    It trains on its own glyph draw (not the images runs train or are evaluated on) with fixed seeds, so every
    run is scored by the same network and scores compare across runs on one machine.
    """
    path = digit_classifier_path()
    if path.is_file():
        return metrics.DigitFeatureExtractor(keras.saving.load_model(path, compile=False))
    images, labels = glyphs.render_glyphs(seed=1)
    status = console().status(f"training the digit classifier (once; cached in {path})")
    with status if progress else contextlib.nullcontext():
        model = metrics.train_digit_classifier(images.astype(np.float32) / 255.0, labels, epochs=3, seed=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.stem}.{os.getpid()}.keras")
    model.save(staging)
    os.replace(staging, path)
    return metrics.DigitFeatureExtractor(model)


def feature_extractor(name: str = "digits", progress: bool = False) -> metrics.FeatureExtractor:
    """`digits` (offline classifier), `inception` (InceptionV3, ImageNet weights) or a .keras model path."""
    if name == "digits":
        return digit_extractor(progress)
    if name == "inception":
        return metrics.inception_v3_extractor()
    return metrics.FeatureExtractor.load(name)


def _features(extractor: metrics.FeatureExtractor, images: np.ndarray, description: str, progress: bool,
              chunk: int = 500) -> np.ndarray:
    """Features of images in [-1, 1], chunk by chunk so that a progress bar can follow."""
    starts = range(0, len(images), chunk)
    return np.concatenate([
        metrics.compute_features(extractor, images[i : i + chunk], batch_size=100, value_range=(-1.0, 1.0))[0]
        for i in D.progress_bar(starts, len(starts), description, progress)
    ])


# ------------------------------------------------------------------------------------------------------ inversion


def load_target(path: str | os.PathLike, image_shape: tuple[int, int, int]) -> np.ndarray:
    """An image file as the generator's shape, in [-1, 1] (centre-cropped and resized when needed)."""
    size, _, channels = image_shape
    image = D.fit_image(to_uint8(load_image(path, channels=3), (0.0, 1.0)), size)
    return D.convert_channels(image[None], channels)[0].astype(np.float32) / 127.5 - 1.0


@dataclass
class Inversion:
    target: np.ndarray  # [S, S, C] in [-1, 1], as the generator's shape
    latent: np.ndarray  # [latent_dim]
    reconstruction: np.ndarray  # [S, S, C] in [-1, 1]
    distance: float  # pixels + feature_weight * features, at the end
    initial_distance: float  # the same, at the start of the chosen restart
    pixel_distance: float  # mean squared error in [-1, 1] units
    feature_distance: float  # squared feature error relative to the target's squared feature norm


def invert(
    model: str | os.PathLike | Generator,
    target: np.ndarray | str | os.PathLike,
    features: str = "discriminator",
    steps: int = 300,
    learning_rate: float = 0.05,
    restarts: int = 4,
    feature_weight: float = 1.0,
    seed: int = 0,
    progress: bool = False,
) -> Inversion:
    """Find z with G(z) close to `target`: Adam on z over pixel error plus feature error, from `restarts` starts.

    Features come from the run's discriminator (its last feature map; needs the run's checkpoint), the
    offline digit classifier, or none (`pixels`). The best restart is returned.
    """
    if features not in INVERT_FEATURES:
        raise GanappsError(f"--features {features!r}: choose one of {', '.join(INVERT_FEATURES)}")
    if steps < 1 or restarts < 1:
        raise GanappsError("--steps and --restarts must be at least 1")
    if features == "discriminator":
        if isinstance(model, Generator):
            raise GanappsError("discriminator features need a run directory, not a loaded generator")
        gan = load_gan(model)
        generator = Generator.from_keras(gan.sampling_generator, str(model))
        extract = _discriminator_features(gan)
    else:
        generator = _generator(model)
        extract = None
        if features == "digits":
            digits = digit_extractor(progress)
            extract = lambda x: digits((x + 1.0) / 2.0)[0]  # noqa: E731
    if not isinstance(target, np.ndarray):
        target = load_target(target, generator.image_shape)
    if tuple(target.shape) != generator.image_shape:
        raise GanappsError(f"target has shape {target.shape}, the generator makes {generator.image_shape}")
    goal = tf.constant(target[None], tf.float32)
    goal_features = extract(goal) if extract else None

    def distances(images):
        pixels = tf.reduce_mean(tf.square(images - goal), axis=[1, 2, 3])
        if extract is None:
            return pixels, tf.zeros_like(pixels)
        gap = tf.reduce_sum(tf.square(extract(images) - goal_features), axis=1)
        return pixels, gap / (tf.reduce_sum(tf.square(goal_features)) + 1e-8)

    z = keras.Variable(generator.latents(restarts, seed), name="latents")
    optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build([z])

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            pixels, feats = distances(generator(z))
            total = pixels + feature_weight * feats
            loss = tf.reduce_sum(total)  # the restarts are independent: each z gets its own gradient
        optimizer.apply_gradients([(tape.gradient(loss, z), z)])
        return total

    initial = step().numpy()
    for _ in D.progress_bar(range(steps - 1), steps - 1, "inverting", progress):
        step()
    images = generator(z)
    pixels, feats = (t.numpy() for t in distances(images))
    total = pixels + feature_weight * feats
    best = int(np.argmin(total))
    return Inversion(target, z.numpy()[best], np.asarray(images)[best], float(total[best]), float(initial[best]),
                     float(pixels[best]), float(feats[best]))


def _discriminator_features(gan: GAN):
    """The discriminator's flattened last feature map, with the image repeated to fill a packed input."""
    discriminator = gan.discriminator
    model = keras.Model(discriminator.inputs, discriminator.get_layer("features").output)
    return lambda x: model(tf.concat([x] * gan.pack, axis=-1), training=False)


# ------------------------------------------------------------------------------------------------------ evaluation


@dataclass
class Evaluation:
    fid: float
    kid: float
    kid_std: float
    num_samples: int  # generated images, and as many held-out real ones
    extractor: str
    data: str

    def as_dict(self) -> dict:
        return asdict(self)


def evaluate(
    model: Generator | str | os.PathLike,
    data: str | None = None,
    extractor: str = "digits",
    num: int = 2000,
    seed: int = 0,
    download: bool = True,
    progress: bool = False,
) -> Evaluation:
    """FID and KID of `num` generated images against as many held-out real images (fewer if fewer are held out).

    The real images are the held-out share of the run's data (or of `data`), never seen in training. Scores
    compare only between evaluations with the same extractor, data and sample count.
    """
    generator = _generator(model)
    config = None if isinstance(model, Generator) or not Path(model).is_dir() else read_run_config(model, APP)
    if data is None:
        if config is None:
            raise GanappsError(f"{model}: not a run directory, so pass --data to say what real images to compare with")
        data = config["options"]["extra"][APP]["data"]
    features = feature_extractor(extractor, progress)
    size, _, channels = generator.image_shape
    _, held_out = D.split(D.load(data, size, channels, download=download, progress=progress))
    count = min(num, len(held_out))
    if count < 2:
        raise GanappsError(f"{data}: only {len(held_out)} held-out images; FID needs at least 2")
    real = held_out.images[:count].astype(np.float32) / 127.5 - 1.0
    fake = generator.generate(generator.latents(count, seed), progress=progress)
    real_features = _features(features, real, "features of real images", progress)
    fake_features = _features(features, fake, "features of generated images", progress)
    kid, kid_std = metrics.kernel_inception_distance(real_features, fake_features, subset_size=min(1000, count))
    return Evaluation(metrics.frechet_distance(real_features, fake_features), kid, kid_std, count, features.name,
                      data)


# ------------------------------------------------------------------------------------------------------ export


def export(run_dir: str | os.PathLike, out: str | os.PathLike | None = None, version: int = 1) -> Path:
    """Export a run's sampling generator from its checkpoint as a SavedModel at `out/version` (TF Serving layout).

    `out` defaults to the run's `export/dcgan`, the folder training writes at its end.
    """
    gan = load_gan(run_dir)
    return export_generator(gan.sampling_generator, Path(out) if out else Path(run_dir) / "export" / APP, version)
