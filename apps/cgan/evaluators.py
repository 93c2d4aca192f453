"""Independent judges of generated samples: networks trained by the project on real images only.

A `Judge` is one small CNN with a head per thing the real data is annotated with: the label (classes), the named
colour (embedded set), and the metadata attributes (regressed in [-1, 1] of their ranges). Generated samples are
scored by what the judge reads in them against the condition they were generated from; the same judge on held-out
real images gives the reference a score should be read against (a judge is only as good as its real accuracy).

Judges train once per data set and are cached in `$XDG_CACHE_HOME/ganapps/cgan/` (default `~/.cache`), keyed by
a hash of their training data, so every run on one data set is scored by the same network. For the embedded set
the judge trains on its own rendering (another seed), never on the images a GAN trained on.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from ganapps.apps.cgan import data as D
from ganapps.apps.cgan.recipe import COLOURS
from ganapps.core.console import working

JUDGE_VERSION = 1  # bump when the network or its training changes
EPOCHS = 6
METADATA_WEIGHT = 10.0


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ganapps" / "cgan"


@dataclass
class Reading:
    """What a judge reads in images: label and colour indices, metadata in the attributes' units (or None)."""

    labels: np.ndarray | None
    colours: np.ndarray | None
    metadata: np.ndarray | None


class Judge:
    """A trained multi-head CNN: images in [-1, 1] -> `Reading`."""

    def __init__(self, model: keras.Model, attributes: tuple[str, ...], ranges: np.ndarray):
        self.model = model
        self.attributes = tuple(attributes)
        self.ranges = np.asarray(ranges, np.float32).reshape(-1, 2)
        self.heads = tuple(model.output.keys())
        self._forward = tf.function(lambda x: model(x, training=False), reduce_retracing=True)

    def read(self, images: np.ndarray, batch_size: int = 250) -> Reading:
        outputs = {head: [] for head in self.heads}
        for start in range(0, len(images), batch_size):
            chunk = (np.asarray(images[start : start + batch_size], np.float32) + 1.0) / 2.0
            for head, value in self._forward(tf.constant(chunk)).items():
                outputs[head].append(np.asarray(value))
        joined = {head: np.concatenate(values) for head, values in outputs.items()}
        metadata = None
        if "metadata" in joined:
            low, high = self.ranges[:, 0], self.ranges[:, 1]
            metadata = low + (joined["metadata"] + 1.0) / 2.0 * (high - low)
        return Reading(joined["label"].argmax(-1) if "label" in joined else None,
                       joined["colour"].argmax(-1) if "colour" in joined else None, metadata)

    def columns(self, names: tuple[str, ...]) -> list[int]:
        return [self.attributes.index(name) for name in names]


def network(image_shape: tuple[int, int, int], classes: int, colours: int, attributes: int, seed: int = 0
            ) -> keras.Model:
    """(conv 3x3 - max pool) x 3 with 32, 64, 128 filters, dense 256, and one head per annotation."""
    init = [keras.initializers.GlorotUniform(seed=seed + k) for k in range(7)]
    images = keras.Input(image_shape, name="images")
    x = images
    for k, filters in enumerate((32, 64, 128)):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", kernel_initializer=init[k])(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(256, activation="relu", kernel_initializer=init[3], name="features")(x)
    heads = {}
    if classes:
        heads["label"] = keras.layers.Dense(classes, kernel_initializer=init[4], name="label")(x)
    if colours:
        heads["colour"] = keras.layers.Dense(colours, kernel_initializer=init[5], name="colour")(x)
    if attributes:
        heads["metadata"] = keras.layers.Dense(attributes, kernel_initializer=init[6], name="metadata")(x)
    return keras.Model(images, heads, name="judge")


def train_judge(examples: D.Examples, ranges: np.ndarray | None = None, epochs: int = EPOCHS, seed: int = 0
                ) -> keras.Model:
    """Fit the judge on real `examples` (seeded, so a retrain gives the same network on one machine)."""
    targets, losses = {}, {}
    if examples.labels is not None:
        targets["label"], losses["label"] = examples.labels, "label"
    if examples.colours is not None:
        targets["colour"], losses["colour"] = examples.colours, "colour"
    if examples.metadata is not None:
        low, high = ranges[:, 0], ranges[:, 1]
        targets["metadata"] = (2.0 * (examples.metadata - low) / np.maximum(high - low, 1e-6) - 1.0).astype(np.float32)
    model = network(examples.images.shape[1:], examples.classes if examples.labels is not None else 0,
                    len(COLOURS) if examples.colours is not None else 0,
                    len(examples.attributes) if examples.metadata is not None else 0, seed)
    crossentropy = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    # Metadata errors are small numbers in [-1, 1] units: weighted up so that the regression trains as fast.
    model.compile(keras.optimizers.Adam(1e-3),
                  loss={head: "mse" if head == "metadata" else crossentropy for head in targets},
                  loss_weights={head: METADATA_WEIGHT if head == "metadata" else 1.0 for head in targets})
    images = examples.images.astype(np.float32) / 255.0
    data = (tf.data.Dataset.from_tensor_slices((images, targets))
            .shuffle(len(images), seed=seed, reshuffle_each_iteration=True).batch(64).prefetch(tf.data.AUTOTUNE))
    model.fit(data, epochs=epochs, verbose=0, shuffle=False)
    return model


