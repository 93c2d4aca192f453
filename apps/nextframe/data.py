"""Where next-frame sequences come from, and the (context, next frame) pairs that training reads.

- `moving-mnist`: Moving MNIST generated here exactly as Srivastava et al. (2015, "Unsupervised learning of video
  representations using LSTMs") define it: two 28x28 digits on a 64x64 canvas for 20 frames, each starting at a
  uniformly random position with a random direction at a fixed speed, bouncing off the borders, combined by
  pixel-wise maximum. Digits are rendered glyphs by default (offline, no files) or MNIST digits from a CSV file
  (784 pixel values then the label per row, as `mnist_5k.csv.gz`). Held-out sequences use digits and
  trajectories that training never sees.
- `tfds:moving_mnist`: the published 10,000 test sequences from TensorFlow Datasets (downloaded once).
- a folder: one subfolder per sequence, holding its frames as image files sorted by name.

Every source becomes a `Sequences` set (uint8 frames of all sequences end to end, and their lengths), and
`pairs` streams training pairs (K context frames, then the R frames a roll-out is trained against) from it
through the core's resumable `array_dataset`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np
import tensorflow as tf
from ganapps.apps.nextframe.recipe import SEQUENCES
from PIL import Image, ImageSequence, UnidentifiedImageError

from ganapps.core.data import AUTOTUNE, TFDS_PREFIX, array_dataset, to_float
from ganapps.core.data import load_tfds as load_tfds_split
from ganapps.core.errors import GanappsError, check_at_least
from ganapps.core.images import IMAGE_SUFFIXES, convert_channels, fit_image, load_image, to_uint8

MOVING_MNIST = "moving-mnist"
GLYPHS = "glyphs"
CANVAS = 64
DIGIT = 28
LENGTH = 20
DIGITS_PER_SEQUENCE = 2
STEP = 0.1  # per frame, in units of the free canvas side (64 - 28 = 36 pixels): 3.6 pixels per frame
HELD_OUT_FRACTION = 0.1  # of a folder's or tfds set's sequences, always the same ones
GLYPH_POOL = 2000  # rendered digits to draw training sequences from (another 500 for held-out ones)
_HELD_OUT_SEED = 1_000_003  # keys held-out trajectories apart from any training seed


@dataclass(frozen=True)
class Sequences:
    """Frame sequences: uint8 `frames [F, S, S, C]` of every sequence end to end, and each one's length."""

    frames: np.ndarray
    lengths: np.ndarray
    source: str

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def starts(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        return tuple(self.frames.shape[1:])

    def windows(self, span: int) -> np.ndarray:
        """Index of the first frame of every run of `span` consecutive frames inside one sequence."""
        runs = [start + np.arange(length - span + 1) for start, length in zip(self.starts, self.lengths)
                if length >= span]
        return np.concatenate(runs).astype(np.int64) if runs else np.zeros(0, np.int64)

    def clips(self, length: int) -> np.ndarray:
        """The first `length` frames of each sequence at least that long: uint8 `[N, length, S, S, C]`."""
        return np.stack([self.frames[s : s + length] for s, n in zip(self.starts, self.lengths) if n >= length])

    def subset(self, index: np.ndarray) -> Sequences:
        starts, lengths = self.starts[index], self.lengths[index]
        frames = [self.frames[s : s + n] for s, n in zip(starts, lengths)]
        return Sequences(np.concatenate(frames), lengths, self.source)


# ---------------------------------------------------------------------------------------------- Moving MNIST


class Trajectories(NamedTuple):
    """Per digit and frame: position in [0, 1]^2 of the free canvas (y, x), and the unit velocity after the step."""

    positions: np.ndarray  # [count, length, 2]
    velocities: np.ndarray  # [count, length, 2]

    def pixels(self, canvas: int = CANVAS, digit: int = DIGIT) -> np.ndarray:
        """Top-left corners in pixels, truncated as in the original code: int32 `[count, length, 2]`."""
        return ((canvas - digit) * self.positions).astype(np.int32)


def trajectories(rng: np.random.Generator, count: int, length: int = LENGTH, step: float = STEP) -> Trajectories:
    """Srivastava et al.'s random bouncing walk: a uniform start, a uniform direction at speed `step`; a digit that
    reaches a border stays on it and its velocity component across that border changes sign."""
    position = rng.random((count, 2))
    theta = rng.random(count) * 2.0 * np.pi
    velocity = np.stack([np.sin(theta), np.cos(theta)], axis=1)
    positions, velocities = np.empty((count, length, 2)), np.empty((count, length, 2))
    for frame in range(length):
        position = position + velocity * step
        outside = (position <= 0.0) | (position >= 1.0)
        position = np.clip(position, 0.0, 1.0)
        velocity = np.where(outside, -velocity, velocity)
        positions[:, frame], velocities[:, frame] = position, velocity
    return Trajectories(positions, velocities)


def render(digits: np.ndarray, corners: np.ndarray, canvas: int = CANVAS) -> np.ndarray:
    """Frames of digits `[D, h, w]` moving along `corners [D, T, 2]`, combined by maximum: uint8 `[T, canvas, canvas]`."""
    frames = np.zeros((corners.shape[1], canvas, canvas), np.uint8)
    height, width = digits.shape[1:3]
    for digit, path in zip(digits, corners):
        for frame, (top, left) in zip(frames, path):
            window = frame[top : top + height, left : left + width]
            np.maximum(window, digit, out=window)
    return frames


def moving_mnist(digits: np.ndarray, count: int, seed: int | Sequence[int], length: int = LENGTH) -> np.ndarray:
    """`count` sequences of two random `digits` (uint8 `[M, 28, 28]`): uint8 `[count, length, 64, 64, 1]`.
    `seed` is anything `np.random.default_rng` takes (a training batch's is `[seed, step]`)."""
    rng = np.random.default_rng(seed)
    corners = trajectories(rng, count * DIGITS_PER_SEQUENCE, length).pixels()
    chosen = digits[rng.integers(0, len(digits), size=count * DIGITS_PER_SEQUENCE)]
    clips = np.empty((count, length, CANVAS, CANVAS, 1), np.uint8)
    for k in range(count):
        pair = slice(k * DIGITS_PER_SEQUENCE, (k + 1) * DIGITS_PER_SEQUENCE)
        clips[k, ..., 0] = render(chosen[pair], corners[pair])
    return clips


@functools.lru_cache(maxsize=4)
def glyph_digits(held_out: bool = False) -> np.ndarray:
    """Rendered digit glyphs resized to 28x28: 2,000 for training, 500 other renderings held out."""
    from ganapps.core.glyphs import render_glyphs

    glyphs, _ = render_glyphs(500, seed=2) if held_out else render_glyphs(GLYPH_POOL, seed=0)
    return np.stack([fit_image(glyph, DIGIT)[..., 0] for glyph in glyphs])


def mnist_digits(path: str | Path, held_out: bool = False) -> np.ndarray:
    """MNIST digits from a CSV file (784 values then the label per row); a fixed sixth is held out."""
    from ganapps.core.metrics import load_mnist_5k

    images, _ = load_mnist_5k(path)
    order = np.random.default_rng(12345).permutation(len(images))
    cut = len(images) // 6
    chosen = order[:cut] if held_out else order[cut:]
    return to_uint8(images[np.sort(chosen), ..., 0], (0.0, 1.0))


def digit_pool(digits: str = GLYPHS, held_out: bool = False) -> np.ndarray:
    """The training (or held-out) digits of `glyphs` or an MNIST CSV file: uint8 `[M, 28, 28]`."""
    return glyph_digits(held_out) if digits == GLYPHS else mnist_digits(Path(digits).expanduser(), held_out)


def load_moving_mnist(count: int, digits: str = GLYPHS, held_out: bool = False, seed: int = 0,
                      length: int = LENGTH) -> Sequences:
    """`count` generated Moving MNIST sequences of `glyphs` or MNIST CSV digits; held-out ones use held-out digits
    and other trajectories. A longer `length` continues the same sequences (their first 20 frames do not change)."""
    check_at_least("count", count, 1)
    length = max(length, LENGTH)
    clips = moving_mnist(digit_pool(digits, held_out), count, _HELD_OUT_SEED + seed if held_out else seed, length)
    return Sequences(clips.reshape(-1, *clips.shape[2:]), np.full(count, length, np.int64), MOVING_MNIST)


# ---------------------------------------------------------------------------------------------- files


def fit_frames(frames: np.ndarray, size: int, channels: int) -> np.ndarray:
    """uint8 `[T, H, W, 1 or 3]` frames centre-cropped to squares, resized to `size` and given `channels`."""
    return convert_channels(np.stack([fit_image(frame, size) for frame in frames]), channels)


def frame_files(folder: Path) -> list[Path]:
    """The image files directly in `folder`, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def read_frames(path: str | Path) -> np.ndarray:
    """A clip as uint8 RGB `[T, H, W, 3]`: a folder of frames (sorted by name) or an animated GIF."""
    path = Path(path).expanduser()
    if not path.exists():
        raise GanappsError(f"{path}: no such folder or GIF")
    if path.is_dir():
        files = frame_files(path)
        if not files:
            raise GanappsError(f"{path}: no frames ({', '.join(IMAGE_SUFFIXES)} files) in this folder")
        frames = [to_uint8(load_image(f, channels=3), (0.0, 1.0)) for f in files]
        (height, width), first = frames[0].shape[:2], files[0]
        for frame, name in zip(frames, files):
            if frame.shape[:2] != (height, width):
                raise GanappsError(f"{name}: frame is {frame.shape[1]}x{frame.shape[0]}, but the first frame "
                                   f"({first}) is {width}x{height}; all frames must have one size")
        return np.stack(frames)
    if path.suffix.lower() != ".gif":
        raise GanappsError(f"{path}: expected a folder of frames or an animated GIF")
    try:
        with Image.open(path) as gif:
            frames = [np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(gif)]
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise GanappsError(f"{path}: not a readable GIF ({error.__class__.__name__}: {error})") from error
    return np.stack(frames)


def load_folder(root: str | Path, size: int) -> Sequences:
    """One sequence per subfolder of `root` (sorted by name), each of its frames fitted to `size`, grey (one
    channel) when every frame is."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise GanappsError(f"{root}: no such folder")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and frame_files(p))
    if not folders:
        raise GanappsError(f"{root}: no sequence subfolders with frames; expected one subfolder of image files "
                           "per sequence")
    clips = [read_frames(folder) for folder in folders]
    channels = 1 if all(np.all(clip[..., :1] == clip[..., 1:]) for clip in clips) else 3
    fitted = [fit_frames(clip, size, channels) for clip in clips]
    return Sequences(np.concatenate(fitted), np.array([len(c) for c in fitted], np.int64), str(root))


def load_tfds(name: str, download: bool = True, data_dir: str | None = None) -> Sequences:
    """All sequences of a TensorFlow Datasets video set with an `image_sequence` feature (e.g. moving_mnist)."""
    import tensorflow_datasets as tfds

    spec = TFDS_PREFIX + name
    dataset = load_tfds_split(name, "all", "image_sequence", f"Use the generated {MOVING_MNIST} or a folder of "
                              "sequences as data instead", download, data_dir)
    clips = [example["image_sequence"] for example in tfds.as_numpy(dataset)]
    if not clips:
        raise GanappsError(f"{spec}: no sequences")
    return Sequences(np.concatenate(clips), np.array([len(c) for c in clips], np.int64), spec)


def split(sequences: Sequences, held_out: float = HELD_OUT_FRACTION) -> tuple[Sequences, Sequences]:
    """(training, held-out) sequences: the same fixed shuffle every time, at least one of each."""
    if len(sequences) < 2:
        raise GanappsError(f"{sequences.source}: {len(sequences)} sequence; need at least 2 (training and held-out)")
    order = np.random.default_rng(12345).permutation(len(sequences))
    count = min(max(1, int(len(sequences) * held_out)), len(sequences) - 1)
    return sequences.subset(np.sort(order[count:])), sequences.subset(np.sort(order[:count]))


@functools.lru_cache(maxsize=2)
def _split_files(data: str, size: int, download: bool) -> tuple[Sequences, Sequences]:
    """A tfds set or folder read once per process (grey or colour as it is), split: training and held-out reads,
    whatever their channels, share it."""
    if data.startswith(TFDS_PREFIX):
        return split(load_tfds(data[len(TFDS_PREFIX):], download))
    return split(load_folder(data, size))


def load(
    data: str = MOVING_MNIST, size: int = CANVAS, channels: int | None = None, count: int = SEQUENCES,
    digits: str = GLYPHS, held_out: bool = False, seed: int = 0, download: bool = True,
) -> Sequences:
    """Training (or held-out) sequences of `moving-mnist` (`count` generated), `tfds:NAME` or a folder, with
    frames of `size` x `size`."""
    if data == MOVING_MNIST:
        sequences = load_moving_mnist(count, digits, held_out, seed)
    else:
        sequences = _split_files(data, size, download)[1 if held_out else 0]
    if sequences.frame_shape[0] == size and channels in (None, sequences.frame_shape[-1]):
        return sequences
    frames = fit_frames(sequences.frames, size, channels or sequences.frame_shape[-1])
    return Sequences(frames, sequences.lengths, sequences.source)


# ---------------------------------------------------------------------------------------------- training pairs


def stack_context(frames):
    """`[..., K, S, S, C]` frames (oldest first) -> `[..., S, S, K*C]`: the generator's input."""
    frames = tf.convert_to_tensor(frames)
    rank = len(frames.shape)
    moved = tf.transpose(frames, [*range(rank - 4), rank - 3, rank - 2, rank - 4, rank - 1])
    shape = tf.shape(moved)
    return tf.reshape(moved, tf.concat([shape[:-2], [shape[-2] * shape[-1]]], axis=0))


def pairs(sequences: Sequences, context: int, batch_size: int, seed: int, start_step: int = 0,
          future: int = 1) -> tf.data.Dataset:
    """Resumable shuffled batches of (context `[B, S, S, K*C]`, the next `future` frames `[B, future, S, S, C]`)
    in [-1, 1], one pair per run of K + `future` consecutive frames inside a sequence (a roll-out of `future`
    steps is trained against them)."""
    span = context + future
    starts = sequences.windows(span)
    if not len(starts):
        raise GanappsError(f"{sequences.source}: no sequence has the {span} frames a training pair needs with "
                           f"context {context} and rollout {future}")
    frames = tf.constant(sequences.frames)
    offsets = tf.range(span, dtype=tf.int64)

    def window(first):
        clip = to_float(tf.gather(frames, first[:, None] + offsets))
        return stack_context(clip[:, :context]), clip[:, context:]

    batches = array_dataset(starts, batch_size, seed, start_step)
    return batches.map(window, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)


def moving_mnist_stream(digits: str, context: int, future: int, batch_size: int, seed: int, start_step: int = 0,
                        size: int = CANVAS) -> tf.data.Dataset:
    """Endless batches of fresh Moving MNIST training pairs, as Srivastava et al. train (every sequence new, from
    the training digits): (context `[B, S, S, K*C]`, the next `future` frames `[B, future, S, S, C]`) in [-1, 1].
    Batch k is generated from `[seed, k]` alone, so starting at `start_step` resumes exactly."""
    pool, span = digit_pool(digits), context + future

    def generate(step):
        clips = moving_mnist(pool, batch_size, [seed, int(step)], span)
        return clips if size == CANVAS else np.stack([fit_frames(clip, size, 1) for clip in clips])

    def batch(step):
        clips = tf.ensure_shape(tf.numpy_function(generate, [step], tf.uint8, stateful=False),
                                [batch_size, span, size, size, 1])
        clip = to_float(clips)
        return stack_context(clip[:, :context]), clip[:, context:]

    steps = tf.data.Dataset.counter(start_step)
    return steps.map(batch, num_parallel_calls=AUTOTUNE, deterministic=True).prefetch(AUTOTUNE)
