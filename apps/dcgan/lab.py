"""The DCGAN lab, usable from a notebook: train, sample, interpolate, invert, edit, evaluate and export.

    from ganapps.apps.dcgan import lab
    run = lab.train(lab.Config(data="glyphs"), lab.APP.options(out="runs/dcgan"))
    images = lab.sample("runs/dcgan", 64)                  # [64, 32, 32, 1] in [-1, 1]
    print(lab.evaluate("runs/dcgan").as_dict())           # FID/KID on held-out glyphs
    edit = lab.edit("runs/dcgan", "strokes.png", start=3)  # the sample of seed 3, changed to follow the strokes

A trained model is a `Generator` handle, a run directory, an exported SavedModel folder or None: the shipped
`dcgan_glyphs` (the default recipe on the glyphs). Generating (sample, interpolate, evaluate) uses the run's export
when there is one, else its checkpoint; inverting through discriminator features rebuilds both networks from the
checkpoint.
"""

from __future__ import annotations

import io
import os
import time
import weakref
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from ganapps.apps.dcgan.app import APP, Generator, prepare
from ganapps.apps.dcgan.recipe import INVERT_FEATURES, MODES, SHIPPED, SHIPPED_DATA, Config
from PIL import Image

from ganapps.core import glyphs, metrics, runs
from ganapps.core import imagesets as D
from ganapps.core.config import TrainOptions
from ganapps.core.console import progress_bar, working
from ganapps.core.errors import GanappsError, ParameterError, check_at_least, check_choice
from ganapps.core.images import (atomic_write_bytes, convert_channels, fit_image, image_grid, load_image,
                                 save_image, save_image_grid, to_uint8)

Model = Generator | str | os.PathLike | None  # a handle, a run directory, an export folder; None: the shipped one


@dataclass
class DcganRun:
    result: runs.TrainResult
    samples: Path  # the last epoch's sample grid


def train(config: Config | None = None, options: TrainOptions | None = None, download: bool = True,
          progress: bool = True) -> DcganRun:
    """Train on `config.data` (its held-out share is kept for `evaluate`); each epoch writes
    `samples/epoch_NNNN.png` from the same fixed latents, so epochs compare side by side."""
    options = options or APP.options()
    config = config or Config()
    if not (options.resume and (options.out / "config.json").is_file()):
        config = prepare(config, download, progress)  # reads the data once, with these download and progress
    result = runs.train(APP, config, options)
    return DcganRun(result, result.run_dir / "samples" / f"epoch_{options.epochs:04d}.png")


def sample(model: Model, num: int = 64, seed: int = 0) -> np.ndarray:
    """`num` images in [-1, 1] from standard normal latents drawn with `seed`."""
    check_at_least("num", num, 1)
    generator = runs.open_model(APP, model)
    return generator.generate(generator.latents(num, seed))


def save_grid(images, path: str | os.PathLike, columns: int | None = None) -> Path:
    """Images in [-1, 1] (an array or a list of equal-shape images) as one PNG grid; a single image is saved bare,
    without the grid's white gutter, so that it can go straight back in as an `invert` target."""
    if columns is not None:
        check_at_least("columns", columns, 1)
    images = np.stack(images)
    save_image(images[0], path) if len(images) == 1 else save_image_grid(images, path, columns)
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
    check_choice("mode", mode, MODES)
    check_at_least("steps", steps, 2)  # the two end points
    t = np.linspace(0.0, 1.0, steps)
    return (slerp(z0, z1, t) if mode == "slerp" else (1.0 - t)[:, None] * z0 + t[:, None] * z1).astype(np.float32)


@dataclass
class Interpolation:
    frames: np.ndarray  # [rows, steps, S, S, C] in [-1, 1]
    latents: np.ndarray  # [rows, steps, latent_dim]; row r runs from latents[r, 0] to latents[r, -1]


