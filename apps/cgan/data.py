"""Conditioned images: the embedded procedural set, MNIST CSV files, TensorFlow Datasets, and image folders.

Every source becomes an `Examples` set held in memory: uint8 images and, as the source has them, integer labels,
metadata vectors (named attributes in their own units), captions, and for image+metadata the original each image
redraws.

- `glyphs` (the default, offline): digit glyphs drawn by `ganapps.core.glyphs`' font, each with a known angle,
  scale, position and colour, and a caption that names them ("a small red 7 rotated 30 degrees left"). One set
  serves every condition; `render_pairs` renders the same glyph twice, in two poses, for image+metadata.
- an MNIST-format CSV file (`.csv` or `.csv.gz`: 784 pixel values then the label per row), such as
  `../shared/data/mnist/mnist_5k.csv.gz`.
- `tfds:NAME` with `image` and `label` features (`tfds:mnist`, `tfds:fashion_mnist`), downloaded when possible.
- a folder with `labels.csv` (a `file` column, an optional `label` column, and numeric columns that become
  metadata attributes) or `captions.jsonl` (one `{"file": ..., "caption": ...}` object per line).

A fixed fifth of every source is held out (`split`), the same one for training, evaluation and `semisup`;
`cut` thins some classes of the training part (`Config.class_fraction`) to make an imbalanced set.
"""

from __future__ import annotations

import colorsys
import csv
import functools
import json
import math
import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from ganapps.apps.cgan.recipe import ATTRIBUTES, COLOURS, IMAGE_ATTRIBUTES, parse_class_fraction
from ganapps.core import imagesets as image_data
from PIL import Image

from ganapps.core import glyphs
from ganapps.core.data import TFDS_PREFIX
from ganapps.core.errors import GanappsError, ParameterError
from ganapps.core.images import load_image, to_uint8

GLYPHS = "glyphs"
SCENE_COUNT = 12_000
SCENE_VERSION = 1  # bump when the rendering changes: cached evaluators are keyed by it
HELD_OUT_FRACTION = 0.2  # 2,400 of the embedded 12,000; 1,000 of MNIST 5k
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
SIZE_WORDS = ("small", "medium", "large")  # scale below 0.7, 0.7 to 0.85, above 0.85
_SIZE_EDGES = (0.7, 0.85)
_HUE_JITTER = 15.0
_CANVAS = 64  # glyphs.py draws at twice the output size


@dataclass(frozen=True)
class Examples:
    """uint8 images `[N, S, S, C]` and what conditions them; any part a source lacks is None."""

    images: np.ndarray
    source: str
    labels: np.ndarray | None = None  # int64 [N]
    metadata: np.ndarray | None = None  # float32 [N, M], in the attributes' own units
    attributes: tuple[str, ...] = ()
    captions: np.ndarray | None = None  # str [N]
    colours: np.ndarray | None = None  # int64 [N], an index into COLOURS (embedded set only)
    originals: np.ndarray | None = None  # uint8 [N, S, S, C]: what each image redraws (image+metadata)
    original_metadata: np.ndarray | None = None  # float32 [N, M]: the originals' attributes
    class_names: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.images)

    @property
    def channels(self) -> int:
        return int(self.images.shape[-1])

    @property
    def classes(self) -> int:
        return len(self.class_names)

    def subset(self, index: np.ndarray) -> Examples:
        pick = lambda a: None if a is None else a[index]
        return replace(self, images=self.images[index], labels=pick(self.labels), metadata=pick(self.metadata),
                       captions=pick(self.captions), colours=pick(self.colours), originals=pick(self.originals),
                       original_metadata=pick(self.original_metadata))

    def shaped(self, size: int, channels: int | None) -> Examples:
        """Images (and originals) resized to `size` and given `channels` (None: grey stays grey)."""
        if channels is None:
            channels = 1 if _is_grey(self.images) else 3
        return replace(self, images=_shape(self.images, size, channels),
                       originals=None if self.originals is None else _shape(self.originals, size, channels))