def _key(examples: D.Examples) -> str:
    digest = hashlib.sha1(f"v{JUDGE_VERSION}".encode())
    for array in (examples.images, examples.labels, examples.colours, examples.metadata):
        digest.update(b"-" if array is None else np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:16]


def training_examples(data: str, image_size: int, channels: int, download: bool = True) -> D.Examples:
    """What a data set's judge learns from: for the embedded set its own rendering (seed 1), else the training
    split of the data (real images only)."""
    if data == D.GLYPHS:
        return D.render_scenes(seed=1).shaped(image_size, channels)
    training, _ = D.split(D.load(data, image_size, channels, download=download))
    return training


def judge(data: str, image_size: int, channels: int, download: bool = True) -> Judge:
    """The cached judge of `data` (trained on first use)."""
    examples = training_examples(data, image_size, channels, download)
    ranges = None if examples.metadata is None else D.metadata_ranges(examples)
    path = cache_dir() / f"judge-{_key(examples)}.keras"
    if path.is_file():
        meta = json.loads(path.with_suffix(".json").read_text())
        return Judge(keras.saving.load_model(path, compile=False), tuple(meta["attributes"]),
                     np.array(meta["ranges"], np.float32))
    with working(f"training the {data} judge that scores cgan runs (once; cached in {path.parent})"):
        model = train_judge(examples, ranges)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.stem}.{os.getpid()}.keras")
    model.save(staging)
    meta = {"attributes": list(examples.attributes), "ranges": [] if ranges is None else ranges.tolist()}
    path.with_suffix(".json").write_text(json.dumps(meta))
    os.replace(staging, path)
    return Judge(model, examples.attributes, np.zeros((0, 2)) if ranges is None else ranges)


# ------------------------------------------------------------------------------------------------------- scores


@dataclass
class Evaluation:
    """Scores of generated images read by the data's judge, beside the judge's own scores on held-out real images.

    Every row is one measurement: `what` (label accuracy, colour accuracy, digit accuracy, metadata error ...),
    `scope` (`all`, a class name, an attribute), `generated` and `real` (the same measurement on real images).
    """

    condition: str
    data: str
    samples: int
    rows: list[dict] = field(default_factory=list)

    def add(self, what: str, scope: str, generated: float, real: float | None, **extra) -> None:
        self.rows.append({"what": what, "scope": scope, "generated": generated, "real": real, **extra})

    def as_dicts(self) -> list[dict]:
        head = {"condition": self.condition, "data": self.data, "samples": self.samples}
        return [{**head, **row} for row in self.rows]


def label_accuracy(predicted: np.ndarray, wanted: np.ndarray, classes: int) -> tuple[float, list[float]]:
    """Overall accuracy and per-class accuracy (NaN for a class never asked for)."""
    per_class = [float(np.mean(predicted[wanted == k] == k)) if np.any(wanted == k) else float("nan")
                 for k in range(classes)]
    return float(np.mean(predicted == wanted)), per_class


def metadata_errors(predicted: np.ndarray, wanted: np.ndarray, ranges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean absolute error per attribute, in its units and as a fraction of its range."""
    error = np.abs(np.asarray(predicted) - np.asarray(wanted)).mean(axis=0)
    return error, error / np.maximum(ranges[:, 1] - ranges[:, 0], 1e-6)


def spread(images: np.ndarray, groups: np.ndarray) -> float:
    """Mean L1 pixel distance between two images of the same group (label), over consecutive pairs of each group:
    near 0 when a generator draws one image per label whatever its noise; compare with real images' spread."""
    distances = []
    for group in np.unique(groups):
        members = np.asarray(images[groups == group], np.float32)
        if len(members) > 1:
            distances.append(np.abs(members[1:] - members[:-1]).mean(axis=(1, 2, 3)))
    return float(np.concatenate(distances).mean()) if distances else float("nan")