def interpolate(model: Model, steps: int = 10, mode: str = "linear", rows: int = 1, seed: int = 0) -> Interpolation:
    """Images along `rows` latent paths between random end points drawn with `seed`."""
    check_at_least("rows", rows, 1)
    generator = runs.open_model(APP, model)
    ends = generator.latents(2 * rows, seed)
    latents = np.stack([path_latents(ends[2 * r], ends[2 * r + 1], steps, mode) for r in range(rows)])
    frames = generator.generate(latents.reshape(rows * steps, -1))
    return Interpolation(frames.reshape(rows, steps, *frames.shape[1:]), latents)


def write_interpolation(frames: np.ndarray, strip: str | os.PathLike, gif: str | os.PathLike | None = None,
                        scale: int = 4, frame_ms: int = 80) -> tuple[Path, Path]:
    """A PNG strip (one row per path) and an animated GIF (default: the strip's name with .gif) that plays the
    paths forth and back, enlarged `scale`x."""
    gif = Path(gif or Path(strip).with_suffix(".gif"))
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
    return Path(strip), gif


@dataclass
class Term:
    """One group of `A - B + C`: the pool samples it picked and their mean latent."""

    spec: str
    indices: np.ndarray  # into the pool drawn with the arithmetic's seed
    latent: np.ndarray  # the mean of their latents


@dataclass
class Arithmetic:
    terms: list[Term]  # A, B, C
    members: np.ndarray  # [3, k, S, S, C]: each term's samples
    means: np.ndarray  # [3, S, S, C]: the image of each term's mean latent
    results: np.ndarray  # [1 + variants, S, S, C]: G(zA - zB + zC), then with uniform noise added
    result_digits: np.ndarray | None  # the digit classifier's reading of each result (None without classifier)
    ink: dict  # mean brightness of the images of A's, B's, C's mean latents and of the results

    def grid(self) -> np.ndarray:
        """Rows A, B, C (members, then the mean latent's image) and the result row, padded with black."""
        width = max(self.members.shape[1] + 1, len(self.results))
        blank = -np.ones(self.results.shape[1:], np.float32)
        rows = [list(self.members[k]) + [self.means[k]] for k in range(3)] + [list(self.results)]
        return np.stack([image for row in rows for image in row + [blank] * (width - len(row))]), width


def ink(images: np.ndarray) -> np.ndarray:
    """Mean brightness in [0, 1] per image (glyphs are white on black, so thicker strokes have more)."""
    return ((np.asarray(images, np.float64) + 1.0) / 2.0).mean(axis=(1, 2, 3))


def _pick(spec: str, digits: np.ndarray | None, confidence: np.ndarray | None, brightness: np.ndarray,
          members: int, name: str) -> np.ndarray:
    """The pool indices a term names: `3,17,42` or `#42` (those samples), `7` (the surest 7s), `7:thick` /
    `7:thin` (of the 7s the classifier is sure of, those with the most / least ink)."""
    text = spec.strip()
    if "," in text or text.startswith("#"):
        try:
            indices = np.array([int(part) for part in text.lstrip("#").split(",") if part.strip()])
        except ValueError:
            raise ParameterError(name, f"{spec!r}: indices are whole numbers, e.g. 3,17,42") from None
        if not len(indices) or indices.min() < 0 or indices.max() >= len(brightness):
            raise ParameterError(name, f"{spec!r}: indices must lie in 0..{len(brightness) - 1}")
        return indices
    digit, _, style = text.partition(":")
    if not digit.isdigit() or int(digit) > 9 or style not in ("", "thick", "thin"):
        raise ParameterError(name, f"{spec!r}: give a digit (7), a digit and a style (7:thick, 7:thin) or sample "
                                   "indices (3,17,42)")
    candidates = np.flatnonzero((digits == int(digit)) & (confidence > 0.9))
    if len(candidates) < members:
        raise ParameterError("pool", f"{len(brightness)} samples hold only {len(candidates)} confident {digit}s for "
                                     f"{name}={spec!r}; draw more or name sample indices")
    order = {"": -confidence, "thick": -brightness, "thin": brightness}[style][candidates]
    return candidates[np.argsort(order, kind="stable")[:members]]