def _is_grey(images: np.ndarray) -> bool:
    return images.shape[-1] == 1 or bool(np.all(images[..., :1] == images[..., 1:]))


def _shape(images: np.ndarray, size: int, channels: int) -> np.ndarray:
    if images.shape[1:3] != (size, size):
        images = np.stack([image_data.fit_image(image, size) for image in images])
    return image_data.convert_channels(images, channels)


# ---------------------------------------------------------------------------------------------- the embedded set


def attribute_ranges(names: tuple[str, ...] = tuple(a[0] for a in ATTRIBUTES)) -> np.ndarray:
    """`[M, 2]` low and high of the embedded set's attributes `names`."""
    known = {name: (low, high) for name, low, high, _ in ATTRIBUTES}
    return np.array([known[name] for name in names], np.float32)


def colour_of(hue: np.ndarray) -> np.ndarray:
    """The named colour (index into COLOURS) nearest to each hue in degrees."""
    return np.round(np.asarray(hue) / 60.0).astype(np.int64) % len(COLOURS)


def size_word(scale: float) -> str:
    return SIZE_WORDS[int(np.searchsorted(_SIZE_EDGES, scale))]


def pose_words(angle: float) -> str:
    """`rotated 30 degrees left` (anticlockwise) or `right`, in steps of 5 degrees; `upright` near 0."""
    rounded = int(5 * round(abs(angle) / 5))
    return "upright" if rounded == 0 else f"rotated {rounded} degrees {'left' if angle > 0 else 'right'}"


_TEMPLATES = (
    "a {size} {colour} {digit} {pose}",
    "{colour} digit {digit}, {size}, {pose}",
    "the number {digit} in {colour}",
    "a {digit} drawn in {colour}, {pose}",
    "{size} {colour} {digit}",
)


def caption(rng: np.random.Generator, digit: int, colour: int, angle: float, scale: float) -> str:
    """One of a few phrasings naming the digit (as a figure or a word) and colour, and often size and pose."""
    template = _TEMPLATES[int(rng.integers(len(_TEMPLATES)))]
    name = str(digit) if rng.random() < 0.5 else DIGIT_WORDS[digit]
    return template.format(size=size_word(scale), colour=COLOURS[colour], digit=name, pose=pose_words(angle))


def _affine(angle: float, scale: float, x: float, y: float) -> tuple[float, ...]:
    """Pillow's output-to-input map: rotate by `angle` degrees anticlockwise and scale about the centre, then
    shift by (x, y) output pixels."""
    theta = math.radians(angle)
    # On screen (y down) an anticlockwise turn maps a point p to R(-theta) p, so the inverse is R(theta) / scale.
    inverse = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]]) / scale
    centre = np.full(2, _CANVAS / 2)
    shift = np.array([x, y]) * _CANVAS / glyphs.GLYPH_SIZE
    offset = centre - inverse @ (centre + shift)
    return (inverse[0, 0], inverse[0, 1], offset[0], inverse[1, 0], inverse[1, 1], offset[1])


