"""Where the two domains come from, and the unpaired, jittered training batches.

- `synthetic` (the default, offline): procedural scenes of circles, squares and triangles, each scene rendered in
  two styles. Style A ("flat"): flat red, green and blue shapes on sand. Style B ("outlined"): the same shapes in
  yellow, magenta and cyan with a white outline, on navy. B is a fixed, nearly pixel-local function of A (colour
  by colour, plus an outline at each shape's edge), so translation quality is measured exactly: held-out scenes
  rendered in both styles are the ground truth. Training never sees a pair: the A and B training images are
  renderings of different scenes.
- a TensorFlow Datasets `cycle_gan` set by its name, in either direction: `horse2zebra` is `cycle_gan/horse2zebra`
  as stored (A = horses), `zebra2horse` the same set with the domains swapped; `photos2monet` (or `photo2monet`)
  is `cycle_gan/monet2photo` swapped. `tfds:` and `cycle_gan/` prefixes are optional.
- folders: `--domain-a DIR --domain-b DIR` (a fixed tenth of each is held out for `evaluate`), or one folder in
  the CycleGAN layout `trainA/ trainB/ testA/ testB/` (without the test folders, a tenth is held out).
- side-by-side pairs, pix2pix's layout: a folder of images that each show A on the left and B on the right,
  directly or in `train/` (and `test/` or `val/`); `pix2pix:facades` (or `maps`, `cityscapes`, `edges2shoes`,
  `edges2handbags`) downloads one of the paper's sets in that layout.

Paired training (`load(..., paired=True)`, pix2pix) needs aligned images: the synthetic scenes rendered in both
styles, side-by-side images, or two folders whose files have the same names.

Every source becomes a `Domains` pair of uint8 `[N, S, S, 3]` arrays held in memory, so bad files fail before
training starts, and `unpaired_batches` streams resumable batches from them: each domain shuffled on its own, and
the paper's jitter (resize to 286/256 of the size, random crop back) and mirroring drawn statelessly from the seed
and the step, so a resumed run sees exactly what an uninterrupted one would; `paired_batches` keeps each pair
together, with one crop and mirror for both images.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass, replace
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from ganapps.apps.cyclegan.recipe import JITTER_SCALE
from PIL import Image, ImageDraw

from ganapps.core.data import AUTOTUNE, TFDS_PREFIX, load_tfds, shuffled_index_batches, to_float
from ganapps.core.errors import GanappsError, ParameterError
from ganapps.core.images import IMAGE_SUFFIXES, list_images, load_image

SYNTHETIC = "synthetic"
HELD_OUT_FRACTION = 0.1  # of a folder pair without test folders: always the same images

# The `cycle_gan` configs of TensorFlow Datasets (4.9), A2B as stored.
TFDS_CONFIGS = ("apple2orange", "summer2winter_yosemite", "horse2zebra", "monet2photo", "cezanne2photo",
                "ukiyoe2photo", "vangogh2photo", "maps", "facades", "iphone2dslr_flower")
# pix2pix's own sets (Isola et al. 2017), side-by-side A|B images; the names say what the left and right halves are.
PIX2PIX_PREFIX = "pix2pix:"
PIX2PIX_URL = "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/{name}.tar.gz"
PIX2PIX_SETS = {"facades": ("photo", "labels"), "cityscapes": ("photo", "labels"), "maps": ("aerial", "map"),
                "edges2shoes": ("edges", "shoes"), "edges2handbags": ("edges", "handbags")}
INSTEAD = ("Download it once on a machine with network access (tfds build), pass two folders (domain_a and "
           "domain_b) or a folder with trainA/ trainB/ testA/ testB/, or use the synthetic default")


# ---------------------------------------------------------------------------------------------- sources


@dataclass(frozen=True)
class Source:
    """A resolved data source: what to load for each domain, and what the domains are called."""

    kind: str  # "synthetic", "tfds", "folders", "side_by_side" or "pix2pix" (downloaded side by side)
    spec: str  # what the user named, as written into the run's config
    names: tuple[str, str]  # domain A's and B's names
    tfds_name: str | None = None  # e.g. "cycle_gan/monet2photo"
    swap: bool = False  # tfds: A is the stored B
    folders: tuple[str | None, ...] = (None, None, None, None)  # trainA, trainB, testA, testB; side by side:
    # (train, None, test, None)


def _reverse(config: str) -> str | None:
    """`x2y_suffix` -> `y2x_suffix`; None for configs with no direction in their name (maps, facades)."""
    head, _, suffix = config.partition("_")
    if "2" not in head:
        return None
    a, b = head.split("2", 1)
    return f"{b}2{a}" + (f"_{suffix}" if suffix else "")


def tfds_names() -> dict[str, tuple[str, bool]]:
    """Every accepted name -> (tfds config, swapped): each config as stored and reversed, plus `photos2X`."""
    names = {}
    for config in TFDS_CONFIGS:
        names[config] = (config, False)
        reverse = _reverse(config)
        if reverse:
            names[reverse] = (config, True)
            if reverse.startswith("photo2"):
                names["photos2" + reverse[len("photo2"):]] = (config, True)
    return names


def _domain_names(config: str, swap: bool) -> tuple[str, str]:
    head = config.partition("_")[0]
    names = tuple(head.split("2", 1)) if "2" in head else ("A", "B")
    return (names[1], names[0]) if swap else names


def resolve(data: str | None = SYNTHETIC, domain_a: str | Path | None = None,
            domain_b: str | Path | None = None) -> Source:
    """The source that `data` or a `domain_a`/`domain_b` pair of folders names; one-line errors otherwise."""
    if (domain_a is None) != (domain_b is None):
        missing, given = ("domain_b", "domain_a") if domain_b is None else ("domain_a", "domain_b")
        raise ParameterError(missing, f"is missing: {given} and {missing} go together, pass both folders")
    if domain_a is not None:
        if data not in (None, SYNTHETIC):
            raise ParameterError("data", f"{data!r}: pass either data or domain_a/domain_b, not both")
        folders = [Path(d).expanduser() for d in (domain_a, domain_b)]
        for name, folder in zip(("domain_a", "domain_b"), folders):
            if not folder.is_dir():
                raise ParameterError(name, f"{folder}: no such folder")
        resolved = tuple(str(f.resolve()) for f in folders)
        return Source("folders", f"{resolved[0]} {resolved[1]}", (folders[0].name, folders[1].name),
                      folders=(*resolved, None, None))
    data = data or SYNTHETIC
    if data == SYNTHETIC:
        return Source("synthetic", SYNTHETIC, ("flat", "outlined"))
    path = Path(data).expanduser()
    if path.is_dir():
        return _layout(path)
    if data.startswith(PIX2PIX_PREFIX):
        name = data.removeprefix(PIX2PIX_PREFIX)
        if name not in PIX2PIX_SETS:
            raise GanappsError(f"{data}: unknown pix2pix set; pass one of {', '.join(PIX2PIX_SETS)}, or a folder "
                               "of side-by-side A|B images")
        return Source("pix2pix", data, PIX2PIX_SETS[name])
    name = data.removeprefix(TFDS_PREFIX).removeprefix("cycle_gan/")
    known = tfds_names()
    if name in known:
        config, swap = known[name]
        return Source("tfds", name, _domain_names(config, swap), f"cycle_gan/{config}", swap)
    examples = "horse2zebra, zebra2horse, photos2monet, monet2photo, ..."
    if data.startswith(TFDS_PREFIX) or "/" not in data:
        raise GanappsError(f"{data}: unknown dataset; pass '{SYNTHETIC}', a cycle_gan name ({examples}; all: "
                           f"{', '.join(sorted(known))}) or a folder")
    raise GanappsError(f"{data}: no such folder (nor '{SYNTHETIC}' or a cycle_gan name such as {examples})")


def _layout(root: Path) -> Source:
    """A folder with trainA/ and trainB/ (and optionally testA/ and testB/), or of side-by-side A|B images
    (directly, or in train/ with test/ or val/ beside it)."""
    sub = {name: root / name for name in ("trainA", "trainB", "testA", "testB")}
    missing = [name for name in ("trainA", "trainB") if not sub[name].is_dir()]
    if missing and (root / "train").is_dir():
        return _side_by_side(root / "train")
    if missing and any(p.suffix.lower() in IMAGE_SUFFIXES for p in root.iterdir()):
        return _side_by_side(root, split=False)
    if missing:
        raise GanappsError(f"{root}: expected the CycleGAN layout trainA/ trainB/ [testA/ testB/]; missing "
                           f"{' and '.join(missing)} (or pass two folders as domain_a and domain_b, or a folder of "
                           "side-by-side A|B images)")
    tests = (sub["testA"], sub["testB"])
    has_tests = all(t.is_dir() for t in tests)
    folders = (sub["trainA"], sub["trainB"], *(tests if has_tests else (None, None)))
    resolved = tuple(str(f.resolve()) if f else None for f in folders)
    return Source("folders", str(root.resolve()), ("A", "B"), folders=resolved)


def _side_by_side(train: Path, split: bool = True) -> Source:
    """Side-by-side images in `train` (held out: `test/` or `val/` beside it, when `split`; else a tenth)."""
    test = next((train.parent / name for name in ("test", "val") if (train.parent / name).is_dir()), None)
    test = test if split else None
    root = train.parent if split else train
    return Source("side_by_side", str(root.resolve()), ("A", "B"),
                  folders=(str(train.resolve()), None, str(test.resolve()) if test else None, None))


def download_pix2pix(source: Source, download: bool = True) -> Source:
    """The side-by-side folder of a pix2pix set, from the Keras cache (downloaded into it when missing and
    `download`), with one-line errors for offline users."""
    name = source.spec.removeprefix(PIX2PIX_PREFIX)
    url = PIX2PIX_URL.format(name=name)
    cache = Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras")
    unpacked = cache / "datasets" / f"{name}.tar.gz_extracted" / name  # where Keras 3 unpacks the archive
    if not unpacked.is_dir():
        if not download:
            raise GanappsError(f"{source.spec}: not in the Keras cache ({cache}) and downloading is off; pass a "
                               "folder of side-by-side A|B images instead")
        try:
            unpacked = Path(keras.utils.get_file(f"{name}.tar.gz", url, extract=True, cache_dir=str(cache))) / name
        except Exception as error:  # get_file turns URL errors into a bare Exception
            raise GanappsError(f"{source.spec}: could not download {url} ({type(error).__name__}); download and "
                               "unpack it elsewhere and pass its folder of side-by-side A|B images") from error
    if not (unpacked / "train").is_dir():
        raise GanappsError(f"{source.spec}: the download from {url} did not unpack to {unpacked}")
    return replace(_side_by_side(unpacked / "train"), spec=source.spec, names=source.names)


# ---------------------------------------------------------------------------------------------- synthetic pair

_SUPERSAMPLE = 4  # scenes are drawn at 4x and box-filtered down, for smooth edges
KINDS = ("circle", "square", "triangle")


@dataclass(frozen=True)
class Style:
    background: tuple[int, int, int]
    fills: tuple[tuple[int, int, int], ...]  # one per kind
    outline: tuple[int, int, int] | None = None  # drawn 1/32 of the image side wide, inside each shape's edge


FLAT = Style((238, 229, 204), ((217, 38, 38), (51, 166, 64), (38, 77, 217)))
OUTLINED = Style((26, 31, 71), ((250, 217, 51), (217, 64, 191), (64, 217, 230)), (255, 255, 255))


def scenes(count: int, seed: int) -> list[list[tuple[int, float, float, float, float]]]:
    """`count` random scenes of 2-4 shapes: (kind, centre x, centre y, radius, angle) in image-side units."""
    rng = np.random.default_rng([7919, seed])
    result = []
    for _ in range(count):
        shapes = []
        for _ in range(int(rng.integers(2, 5))):
            radius = rng.uniform(0.10, 0.22)
            x, y = rng.uniform(radius, 1.0 - radius, size=2)
            shapes.append((int(rng.integers(0, len(KINDS))), float(x), float(y), float(radius),
                           float(rng.uniform(0.0, 2.0 * math.pi))))
        result.append(shapes)
    return result


def render(scene, style: Style, size: int) -> np.ndarray:
    """One scene in one style: uint8 `[size, size, 3]`; later shapes cover earlier ones."""
    canvas = size * _SUPERSAMPLE
    image = Image.new("RGB", (canvas, canvas), style.background)
    draw = ImageDraw.Draw(image)
    width = max(1, round(canvas / 32)) if style.outline else 0
    for kind, x, y, radius, angle in scene:
        x, y, radius = x * canvas, y * canvas, radius * canvas
        if KINDS[kind] == "circle":
            draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=style.fills[kind],
                         outline=style.outline, width=width)
        else:
            corners = 4 if KINDS[kind] == "square" else 3
            points = [(x + radius * math.cos(angle + 2 * math.pi * i / corners),
                       y + radius * math.sin(angle + 2 * math.pi * i / corners)) for i in range(corners)]
            draw.polygon(points, fill=style.fills[kind], outline=style.outline, width=width)
    return np.asarray(image.reduce(_SUPERSAMPLE))


@functools.lru_cache(maxsize=8)
def synthetic(count: int, size: int, held_out: bool = False, paired: bool = False) -> Domains:
    """Training domains (A and B from different scenes; with `paired`, the same scenes in both styles) or
    held-out pairs (the same scenes in both styles, never trained on)."""
    if held_out:
        shown = scenes(count, seed=2)
        a, b = shown, shown
    else:
        a = scenes(count, seed=0)
        b = a if paired else scenes(count, seed=1)
    images = [np.stack([render(s, style, size) for s in group]) for group, style in ((a, FLAT), (b, OUTLINED))]
    for array in images:
        array.flags.writeable = False
    return Domains(images[0], images[1], ("flat", "outlined"), SYNTHETIC, paired=held_out or paired)


# ---------------------------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class Domains:
    """uint8 images of each domain, `[N, S, S, 3]`; `paired` when a[i] and b[i] show one scene (the synthetic
    held-out scenes, side-by-side images, paired training)."""

    a: np.ndarray
    b: np.ndarray
    names: tuple[str, str]
    source: str
    paired: bool = False


def fit(image: np.ndarray | tf.Tensor, size: int) -> np.ndarray:
    """A uint8 or [0, 1] float HWC image centre-cropped to a square, resized (bicubic) and made RGB: uint8."""
    image = tf.convert_to_tensor(image)
    if image.dtype != tf.uint8:
        image = tf.cast(tf.round(tf.clip_by_value(tf.cast(image, tf.float32), 0.0, 1.0) * 255.0), tf.uint8)
    side = tf.minimum(tf.shape(image)[0], tf.shape(image)[1])
    square = tf.image.resize_with_crop_or_pad(image, side, side)
    if square.shape[-1] == 1:
        square = tf.image.grayscale_to_rgb(square)
    resized = tf.image.resize(tf.cast(square, tf.float32), (size, size), method="bicubic", antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8)


def _folder(folder: str, size: int) -> np.ndarray:
    files = list_images(folder)
    return np.stack([fit(load_image(path, channels=3), size).numpy() for path in files])


def _matched_folders(folder_a: str, folder_b: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The images of two folders paired by their paths below each folder (without the suffix)."""
    files = [{p.relative_to(f).with_suffix(""): p for p in list_images(f)} for f in (folder_a, folder_b)]
    for folder, own, other in ((folder_a, files[0], files[1]), (folder_b, files[1], files[0])):
        unmatched = sorted(set(own) - set(other))
        if unmatched:
            raise GanappsError(f"{Path(folder) / unmatched[0]}: has no partner of the same name in the other "
                               f"domain's folder ({len(unmatched)} unmatched); paired training needs aligned pairs")
    names = sorted(files[0])
    return tuple(np.stack([fit(load_image(images[n], channels=3), size).numpy() for n in names])
                 for images in files)