def arithmetic(model: Model, a: str, b: str, c: str, members: int = 3, variants: int = 8, noise: float = 0.25,
               pool: int = 2000, seed: int = 0, classify: bool = True) -> Arithmetic:
    """Latent arithmetic (Radford et al. 2016, "vector arithmetic on face samples"): the mean latents of three
    groups of samples, combined as A - B + C, drawn with `variants` more images at uniform noise +-`noise`.

    Each term is a group of `pool` samples drawn with `seed`, named by digit and style (`7`, `7:thick`, `7:thin`,
    read by the offline digit classifier and by ink) or by sample indices (`3,17,42`, needing no classifier).
    """
    check_at_least("members", members, 1)
    check_at_least("variants", variants, 0)
    check_at_least("pool", pool, 1)
    generator = runs.open_model(APP, model)
    latents = generator.latents(pool, seed)
    images = generator.generate(latents)
    brightness = ink(images)
    digits = confidence = None
    reader = digit_extractor() if classify else None
    if classify:
        probabilities = metrics.compute_features(reader, images, value_range=(-1.0, 1.0))[1]
        digits, confidence = probabilities.argmax(axis=1), probabilities.max(axis=1)
    elif not all("," in spec or spec.strip().startswith("#") for spec in (a, b, c)):
        raise ParameterError("classify", "terms named by digit need the digit classifier; name sample indices")
    terms = []
    for name, spec in (("a", a), ("b", b), ("c", c)):
        indices = _pick(spec, digits, confidence, brightness, members, name)
        terms.append(Term(spec, indices, latents[indices].mean(axis=0)))
    target = terms[0].latent - terms[1].latent + terms[2].latent
    jitter = np.random.default_rng(seed + 1).uniform(-noise, noise, (variants, len(target)))
    results = generator.generate(np.concatenate([target[None], target + jitter]).astype(np.float32))
    means = generator.generate(np.stack([t.latent for t in terms]).astype(np.float32))
    size = max(len(t.indices) for t in terms)
    member_images = -np.ones((3, size, *images.shape[1:]), np.float32)
    for k, term in enumerate(terms):
        member_images[k, : len(term.indices)] = images[term.indices]
    result_digits = None
    if classify:
        result_digits = metrics.compute_features(reader, results, value_range=(-1.0, 1.0))[1].argmax(1)
    mean_ink = ink(means)
    return Arithmetic(terms, member_images, means, results, result_digits,
                      {"a": float(mean_ink[0]), "b": float(mean_ink[1]), "c": float(mean_ink[2]),
                       "results": float(ink(results).mean())})


def digit_classifier_path() -> Path:
    """Where the digit classifier is kept between runs: $XDG_CACHE_HOME/ganapps/dcgan (~/.cache/ganapps/dcgan)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "ganapps" / APP.name / f"digit-classifier-glyphs-v{glyphs.GLYPH_VERSION}.keras"


def digit_extractor() -> metrics.DigitFeatureExtractor:
    """The offline digit classifier as a feature extractor, trained once on glyphs and cached.

    It trains on its own glyph draw (not the images runs train or are evaluated on) with fixed seeds, so every
    run is scored by the same network and scores compare across runs on one machine.
    """
    path = digit_classifier_path()
    if path.is_file():
        return metrics.DigitFeatureExtractor(keras.saving.load_model(path, compile=False))
    images, labels = glyphs.render_glyphs(seed=1)
    with working(f"training the digit classifier that scores glyph runs (once; cached in {path})"):
        model = metrics.train_digit_classifier(images.astype(np.float32) / 255.0, labels, epochs=3, seed=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.stem}.{os.getpid()}.keras")
    model.save(staging)
    os.replace(staging, path)
    return metrics.DigitFeatureExtractor(model)


def feature_extractor(name: str = "digits", progress: bool = False) -> metrics.FeatureExtractor:
    """`digits` (offline classifier), `inception` (InceptionV3, ImageNet weights) or a .keras model path."""
    if name == "digits":
        return digit_extractor()
    if name == "inception":
        return metrics.inception_v3_extractor()
    return metrics.FeatureExtractor.load(name)


def _features(extractor: metrics.FeatureExtractor, images: np.ndarray, description: str, progress: bool,
              chunk: int = 500) -> tuple[np.ndarray, np.ndarray | None]:
    """Features (and class probabilities, or None) of images in [-1, 1], chunk by chunk so that a progress bar can
    follow."""
    starts = range(0, len(images), chunk)
    parts = [metrics.compute_features(extractor, images[i : i + chunk], batch_size=100, value_range=(-1.0, 1.0))
             for i in progress_bar(starts, len(starts), description, progress)]
    features = np.concatenate([f for f, _ in parts])
    return features, (None if parts[0][1] is None else np.concatenate([p for _, p in parts]))


def load_target(path: str | os.PathLike, image_shape: tuple[int, int, int]) -> np.ndarray:
    """An image file as the generator's shape, in [-1, 1] (centre-cropped and resized when needed)."""
    size, _, channels = image_shape
    image = fit_image(to_uint8(load_image(path, channels=3), (0.0, 1.0)), size)
    return convert_channels(image[None], channels)[0].astype(np.float32) / 127.5 - 1.0