def draw(digit: int, stroke: int, angle: float, scale: float, x: float, y: float, hue: float) -> np.ndarray:
    """One glyph as uint8 RGB `[32, 32, 3]`: white-on-black font shape, posed, then coloured at full saturation."""
    base = glyphs._base_glyphs()[digit, stroke]
    warped = base.transform(base.size, Image.Transform.AFFINE, _affine(angle, scale, x, y),
                            resample=Image.Resampling.BILINEAR)
    mask = np.asarray(warped.reduce(_CANVAS // glyphs.GLYPH_SIZE), np.float32) / 255.0
    colour = np.array(colorsys.hsv_to_rgb((hue % 360.0) / 360.0, 1.0, 1.0), np.float32)
    return np.round(mask[..., None] * colour * 255.0).astype(np.uint8)


def _random_attributes(rng: np.random.Generator, count: int) -> np.ndarray:
    """`[count, 5]` angle, scale, x, y, hue: uniform in their ranges, hue within 15 degrees of a named colour."""
    columns = [rng.uniform(low, high, count) for name, low, high, _ in ATTRIBUTES if name != "hue"]
    hue = 60.0 * rng.integers(0, len(COLOURS), count) + rng.uniform(-_HUE_JITTER, _HUE_JITTER, count)
    return np.stack([*columns, hue], axis=1).astype(np.float32)


@functools.lru_cache(maxsize=4)
def render_scenes(count: int = SCENE_COUNT, seed: int = 0) -> Examples:
    """`count` posed, coloured digits with labels (cycling 0-9), metadata, colours and captions (cached)."""
    rng = np.random.default_rng([SCENE_VERSION, seed])
    labels = np.arange(count, dtype=np.int64) % 10
    metadata = _random_attributes(rng, count)
    strokes = rng.choice(glyphs._STROKES, count)
    images = np.stack([draw(int(d), int(s), *m) for d, s, m in zip(labels, strokes, metadata)])
    colours = colour_of(metadata[:, 4])
    captions = np.array([caption(rng, int(d), int(c), float(m[0]), float(m[1]))
                         for d, c, m in zip(labels, colours, metadata)])
    return Examples(images, GLYPHS, labels, metadata, tuple(a[0] for a in ATTRIBUTES), captions, colours,
                    class_names=tuple(map(str, range(10))))


@functools.lru_cache(maxsize=4)
def render_pairs(count: int = SCENE_COUNT, seed: int = 0) -> Examples:
    """The same glyph (digit, stroke, position, colour) drawn twice, in two random angles and scales: `images`
    are the redrawings, `originals` what they redraw, `metadata` the redrawings' angle and scale."""
    rng = np.random.default_rng([SCENE_VERSION, seed, 2])
    labels = np.arange(count, dtype=np.int64) % 10
    first, second = _random_attributes(rng, count), _random_attributes(rng, count)
    second[:, 2:] = first[:, 2:]  # position and colour stay; angle and scale change
    strokes = rng.choice(glyphs._STROKES, count)
    originals = np.stack([draw(int(d), int(s), *m) for d, s, m in zip(labels, strokes, first)])
    images = np.stack([draw(int(d), int(s), *m) for d, s, m in zip(labels, strokes, second)])
    columns = [k for k, a in enumerate(ATTRIBUTES) if a[0] in IMAGE_ATTRIBUTES]
    return Examples(images, GLYPHS, labels, second[:, columns], IMAGE_ATTRIBUTES, None, colour_of(first[:, 4]),
                    originals, first[:, columns], tuple(map(str, range(10))))


# ---------------------------------------------------------------------------------------------- other sources


def load_mnist_csv(path: str | Path) -> Examples:
    """MNIST-format rows (784 pixel values 0-255, then the label), e.g. the shared `mnist_5k.csv.gz`."""
    from ganapps.core.metrics import load_mnist_5k

    images, labels = load_mnist_5k(Path(path).expanduser())
    classes = int(labels.max()) + 1
    return Examples(to_uint8(images, (0.0, 1.0)), str(path), labels, class_names=tuple(map(str, range(classes))))


def _read_image(folder: Path, name: str, where: str) -> np.ndarray:
    path = folder / name
    if not path.is_file():
        raise GanappsError(f"{where}: no image file {path}")
    return to_uint8(load_image(path, channels=3), (0.0, 1.0))


def _same_size(images: list[np.ndarray], size: int | None = None) -> np.ndarray:
    """Stack images, centre-cropping and resizing them to the first one's (square) side when they differ."""
    side = size or min(images[0].shape[:2])
    return np.stack([image_data.fit_image(image, side) for image in images])


def load_labels_csv(folder: Path, size: int | None = None, progress: bool = False) -> Examples:
    """`folder/labels.csv`: `file`, optional `label` (integers, or names sorted into classes), numeric metadata."""
    table = folder / "labels.csv"
    with open(table, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or "file" not in rows[0]:
        raise GanappsError(f"{table}: expected a header row with a 'file' column and at least one data row")
    attributes = tuple(name for name in rows[0] if name not in ("file", "label"))
    files, labels, metadata = [], [], []
    for line, row in enumerate(rows, start=2):
        files.append(row["file"])
        if "label" in row:
            labels.append((row["label"] or "").strip())
        try:
            metadata.append([float(row[name]) for name in attributes])
        except (TypeError, ValueError):
            raise GanappsError(f"{table}, line {line}: metadata columns ({', '.join(attributes)}) must be numbers, "
                               f"got {[row[name] for name in attributes]}") from None
    label_array, class_names = None, ()
    if labels:
        if any(not label for label in labels):
            raise GanappsError(f"{table}, line {labels.index('') + 2}: empty label")
        if all(re.fullmatch(r"\d+", label) for label in labels):
            label_array = np.array([int(label) for label in labels], np.int64)
            class_names = tuple(map(str, range(int(label_array.max()) + 1)))
        else:
            class_names = tuple(sorted(set(labels)))
            label_array = np.array([class_names.index(label) for label in labels], np.int64)
    images = [_read_image(folder, name, f"{table}, line {k + 2}")
              for k, name in image_data.progress_bar(list(enumerate(files)), len(files), f"reading {folder}", progress)]
    return Examples(_same_size(images, size), str(folder), label_array,
                    np.array(metadata, np.float32) if attributes else None, attributes, class_names=class_names)


def load_captions_jsonl(folder: Path, size: int | None = None, progress: bool = False) -> Examples:
    """`folder/captions.jsonl`: one `{"file": "a.png", "caption": "..."}` object per line."""
    table = folder / "captions.jsonl"
    files, captions = [], []
    for line, text in enumerate(table.read_text().splitlines(), start=1):
        if not text.strip():
            continue
        try:
            entry = json.loads(text)
            files.append(str(entry["file"]))
            captions.append(str(entry["caption"]).strip())
        except (json.JSONDecodeError, KeyError, TypeError):
            raise GanappsError(f"{table}, line {line}: expected a JSON object with 'file' and 'caption'") from None
        if not captions[-1]:
            raise GanappsError(f"{table}, line {line}: empty caption")
    if not files:
        raise GanappsError(f"{table}: no captions")
    images = [_read_image(folder, name, f"{table}, line {k + 1}")
              for k, name in image_data.progress_bar(list(enumerate(files)), len(files), f"reading {folder}", progress)]
    return Examples(_same_size(images, size), str(folder), captions=np.array(captions))


def load_folder(folder: str | Path, size: int | None = None, progress: bool = False) -> Examples:
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise GanappsError(f"{folder}: no such folder, MNIST CSV file, or data set name (glyphs, tfds:NAME)")
    if (folder / "labels.csv").is_file():
        return load_labels_csv(folder, size, progress)
    if (folder / "captions.jsonl").is_file():
        return load_captions_jsonl(folder, size, progress)
    raise GanappsError(f"{folder}: expected labels.csv (file, label and/or numeric metadata columns) or "
                       "captions.jsonl (one {\"file\": ..., \"caption\": ...} per line) in the folder")


def load(data: str = GLYPHS, size: int = glyphs.GLYPH_SIZE, channels: int | None = None, pairs: bool = False,
         download: bool = True, data_dir: str | None = None, progress: bool = False) -> Examples:
    """Conditioned images from `glyphs`, an MNIST CSV file, `tfds:NAME` or a folder, as `[N, size, size, C]`.

    `pairs` asks for image+metadata pairs (the embedded set only).
    """
    if pairs and data != GLYPHS:
        raise ParameterError("data", f"{data}: image+metadata trains on rendered pairs of the embedded set "
                                     f"({GLYPHS}) only")
    if data == GLYPHS:
        examples = render_pairs() if pairs else render_scenes()
    elif data.startswith(TFDS_PREFIX):  # the train split of a labelled set (mnist, fashion_mnist, ...)
        images = image_data.load_tfds(data[len(TFDS_PREFIX):], size, None, download, data_dir, progress)
        if images.labels is None:
            raise GanappsError(f"{data}: has no integer 'label' feature to condition on")
        examples = Examples(images.images, data, images.labels.astype(np.int64),
                            class_names=tuple(map(str, range(int(images.labels.max()) + 1))))
    elif data.lower().endswith((".csv", ".csv.gz")):
        examples = load_mnist_csv(data)
    else:
        examples = load_folder(data, size, progress)
    return examples.shaped(size, channels)


def metadata_ranges(examples: Examples) -> np.ndarray:
    """`[M, 2]` low and high per attribute: the embedded set's drawing ranges, else those seen in the data."""
    if examples.source == GLYPHS:
        return attribute_ranges(examples.attributes)
    return np.stack([examples.metadata.min(0), examples.metadata.max(0)], axis=1)


def split(examples: Examples, held_out: float = HELD_OUT_FRACTION) -> tuple[Examples, Examples]:
    """(training, held-out) parts: the same fixed shuffle every time, so evaluation never sees training images."""
    order = np.random.default_rng(12345).permutation(len(examples))
    count = int(round(len(examples) * held_out))
    return examples.subset(np.sort(order[count:])), examples.subset(np.sort(order[:count]))


def kept(count: int, fraction: float) -> int:
    """Images a class of `count` keeps at `fraction`: rounded, at least one."""
    return max(1, int(round(count * fraction))) if count else 0


def cut(examples: Examples, class_fraction: tuple[str, ...], seed: int = 0) -> Examples:
    """`examples` with each class that `class_fraction` names ("3=0.05") thinned to `kept(count, fraction)` images,
    in their order; the rest whole. Which images stay is a pure function of `seed` and the class (not of the other
    classes' fractions); how many, of the counts alone."""
    fractions = parse_class_fraction(class_fraction)
    if not fractions:
        return examples
    if examples.labels is None:
        raise ParameterError("class_fraction", f"{examples.source}: has no labels to cut classes by")
    names, keep = examples.class_names, np.ones(len(examples), bool)
    for name, fraction in fractions.items():
        if name in names:
            label = names.index(name)
        elif re.fullmatch(r"\d+", name) and int(name) < len(names):
            label = int(name)
        else:
            raise ParameterError("class_fraction", f"{name}={fraction!r}: {examples.source} has no class {name!r}")
        members = np.flatnonzero(examples.labels == label)
        chosen = np.random.default_rng([seed, label]).permutation(members)[: kept(len(members), fraction)]
        keep[members] = False
        keep[chosen] = True
    return examples.subset(np.flatnonzero(keep))


def class_counts(examples: Examples) -> tuple[int, ...]:
    """Images per class, every class of `class_names` (zeros included)."""
    return tuple(int(n) for n in np.bincount(examples.labels, minlength=examples.classes))


def oversample(examples: Examples, seed: int = 0) -> Examples:
    """`examples` with every class's images repeated (in a seeded order, whole cycles first) up to the largest
    class's count, so that batches draw each class equally often."""
    if examples.labels is None:
        raise ParameterError("balance_classes", f"{examples.source}: has no labels to balance classes by")
    largest = int(np.bincount(examples.labels).max())
    chosen = [np.resize(np.random.default_rng([seed, label]).permutation(members), largest)
              for label in range(examples.classes)
              if len(members := np.flatnonzero(examples.labels == label))]
    return examples.subset(np.sort(np.concatenate(chosen)))