def _halves(folder: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Side-by-side images split into their left (A) and right (B) halves."""
    a, b = [], []
    for path in list_images(folder):
        image = load_image(path, channels=3)
        width = image.shape[1] // 2
        if width < 1:
            raise GanappsError(f"{path}: {image.shape[1]} pixels wide; side-by-side pairs need A and B halves")
        a.append(fit(image[:, :width], size).numpy())
        b.append(fit(image[:, width : 2 * width], size).numpy())
    return np.stack(a), np.stack(b)


def _held_out(count: int) -> np.ndarray:
    """Positions of the fixed held-out tenth of `count` images (at least one)."""
    order = np.random.default_rng(12345).permutation(count)
    return np.sort(order[: max(1, int(count * HELD_OUT_FRACTION))])


def _split(images: np.ndarray, folder: str, held_out: bool) -> np.ndarray:
    if len(images) < 2:
        raise GanappsError(f"{folder}: {len(images)} image; need at least 2 (training and held-out)")
    test = _held_out(len(images))
    return images[test] if held_out else np.delete(images, test, axis=0)


def _tfds(source: Source, split: str, size: int, download: bool, data_dir: str | None) -> np.ndarray:
    import tensorflow_datasets as tfds

    dataset = load_tfds(source.tfds_name, split, "image", INSTEAD, download, data_dir)
    batches = dataset.map(lambda example: fit(example["image"], size), num_parallel_calls=AUTOTUNE).batch(256)
    images = [batch for batch in tfds.as_numpy(batches)]
    if not images:
        raise GanappsError(f"{TFDS_PREFIX}{source.tfds_name}: the {split} split is empty")
    return np.concatenate(images)


def load(source: Source, size: int, held_out: bool = False, scenes_count: int = 1000, test_scenes: int = 200,
         download: bool = True, data_dir: str | None = None, paired: bool = False) -> Domains:
    """Training (or held-out) images of both domains at `size` x `size`; read afresh on every call (only the
    synthetic scenes, a pure function of their count and size, are cached), so a folder's new images are seen.
    `paired`: a[i] and b[i] must show the same scene (refused for sources that cannot say which images pair)."""
    if source.kind == "synthetic":
        return synthetic(test_scenes if held_out else scenes_count, size, held_out, paired)
    if source.kind == "tfds":
        if paired:
            raise ParameterError("paired", f"{source.spec}: TensorFlow Datasets' cycle_gan sets are unpaired; "
                                 f"use a pix2pix set ({PIX2PIX_PREFIX}facades, ...) or a folder of pairs")
        splits = ("testA", "testB") if held_out else ("trainA", "trainB")
        if source.swap:
            splits = splits[::-1]
        a, b = (_tfds(source, split, size, download, data_dir) for split in splits)
        return Domains(a, b, source.names, source.spec)
    if source.kind == "pix2pix":
        source = download_pix2pix(source, download)
    train_a, train_b, test_a, test_b = source.folders
    if source.kind in ("side_by_side", "pix2pix"):
        if test_a is not None:
            a, b = _halves(test_a if held_out else train_a, size)
        else:
            a, b = (_split(half, train_a, held_out) for half in _halves(train_a, size))
        return Domains(a, b, source.names, source.spec, paired=True)
    read = (lambda fa, fb: _matched_folders(fa, fb, size)) if paired else \
        (lambda fa, fb: (_folder(fa, size), _folder(fb, size)))
    if test_a is not None:
        a, b = read(*((test_a, test_b) if held_out else (train_a, train_b)))
    else:
        a, b = (_split(images, f, held_out) for images, f in zip(read(train_a, train_b), (train_a, train_b)))
    return Domains(a, b, source.names, source.spec, paired=paired)


# ---------------------------------------------------------------------------------------------- batches


def augment(images: tf.Tensor, seed: tf.Tensor, jitter: bool, mirror: bool = True) -> tf.Tensor:
    """The paper's augmentation of a float batch `[B, S, S, C]`: each image resized to 286/256 of its side and
    cropped back at a random place (`jitter`), and mirrored left-right with probability 1/2; draws from `seed`."""
    size = images.shape[1]
    batch = tf.shape(images)[0]
    if jitter:
        larger = round(size * JITTER_SCALE)
        images = tf.image.resize(images, (larger, larger), method="bilinear")
        offsets = tf.random.stateless_uniform([batch, 2], seed, 0, larger - size + 1, tf.int32, alg="philox")
        rows = offsets[:, :1] + tf.range(size)
        cols = offsets[:, 1:] + tf.range(size)
        images = tf.gather(images, rows, axis=1, batch_dims=1)
        images = tf.gather(images, cols, axis=2, batch_dims=1)
    if mirror:
        flip = tf.random.stateless_uniform([batch], seed + [0, 1], alg="philox") < 0.5
        images = tf.where(flip[:, None, None, None], tf.reverse(images, axis=[2]), images)
    return images


def unpaired_batches(domains: Domains, batch_size: int, seed: int, start_step: int = 0, jitter: bool = False,
                     mirror: bool = True) -> tf.data.Dataset:
    """Endless resumable batches `(a [B, S, S, 3], b [B, S, S, 3])` in [-1, 1]: each domain shuffled on its own
    (so the two halves of a batch are unrelated), then augmented with draws keyed by the seed and the step."""
    tensors = tf.constant(domains.a), tf.constant(domains.b)
    indices = [shuffled_index_batches(len(images), batch_size, seed * 2 + k, start_step)
               for k, images in enumerate((domains.a, domains.b))]
    steps = tf.data.Dataset.counter(start_step, dtype=tf.int64)

    def batch(step, index_a, index_b):
        out = []
        for k, (images, index) in enumerate(zip(tensors, (index_a, index_b))):
            key = tf.stack([tf.constant(seed, tf.int64), step * 2 + k])
            out.append(augment(to_float(tf.gather(images, index)), key, jitter, mirror))
        return tuple(out)

    dataset = tf.data.Dataset.zip((steps, *indices))
    return dataset.map(batch, num_parallel_calls=AUTOTUNE, deterministic=True).prefetch(AUTOTUNE)


def paired_batches(domains: Domains, batch_size: int, seed: int, start_step: int = 0, jitter: bool = False,
                   mirror: bool = True) -> tf.data.Dataset:
    """Endless resumable batches `(a, b)` of aligned pairs in [-1, 1]: one shuffle for both domains, and each
    pair stacked on channels while augmented, so both images get the same crop and mirror."""
    if not domains.paired or len(domains.a) != len(domains.b):
        raise GanappsError(f"{domains.source}: {len(domains.a)} A and {len(domains.b)} B images that are not "
                           "aligned pairs")
    pairs = tf.constant(np.concatenate([domains.a, domains.b], axis=-1))
    channels = domains.a.shape[-1]

    def batch(step, index):
        key = tf.stack([tf.constant(seed, tf.int64), step])
        both = augment(to_float(tf.gather(pairs, index)), key, jitter, mirror)
        return both[..., :channels], both[..., channels:]

    steps = tf.data.Dataset.counter(start_step, dtype=tf.int64)
    dataset = tf.data.Dataset.zip((steps, shuffled_index_batches(len(pairs), batch_size, seed, start_step)))
    return dataset.map(batch, num_parallel_calls=AUTOTUNE, deterministic=True).prefetch(AUTOTUNE)