@dataclass
class Inversion:
    target: np.ndarray  # [S, S, C] in [-1, 1], as the generator's shape
    latent: np.ndarray  # [latent_dim]
    reconstruction: np.ndarray  # [S, S, C] in [-1, 1]
    distance: float  # pixels + feature_weight * features, at the end
    initial_distance: float  # the same, at the start of the chosen restart
    pixel_distance: float  # mean squared error in [-1, 1] units
    feature_distance: float  # squared feature error relative to the target's squared feature norm


def invert(model: Model, target: np.ndarray | str | os.PathLike, features: str = "discriminator", steps: int = 300,
           learning_rate: float = 0.05, restarts: int = 4, feature_weight: float = 1.0, seed: int = 0,
           progress: bool = False) -> Inversion:
    """Find z with G(z) close to `target`: Adam on z over pixel error plus feature error, from `restarts` starts.

    Features come from the run's discriminator (its last feature map; needs the run's checkpoint), the
    offline digit classifier, or none (`pixels`). The best restart is returned.
    """
    check_choice("features", features, INVERT_FEATURES)
    check_at_least("steps", steps, 1)
    check_at_least("restarts", restarts, 1)
    if features == "discriminator":
        if isinstance(model, Generator) or model is None or not (Path(model) / "config.json").is_file():
            raise ParameterError("model", f"{model or SHIPPED}: discriminator features need a run directory (a "
                                 "handle, an export and the shipped model hold only the generator); use features "
                                 "'digits' or 'pixels'")
        gan = runs.load(APP, model)
        generator = Generator.from_keras(gan.sampling_generator, str(model))
        last_map = keras.Model(gan.discriminator.inputs, gan.discriminator.get_layer("features").output)
        # The discriminator's flattened last feature map (float32 from a mixed-precision run too), with the image
        # repeated to fill a packed input.
        def extract(x):
            return tf.cast(last_map(tf.concat([x] * gan.pack, axis=-1), training=False), tf.float32)
    else:
        generator = runs.open_model(APP, model)
        extract = None
        if features == "digits":
            digits = digit_extractor()
            extract = lambda x: digits((x + 1.0) / 2.0)[0]  # noqa: E731
    if not isinstance(target, np.ndarray):
        target = load_target(target, generator.image_shape)
    if tuple(target.shape) != generator.image_shape:
        raise ParameterError("target", f"has shape {target.shape}, the generator makes {generator.image_shape}")
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
    for _ in progress_bar(range(steps - 1), steps - 1, "inverting", progress):
        step()
    images = generator(z)
    pixels, feats = (t.numpy() for t in distances(images))
    total = pixels + feature_weight * feats
    best = int(np.argmin(total))
    return Inversion(target, z.numpy()[best], np.asarray(images)[best], float(total[best]), float(initial[best]),
                     float(pixels[best]), float(feats[best]))


# A stroke image without transparency marks the pixels brighter than this (in [0, 1], any channel) as drawn: the
# glyphs are white on black, so strokes are painted in light on a black canvas; the margin keeps PNG rounding and
# mild JPEG noise in the black background from counting as strokes.
STROKE_THRESHOLD = 8 / 255


def _fit_float(image: np.ndarray, size: int) -> np.ndarray:
    """A float HWC image centre-cropped to a square and area-resized to `size` (area keeps coverage: a mask's
    weights stay the share of each output pixel that was drawn)."""
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = image[top : top + side, left : left + side]
    if side == size:
        return square.astype(np.float32)
    return tf.image.resize(square[None], (size, size), method="area").numpy()[0].astype(np.float32)


def load_strokes(strokes: np.ndarray | str | os.PathLike, mask: np.ndarray | str | os.PathLike | None,
                 image_shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Stroke colours `[S, S, C]` in [-1, 1] and their weights `[S, S, 1]` in [0, 1] at the generator's shape.

    `strokes` is an image file or an array `[H, W, 1 | 3]` in [-1, 1]. The drawn pixels are, in this order: `mask`
    where given (a file's or array's brightness in [0, 1]: white constrains, black leaves free; it must match the
    strokes' size), else a file's opacity where it has transparency (an RGBA painting over nothing: fully
    transparent pixels are free, half-transparent ones count half), else every pixel brighter than black
    (`STROKE_THRESHOLD`): light strokes on a black canvas. A black stroke (erasing ink) therefore needs
    transparency or a mask. Both are centre-cropped and resized like an `invert` target; colours are resized
    weighted by coverage, so a stroke's edge keeps its colour instead of fading into the unused background.
    """
    if isinstance(strokes, np.ndarray):
        if strokes.ndim != 3 or strokes.shape[-1] not in (1, 3):
            raise ParameterError("strokes", f"has shape {strokes.shape}: give [height, width, 1 or 3] in [-1, 1]")
        colour = (np.asarray(strokes, np.float32) + 1.0) / 2.0
        opacity = None
    else:
        rgba = load_image(strokes, channels=4)  # a file's own errors name it: missing, a folder, not an image
        colour, opacity = rgba[..., :3], rgba[..., 3:]
        if opacity.min() >= 1.0:
            opacity = None  # no transparency: the black-background convention decides
    if mask is not None:
        weight = load_image(mask, channels=1) if not isinstance(mask, np.ndarray) else np.asarray(mask, np.float32)
        weight = weight[..., None] if weight.ndim == 2 else weight
        if weight.ndim != 3 or weight.shape[-1] != 1:
            raise ParameterError("mask", f"has shape {weight.shape}: give [height, width] or [height, width, 1]")
        if weight.shape[:2] != colour.shape[:2]:
            raise ParameterError("mask", f"is {weight.shape[1]}x{weight.shape[0]} pixels, the strokes "
                                         f"{colour.shape[1]}x{colour.shape[0]}: draw it at the strokes' size")
        weight = np.clip(weight, 0.0, 1.0)
    elif opacity is not None:
        weight = opacity
    else:
        weight = (colour.max(axis=-1, keepdims=True) > STROKE_THRESHOLD).astype(np.float32)
    size, _, channels = image_shape
    premultiplied = _fit_float(colour * weight, size)
    weight = _fit_float(weight, size)
    colour = np.where(weight > 0, premultiplied / np.maximum(weight, 1e-8), 0.0)
    if not weight.sum() > 0:
        where = ("mask", "is black everywhere") if mask is not None else (
            "strokes", "has nothing drawn: without transparency only pixels brighter than black count; paint "
                       "light strokes on black or on a transparent canvas, or give a mask")
        raise ParameterError(*where)
    return convert_channels(colour, channels) * 2.0 - 1.0, weight


@dataclass
class Edit:
    strokes: np.ndarray  # [S, S, C] in [-1, 1]: the stroke colours at the model's size (meaningful where drawn)
    mask: np.ndarray  # [S, S, 1] in [0, 1]: each pixel's weight in the stroke distance
    start: np.ndarray  # [S, S, C]: the image of the start latent
    start_latent: np.ndarray  # [latent_dim]
    result: np.ndarray  # [S, S, C]: the image of the edited latent
    latent: np.ndarray  # [latent_dim]
    frames: np.ndarray  # [frames, S, S, C]: from the start image to the result
    stroke_distance_before: float  # masked mean squared error of the start image against the strokes
    stroke_distance_after: float  # the same, of the result
    latent_distance: float  # root mean squared change of the latent per dimension, start to result
    restart: int  # the starting point that won (0: the start latent itself)
    seconds: float  # wall time of the edit once the model was open (on a handle's first edit: tracing included)


# Per generator handle, the compiled edit loop: strokes, settings and step counts are its inputs, so a notebook
# editing one model again and again traces it once.
_EDITORS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
ADAM = (0.9, 0.999, 1e-8)  # beta1, beta2, epsilon (Kingma & Ba 2015)


def _editor(generator: Generator):
    """The compiled edit: Adam on a batch of latents over the stroke, prior, keep and start terms, all steps in one
    graph loop (`tf.while_loop`), the optimiser's moments as loop variables rather than Keras state, so that the
    loop and its Adam are one function whose learning rate, weights and step count are inputs."""
    if generator in _EDITORS:
        return _EDITORS[generator]
    dim = generator.latent_dim
    size, _, channels = generator.image_shape
    beta1, beta2, epsilon = ADAM
    scalar = tf.TensorSpec([], tf.float32)
    image = tf.TensorSpec([size, size, channels], tf.float32)

    @tf.function(input_signature=[tf.TensorSpec([None, dim], tf.float32), tf.TensorSpec([dim], tf.float32), image,
                                  image, tf.TensorSpec([size, size, 1], tf.float32), tf.TensorSpec([], tf.int32),
                                  scalar, scalar, scalar, scalar])
    def optimise(z, z0, original, colour, weight, steps, learning_rate, prior_weight, keep_weight, start_weight):
        free = 1.0 - weight

        def objective(z):
            images = tf.cast(generator(z), tf.float32)
            stroke = tf.reduce_sum(weight * tf.square(images - colour), axis=[1, 2, 3]) / (
                tf.reduce_sum(weight) * channels)
            kept = tf.reduce_sum(free * tf.square(images - original), axis=[1, 2, 3]) / (
                tf.reduce_sum(free) * channels + 1e-8)
            shell = tf.square(tf.norm(z, axis=1) / np.sqrt(dim) - 1.0)  # off the Gaussian's typical norm
            near = tf.reduce_mean(tf.square(z - z0), axis=1)
            return stroke, stroke + prior_weight * shell + keep_weight * kept + start_weight * near

        def step(t, z, m, v):
            with tf.GradientTape() as tape:
                tape.watch(z)
                loss = tf.reduce_sum(objective(z)[1])  # the starts are independent: each z gets its own gradient
            gradient = tape.gradient(loss, z)
            t += 1
            m = beta1 * m + (1.0 - beta1) * gradient
            v = beta2 * v + (1.0 - beta2) * tf.square(gradient)
            n = tf.cast(t, tf.float32)
            z -= learning_rate * (m / (1.0 - beta1**n)) / (tf.sqrt(v / (1.0 - beta2**n)) + epsilon)
            return t, z, m, v

        zeros = tf.zeros_like(z)
        _, z, _, _ = tf.while_loop(lambda t, *_: t < steps, step, (tf.constant(0), z, zeros, zeros))
        stroke, total = objective(z)
        return z, stroke, total

    _EDITORS[generator] = optimise
    return optimise


def edit(model: Model, strokes: np.ndarray | str | os.PathLike, mask: np.ndarray | str | os.PathLike | None = None,
         start: int | np.ndarray = 0, steps: int = 100, learning_rate: float = 0.1, prior_weight: float = 1.0,
         keep_weight: float = 1.0, start_weight: float = 0.05, restarts: int = 8, frames: int = 8,
         seed: int = 0) -> Edit:
    """Change an image to follow the user's strokes while staying a plausible sample (Zhu et al. 2016, "Generative
    visual manipulation on the natural image manifold", iGAN): Adam on z, from several starts, for

        stroke + prior_weight * (|z| / sqrt(d) - 1)^2 + keep_weight * kept + start_weight * mean((z - z_start)^2)

    `stroke` is G(z)'s mean squared error against the strokes where they are drawn (`load_strokes` says which
    pixels and how much); it is the distance reported before (the start image) and after (the result).
    Searching z rather than pixels keeps the result on the learnt manifold. The prior term keeps z at the norm
    Gaussian latents have (the shell where training met its latents; the mean's image is a blur). `kept` is the
    same error over the undrawn pixels against the start image: light strokes on black leave the background
    unconstrained, and on the glyph model the cheapest way to add ink where drawn was then to add it everywhere
    (results turned into blobs, or into another digit with ink in the drawn place), so the edit is kept local;
    `keep_weight=0` is iGAN's objective, which trusts the manifold alone. The start term (iGAN's smoothness term)
    keeps z close to where it began. `start` is a seed (the image `sample(model, 1, seed)` makes) or a latent
    (e.g. an `Inversion`'s).

    As in iGAN several starts run together, one generator call per step for all of them: the start latent and
    `restarts - 1` standard normal draws with `seed`; the lowest objective wins, so a random start wins only when
    it pays for its distance from the start image by matching better. `frames` images along the great circle from
    the start latent to the result show the edit as a morph (iGAN's interpolation; the great circle keeps the
    Gaussian norm where a line would dip).
    """
    check_at_least("steps", steps, 1)
    check_at_least("restarts", restarts, 1)
    check_at_least("frames", frames, 2)
    check_at_least("learning_rate", learning_rate, 0.0)
    check_at_least("prior_weight", prior_weight, 0.0)
    check_at_least("keep_weight", keep_weight, 0.0)
    check_at_least("start_weight", start_weight, 0.0)
    generator = runs.open_model(APP, model)
    began = time.perf_counter()
    colour, weight = load_strokes(strokes, mask, generator.image_shape)
    if isinstance(start, (int, np.integer)):
        z0 = generator.latents(1, int(start))[0]
    else:
        z0 = np.asarray(start, np.float32).reshape(-1)
        if z0.shape != (generator.latent_dim,):
            raise ParameterError("start", f"has {z0.size} numbers, the generator's latent has {generator.latent_dim}")
    starts = generator.latents(restarts, seed)
    starts[0] = z0
    original = generator.generate(z0[None])[0]
    z, stroke, total = _editor(generator)(starts, z0, original, colour, weight, tf.constant(steps, tf.int32),
                                          *(tf.constant(x, tf.float32) for x in (learning_rate, prior_weight,
                                                                                 keep_weight, start_weight)))
    best = int(np.argmin(total.numpy()))
    latent = z.numpy()[best]
    images = generator.generate(path_latents(z0, latent, frames, "slerp"))
    before = float(np.sum(weight * np.square(images[0] - colour)) / (np.sum(weight) * colour.shape[-1]))
    return Edit(colour, weight, images[0], z0, images[-1], latent, images, before, float(stroke.numpy()[best]),
                float(np.sqrt(np.mean(np.square(latent - z0)))), best, time.perf_counter() - began)


READABLE = 0.9  # the digit classifier's probability above which a digit counts as readable


@dataclass
class ClassCounts:
    """What the digit classifier reads in a set of images: per digit, the share of the images read as it and the
    share of those read with probability >= `READABLE`."""

    shares: list[float]
    readable: list[float | None]  # None: no image read as that digit
    readable_overall: float

    @classmethod
    def of(cls, probabilities: np.ndarray) -> ClassCounts:
        digits, confident = probabilities.argmax(axis=1), probabilities.max(axis=1) >= READABLE
        classes = probabilities.shape[1]
        shares = [float(np.mean(digits == k)) for k in range(classes)]
        readable = [float(np.mean(confident[digits == k])) if np.any(digits == k) else None for k in range(classes)]
        return cls(shares, readable, float(np.mean(confident)))

    @property
    def balance(self) -> float:
        """The rarest digit's share over the most common one's (1: uniform; 0: a digit is missing)."""
        return min(self.shares) / max(self.shares)


@dataclass
class Evaluation:
    fid: float
    kid: float
    kid_std: float | None  # None: too few samples to draw distinct subsets from
    num_samples: int  # generated images, and as many held-out real ones
    extractor: str
    data: str
    classes: ClassCounts | None = None  # the digits extractor's reading of the generated images
    real_classes: ClassCounts | None = None  # ... and of the held-out real ones, for scale

    def as_dict(self) -> dict:
        return asdict(self)


def class_grid(images: np.ndarray, probabilities: np.ndarray, columns: int = 10) -> np.ndarray:
    """One row per digit: the first `columns` images (in sample order, not the best) the classifier reads as that
    digit, blank (-1) where fewer are; `[classes * columns, H, W, C]` for `save_image_grid(..., columns)`."""
    digits = probabilities.argmax(axis=1)
    rows = -np.ones((probabilities.shape[1], columns, *images.shape[1:]), np.float32)
    for k in range(probabilities.shape[1]):
        members = images[digits == k][:columns]
        rows[k, : len(members)] = members
    return rows.reshape(-1, *images.shape[1:])


def evaluate(model: Model | None = None, data: str | None = None, extractor: str = "digits", num: int = 2000,
             seed: int = 0, grid: str | os.PathLike | None = None, download: bool = True,
             progress: bool = False) -> Evaluation:
    """FID and KID of `num` generated images against as many held-out real images (fewer if fewer are held out).

    The real images are the held-out share of the run's data (or of `data`; the glyphs for the shipped model,
    `model` None), never seen in training. Scores compare only between evaluations with the same extractor, data
    and sample count. With the digits extractor the classifier's reading of both sets is counted per digit
    (`ClassCounts`), and `grid` writes a PNG with one row per digit (`class_grid`).
    """
    check_at_least("num", num, 2)
    generator = runs.open_model(APP, model)
    if data is None and model in (None, SHIPPED):
        data = SHIPPED_DATA
    if data is None:
        record = None if isinstance(model, Generator) else runs.read_run(model, APP)
        if record is None:
            raise ParameterError("data", f"must be given: {model} is not a run directory, so name the real images "
                                         "to compare with")
        data = record.config.data
    features = feature_extractor(extractor, progress)
    size, _, channels = generator.image_shape
    _, held_out = D.split(D.load(data, size, channels, download=download, progress=progress))
    count = min(num, len(held_out))
    if count < 2:
        raise GanappsError(f"{data}: only {len(held_out)} held-out images; FID needs at least 2")
    real = held_out.images[:count].astype(np.float32) / 127.5 - 1.0
    fake = generator.generate(generator.latents(count, seed), progress=progress)
    real_features, real_probabilities = _features(features, real, "features of real images", progress)
    fake_features, fake_probabilities = _features(features, fake, "features of generated images", progress)
    kid, kid_std = metrics.kernel_inception_distance(real_features, fake_features, subset_size=min(1000, count))
    counted = fake_probabilities is not None
    if grid is not None:
        if not counted:
            raise ParameterError("grid", f"needs an extractor that classifies (digits), not {features.name}")
        save_image_grid(class_grid(fake, fake_probabilities), grid, columns=10)
    return Evaluation(metrics.frechet_distance(real_features, fake_features), kid, kid_std, count, features.name,
                      data, ClassCounts.of(fake_probabilities) if counted else None,
                      ClassCounts.of(real_probabilities) if counted else None)


def export(run_dir: str | os.PathLike, out: str | os.PathLike | None = None, version: int = 1,
           format: str = "saved_model") -> Path:
    """A run's sampling generator from its checkpoint as a SavedModel at `out/version` (TF Serving layout); `out`
    defaults to the run's `export/dcgan`, the folder training writes at its end."""
    return runs.export(APP, run_dir, out, version, format)
