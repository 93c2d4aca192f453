"""One class per kind of condition (label, metadata, text, image+metadata), owning all that depends on it: what the
networks take, which data columns feed them, the extra loss terms, the sample grid, a request's checks and the
evaluation rows. The app, the lab and the networks ask the condition object, `of(config)`, never its name."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from ganapps.apps.cgan import captions, models
from ganapps.apps.cgan import data as D
from ganapps.apps.cgan import evaluators as E
from ganapps.apps.cgan.recipe import (CAPTION_DIM, COLOURS, EMBED_DIM, GRID_SAMPLES, MISMATCH_WEIGHT, TEXT_ENCODERS,
                                      TEXT_LENGTH, TEXT_VOCABULARY, Config)
from keras import layers

from ganapps.core import data as core_data
from ganapps.core import losses as L
from ganapps.core.errors import GanappsError, ParameterError
from ganapps.core.gan import Batch, Judgement
from ganapps.core.images import convert_channels, fit_image, load_image, to_uint8

CAPTIONS = "captions"  # the frozen caption tower inside each network: `g_captions`, `d_captions`


def to_float(images) -> np.ndarray:
    """uint8 images -> a float32 array in [-1, 1], the generator's range."""
    return core_data.to_float(images).numpy()


@dataclass
class Generated:
    images: np.ndarray  # [N, S, S, C] in [-1, 1]
    columns: int  # for the grid (0: square)
    conditions: list[str]  # what each image was asked for, in words


def _pick(held_out: D.Examples, num: int, rng: np.random.Generator) -> D.Examples:
    return held_out.subset(rng.choice(len(held_out), num, replace=len(held_out) < num))


def _agreement(reading, real, chosen: D.Examples, what: str) -> tuple[float, float]:
    """The share of generated and of real images whose `what` (labels, colours) the judge reads as `chosen`'s."""
    return tuple(float(np.mean(getattr(r, what) == getattr(chosen, what))) for r in (reading, real))


class Condition:
    """What one kind of condition means for a `Config`; the base is a condition the generator reads beside noise.

    A kind names itself (`name`, the `--condition` value; `takes`, a request's arguments; `layer`, its embedding's
    last layer) and implements `fit(training) -> Config` (what it reads from the data), `columns(examples)` (its
    arrays in the dataset), `inputs()` and `features(condition, prefix)` (the networks' inputs, what the embedding
    starts from), `aux_size` and `aux_loss(predicted, condition)` (the auxiliary head),
    `grid_conditions(held_out, rng, z, rows, columns)`, `draw(sampler, num, seed, *given)` and
    `evaluate(sampler, held_out, judge, num, seed, result)` (rows of `evaluators.Evaluation`).
    """

    name = ""
    takes: tuple[str, ...] = ()
    layer = ""
    pairs = False  # trains on (original, redrawing) pairs of the embedded set
    glyphs_only = False  # evaluation needs the embedded set, whose captions and poses are known
    default_mismatch = 0.0
    predicts = True  # the auxiliary head has something to predict (not a pretrained encoder's vectors)

    def __init__(self, config: Config):
        self.config = config
        self.aux = config.discriminator == "acgan" or (config.aux_weight > 0 and self.predicts)
        aux = config.aux_weight if self.aux else 0.0
        mismatch = self.default_mismatch if config.mismatch_weight is None else config.mismatch_weight
        # the extra terms' weights, in the order they are reported; 0 leaves a term out
        self.weights = {"d_aux": aux, "g_aux": aux, "mismatch": float(mismatch), "l1": 0.0,
                        "mode_seeking": config.diversity_weight, "match": 0.0}

    def batch(self, *columns):  # a dataset element's condition columns as the GAN reads them
        return columns[0]

    def embed(self, condition: keras.KerasTensor, dim: int, prefix: str, scale: float = 1.0) -> keras.KerasTensor:
        """The condition as a `[N, dim]` vector (a network's own embedding)."""
        x = layers.Dense(EMBED_DIM, activation="relu", name=f"{prefix}_hidden")(self.features(condition, prefix))
        return layers.Dense(dim, name=f"{prefix}_{self.layer}")(x)

    def generator_source(self, image_size: int, channels: int, latent_dim: int, width: int):
        """The generator's first input and the code its decoder starts from (beside the condition's vector)."""
        z = keras.Input((latent_dim,), name="latent")
        return z, z

    def discriminator_sources(self, image_size: int, channels: int) -> list[keras.KerasTensor]:
        return []  # images the discriminator sees beside the one it judges

    def matcher(self, generator: keras.Model, discriminator: keras.Model, towers=None) -> keras.Model | None:
        return None  # a frozen network that the generator's terms read samples with

    def serving(self, generator: keras.Model) -> keras.Model:
        return generator  # the generator taking the condition as a user gives it (the export)

    def generator_inputs(self, gan, batch: Batch) -> list:
        return [gan.latent_batch(batch), *tf.nest.flatten(batch.condition)]

    def metric_names(self) -> list[str]:
        return [name for name, weight in self.weights.items() if weight]

    def discriminator_terms(self, gan, batch: Batch, real: Judgement) -> dict[str, tf.Tensor]:
        weights, terms = self.weights, {}
        if weights["d_aux"]:
            terms["d_aux"] = weights["d_aux"] * self.aux_loss(real.heads["aux"], batch.condition)
        if weights["mismatch"]:
            others = tf.nest.map_structure(lambda c: tf.gather(c, neighbours(tf.shape(c)[0])), batch.condition)
            mismatched = gan.discriminate(batch.real, Batch(batch.real, others)).logits
            # With d_adv this weighs real : fake : mismatched as 2 : 1 : 1, as Reed et al.'s GAN-CLS.
            terms["mismatch"] = weights["mismatch"] * L.discriminator_loss(
                gan.loss_family, real.logits, mismatched, gan.label_smoothing)
        return terms

    def generator_terms(self, gan, batch: Batch, fake, scores: Judgement | None,
                        training: bool = True) -> dict[str, tf.Tensor]:
        weights, terms = self.weights, {}
        if weights["g_aux"]:
            terms["g_aux"] = weights["g_aux"] * self.aux_loss(scores.heads["aux"], batch.condition)
        terms.update(self.likeness_terms(gan, batch, tf.cast(fake, tf.float32)))
        if weights["mode_seeking"]:
            # Mode seeking (Mao et al. 2019): a second sample per condition, from other noise, should differ; the
            # term grows without bound as the generator stops listening to its noise.
            other = tf.cast(gan.generate(batch, training=training), tf.float32)
            distance = tf.reduce_mean(tf.abs(tf.cast(fake, tf.float32) - other), axis=[1, 2, 3])
            terms["mode_seeking"] = weights["mode_seeking"] * tf.reduce_mean(1.0 / (distance + 1e-2))
        return terms

    def likeness_terms(self, gan, batch: Batch, fake: tf.Tensor) -> dict[str, tf.Tensor]:
        return {}  # terms pulling a sample towards what its condition asks for (L1, match)

    def grid_inputs(self, held_out: D.Examples, seed: int, rows: int = 10) -> tuple[list, int]:
        """Generator inputs for a picture of the conditioning (from held-out conditions), and its columns."""
        rng = np.random.default_rng(seed)
        columns = GRID_SAMPLES // rows
        z = rng.standard_normal((rows * columns, self.config.latent_dim)).astype(np.float32)
        return self.grid_conditions(held_out, rng, z, rows, columns), columns

    def grid_picture(self, inputs: list, images: np.ndarray, columns: int) -> tuple[np.ndarray, int]:
        return images, columns  # the grid of the images generated from `grid_inputs`

    def generate(self, sampler, num: int, seed: int, **given) -> Generated:
        """`num` images for `given` (label, metadata, text, image); one-line errors for what this model refuses."""
        extra = [name for name, value in given.items() if value is not None and name not in self.takes]
        if extra:
            raise ParameterError(extra[0], f"does not apply to a {self.name} model, which takes "
                                 f"{' and '.join(self.takes)}")
        return self.draw(sampler, num, seed, *(given.get(name) for name in self.takes))


class Label(Condition):
    """An integer class through an `Embedding` (Mirza and Osindero 2014 append it to the noise)."""

    name, takes, layer = "label", ("label",), "label"

    def __init__(self, config: Config):
        super().__init__(config)
        self.aux_size = len(config.class_names)

    def fit(self, training: D.Examples) -> Config:
        if training.labels is None:
            raise ParameterError("data", f"{self.config.data}: has no labels to condition on (a folder needs "
                                 "labels.csv with a 'label' column)")
        return replace(self.config, class_names=training.class_names)

    def columns(self, examples: D.Examples) -> tuple[np.ndarray, ...]:
        return (examples.labels.astype(np.int32),)

    def inputs(self) -> list[keras.KerasTensor]:
        return [keras.Input((), dtype="int32", name="label")]

    def embed(self, condition: keras.KerasTensor, dim: int, prefix: str, scale: float = 1.0) -> keras.KerasTensor:
        """Label vectors start with entries of standard deviation `scale` (1: as large as the noise)."""
        init = keras.initializers.RandomNormal(stddev=scale)
        return layers.Embedding(self.aux_size, dim, embeddings_initializer=init, name=f"{prefix}_label")(condition)

    def aux_loss(self, predicted: tf.Tensor, condition) -> tf.Tensor:
        return tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
            condition, tf.cast(predicted, tf.float32), from_logits=True))

    def grid_conditions(self, held_out, rng, z, rows, columns) -> list:
        return [z, np.repeat(np.arange(rows) % max(self.aux_size, 1), columns).astype(np.int32)]

    def draw(self, sampler, num: int, seed: int, label=None) -> Generated:
        """A label given as its index or class name; none: `num` images of every class, one row per class."""
        names = self.config.class_names
        if label is None:
            labels = np.repeat(np.arange(len(names), dtype=np.int32), num)
            return Generated(sampler.images(sampler.latents(num * len(names), seed), labels), num,
                             [names[k] for k in labels])
        index = self.check(label)
        return Generated(sampler.images(sampler.latents(num, seed), np.full(num, index, np.int32)), 0,
                         [names[index]] * num)

    def check(self, label: int | str) -> int:
        """A label given as its index or its class name, or a one-line error listing the labels."""
        names, text = self.config.class_names, str(label).strip()
        if text in names:
            return names.index(text)
        if re.fullmatch(r"\d+", text) and int(text) < len(names):
            return int(text)
        shown = f"0-{len(names) - 1}" if names == tuple(map(str, range(len(names)))) else ", ".join(names)
        raise ParameterError("label", f"{text!r}: unknown label; this model knows {shown}")

    def evaluate(self, sampler, held_out, judge, num, seed, result) -> None:
        """Per-class accuracy (num spread evenly over the classes) and the spread of images of one label."""
        classes = self.aux_size
        wanted = (np.arange(num) % classes).astype(np.int32)
        images = sampler.images(sampler.latents(num, seed), wanted)
        real_images = to_float(held_out.images)
        overall, per_class = E.label_accuracy(judge.read(images).labels, wanted, classes)
        real_overall, real_per_class = E.label_accuracy(judge.read(real_images).labels, held_out.labels, classes)
        result.add("label accuracy", "all", overall, real_overall)
        for name, value, reference in zip(self.config.class_names, per_class, real_per_class):
            result.add("label accuracy", name, value, reference)
        result.add("within-label spread", "all", E.spread(images, wanted), E.spread(real_images, held_out.labels))


class Metadata(Condition):
    """Named attributes in their own units, scaled to [-1, 1] by a fixed `Normalization` built from the ranges seen
    in training, then a `Dense` layer."""

    name, takes, layer = "metadata", ("metadata",), "metadata"

    def __init__(self, config: Config):
        super().__init__(config)
        self.ranges = np.array(config.ranges, np.float32).reshape(-1, 2)  # [M, 2] low and high per attribute
        self.aux_size = len(config.ranges)

    def fit(self, training: D.Examples) -> Config:
        config = self.config
        if training.metadata is None:
            raise ParameterError("data", f"{config.data}: has no metadata to condition on (a folder needs "
                                 "labels.csv with numeric columns)")
        ranges = D.metadata_ranges(training).tolist()
        return replace(config, attributes=training.attributes, ranges=tuple(map(tuple, ranges)))

    def columns(self, examples: D.Examples) -> tuple[np.ndarray, ...]:
        return (examples.metadata.astype(np.float32),)

    def inputs(self) -> list[keras.KerasTensor]:
        return [keras.Input((len(self.config.ranges),), name="metadata")]

    def features(self, condition, prefix: str) -> keras.KerasTensor:
        return models.normalizer(self.config.ranges, f"{prefix}_scale")(condition)

    def aux_loss(self, predicted: tf.Tensor, condition) -> tf.Tensor:
        """The squared error of the metadata scaled to [-1, 1]."""
        ranges = self.ranges
        centre, half = ranges.mean(axis=1), np.maximum((ranges[:, 1] - ranges[:, 0]) / 2.0, 1e-6)
        metadata = tf.cast(tf.nest.flatten(condition)[-1], tf.float32)
        return tf.reduce_mean(tf.square(tf.cast(predicted, tf.float32) - (metadata - centre) / half))

    def grid_conditions(self, held_out, rng, z, rows, columns) -> list:
        """One row per held-out example with the first attribute (angle) swept left to right."""
        ranges = self.ranges
        picked = rng.choice(len(held_out), rows, replace=len(held_out) < rows)
        metadata = np.repeat(held_out.metadata[picked], columns, axis=0).astype(np.float32)
        metadata = metadata.reshape(rows, columns, -1)
        metadata[:, :, 0] = np.linspace(ranges[0, 0], ranges[0, 1], columns)
        return [self.grid_source(held_out, picked, z, columns), metadata.reshape(rows * columns, -1)]

    def grid_source(self, held_out: D.Examples, picked: np.ndarray, z: np.ndarray, columns: int) -> np.ndarray:
        return z

    def parse(self, text: str) -> dict[str, float]:
        """`angle=30,scale=0.8` -> {"angle": 30.0, "scale": 0.8}, or a one-line error saying what is wrong."""
        names, values = self.config.attributes, {}
        for part in (text or "").split(","):
            if not part.strip():
                continue
            name, equals, value = part.partition("=")
            name = name.strip()
            if not equals:
                raise ParameterError("metadata", f"{text!r}: expected NAME=VALUE pairs separated by commas, e.g. "
                                     f"{names[0]}={float(self.ranges[0].mean()):g}")
            if name not in names:
                raise ParameterError("metadata", f"has an unknown attribute {name!r}; this model knows "
                                     f"{', '.join(names)}")
            try:
                number = float(value)
            except ValueError:
                raise ParameterError("metadata", f"{name}={value.strip()!r} is not a number") from None
            low, high = self.ranges[names.index(name)]
            if not (math.isfinite(number) and low - 1e-6 <= number <= high + 1e-6):
                raise ParameterError("metadata", f"{name}={value.strip()} is outside the range the model was trained "
                                     f"on, {low:g} to {high:g}")
            values[name] = number
        if not values:
            raise ParameterError("metadata", f"{text!r}: no NAME=VALUE pairs; this model knows {', '.join(names)}")
        return values

    def vectors(self, metadata: str | None, num: int, seed: int) -> tuple[np.ndarray, list[str]]:
        """`num` vectors for "angle=30,scale=0.8" (the others drawn uniformly in their ranges), and each in words."""
        values = self.parse(metadata) if metadata is not None else {}
        names, rng = self.config.attributes, np.random.default_rng(seed)
        vectors = np.stack([np.full(num, values[name], np.float32) if name in values else rng.uniform(low, high, num)
                            for name, (low, high) in zip(names, self.ranges)], axis=1).astype(np.float32)
        return vectors, [", ".join(f"{n}={v:g}" for n, v in zip(names, row)) for row in vectors]

    def draw(self, sampler, num: int, seed: int, metadata=None) -> Generated:
        vectors, words = self.vectors(metadata, num, seed)
        return Generated(sampler.images(sampler.latents(num, seed), vectors), 0, words)

    def evaluation_inputs(self, sampler, chosen: D.Examples, num: int, seed: int) -> list:
        return [sampler.latents(num, seed), chosen.metadata]

    def evaluate(self, sampler, held_out, judge, num, seed, result) -> None:
        """Mean absolute error per attribute, in its units and as a share of its range, beside the error of
        guessing (the judge read against shuffled targets)."""
        rng = np.random.default_rng(seed)
        chosen = _pick(held_out, num, rng)
        ranges, attributes = self.ranges, self.config.attributes
        if not set(attributes) <= set(judge.attributes):
            raise GanappsError(f"{self.config.data}: the judge does not read the attributes {', '.join(attributes)}")
        columns = judge.columns(attributes)
        images = sampler.images(*self.evaluation_inputs(sampler, chosen, num, seed))
        reading, real = judge.read(images), judge.read(to_float(chosen.images))
        errors, shares = E.metadata_errors(reading.metadata[:, columns], chosen.metadata, ranges)
        real_errors, real_shares = E.metadata_errors(real.metadata[:, columns], chosen.metadata, ranges)
        guess_errors, guess_shares = E.metadata_errors(reading.metadata[:, columns],
                                                       chosen.metadata[rng.permutation(num)], ranges)
        for k, name in enumerate(attributes):
            result.add("metadata error", name, float(errors[k]), float(real_errors[k]),
                       share_of_range=float(shares[k]), real_share_of_range=float(real_shares[k]),
                       range=[float(r) for r in ranges[k]], shuffled_targets=float(guess_errors[k]),
                       shuffled_share_of_range=float(guess_shares[k]))
        self.evaluation_rows(result, images, chosen, reading, real)

    def evaluation_rows(self, result, images, chosen, reading, real) -> None:
        result.add("digit variety", "all", float(len(np.unique(reading.labels)) / 10.0), None)
        result.add("colour variety", "all", float(len(np.unique(reading.colours)) / len(COLOURS)), None)


class ImageMetadata(Metadata):
    """An encoder-decoder redraws an original image at target metadata; its discriminator sees the original beside
    the image (Isola et al.'s conditional discriminator), and an L1 term pulls towards the true redrawing. No
    noise: nothing for mode seeking to keep apart."""

    name, takes, layer = "image+metadata", ("image", "metadata"), "image"
    pairs = glyphs_only = True

    def __init__(self, config: Config):
        super().__init__(config)
        self.weights.update(l1=config.l1_weight, mode_seeking=0.0)

    def columns(self, examples: D.Examples) -> tuple[np.ndarray, ...]:
        return examples.originals, examples.metadata.astype(np.float32)

    def batch(self, original, metadata):
        return core_data.to_float(original), metadata

    def generator_source(self, image_size: int, channels: int, latent_dim: int, width: int):
        original = keras.Input((image_size, image_size, channels), name="image")
        return original, models.encoder(original, image_size, width)

    def discriminator_sources(self, image_size: int, channels: int) -> list[keras.KerasTensor]:
        return [keras.Input((image_size, image_size, channels), name="original")]

    def generator_inputs(self, gan, batch: Batch) -> list:
        return tf.nest.flatten(batch.condition)

    def likeness_terms(self, gan, batch: Batch, fake: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"l1": self.weights["l1"] * tf.reduce_mean(tf.abs(fake - batch.real))} if self.weights["l1"] else {}

    def grid_source(self, held_out, picked, z, columns) -> np.ndarray:
        return np.repeat(to_float(held_out.originals[picked]), columns, axis=0)

    def grid_picture(self, inputs: list, images: np.ndarray, columns: int) -> tuple[np.ndarray, int]:
        """Each row: the original, then its redrawings."""
        originals = inputs[0].reshape(-1, columns, *images.shape[1:])[:, :1]
        images = np.concatenate([originals, images.reshape(-1, columns, *images.shape[1:])], axis=1)
        return images.reshape(-1, *images.shape[2:]), columns + 1

    def load_original(self, path: str | Path) -> np.ndarray:
        """An image file as the generator's input: centre-cropped, resized, in [-1, 1]."""
        image = fit_image(to_uint8(load_image(path, channels=3), (0.0, 1.0)), self.config.image_size)
        return to_float(convert_channels(image[None], self.config.channels or 1))

    def draw(self, sampler, num: int, seed: int, image=None, metadata=None) -> Generated:
        """The original (a file or an array in [-1, 1]) first, then `num` redrawings."""
        if image is None:
            raise ParameterError("image", "is required by an image+metadata model: the image to redraw")
        vectors, words = self.vectors(metadata, num, seed)
        original = image if isinstance(image, np.ndarray) else self.load_original(image)
        redrawn = sampler.images(np.repeat(original.reshape(1, *original.shape[-3:]), num, axis=0), vectors)
        return Generated(np.concatenate([original.reshape(1, *redrawn.shape[1:]), redrawn]), 0, ["original", *words])

    def evaluation_inputs(self, sampler, chosen, num, seed) -> list:
        return [to_float(chosen.originals), chosen.metadata]

    def evaluation_rows(self, result, images, chosen, reading, real) -> None:
        """Whether the redrawing keeps the digit and colour, and its L1 distance to the true redrawing."""
        result.add("keeps digit", "all", *_agreement(reading, real, chosen, "labels"))
        result.add("keeps colour", "all", *_agreement(reading, real, chosen, "colours"))
        result.add("L1 to the true redrawing", "all", float(np.mean(np.abs(images - to_float(chosen.images)))),
                   None, original=float(np.mean(np.abs(to_float(chosen.originals) - to_float(chosen.images)))))


def vectorizer(vocabulary: tuple[str, ...]) -> keras.layers.TextVectorization:
    """Captions -> `TEXT_LENGTH` token ids (0 pads, 1 is an unknown word)."""
    return keras.layers.TextVectorization(output_sequence_length=TEXT_LENGTH, vocabulary=list(vocabulary))


class Text(Condition):
    """A caption: token ids (a Keras `TextVectorization` outside the networks) through a frozen caption tower fitted
    with an image tower before the GAN (`captions.py`, `caption_dim` > 0: the default), through a trainable
    bag-of-words encoder (embedding, masked mean, dense), or the vectors of a pretrained Keras text encoder that
    maps strings to vectors (`text_dim` > 0; frozen, applied once to the captions). The export takes strings."""

    name, takes, layer = "text", ("text",), "text"
    glyphs_only = True
    default_mismatch = MISMATCH_WEIGHT

    def __init__(self, config: Config):
        # the user's pretrained encoder (a .keras file), or None for the project's own encoders
        self.encoder_file = None if config.text_encoder in TEXT_ENCODERS else config.text_encoder
        if self.encoder_file and config.discriminator == "acgan":
            raise ParameterError("discriminator", "acgan: a pretrained text encoder's vectors have no words to "
                                 "predict; use projection")
        self.predicts = not self.encoder_file
        super().__init__(config)
        self.weights["match"] = config.match_weight if config.caption_dim else 0.0
        self.vocabulary_size = self.aux_size = len(config.vocabulary) + 2  # ids 0 and 1: padding and unknown

    def encoder(self) -> keras.Model:
        path = Path(self.encoder_file).expanduser()
        if not path.is_file():
            raise ParameterError("text_encoder", f"{path}: no such Keras model file (or choose "
                                 f"{' or '.join(TEXT_ENCODERS)})")
        try:
            model = keras.saving.load_model(path, compile=False)
        except (ValueError, OSError, TypeError) as error:
            raise ParameterError("text_encoder", f"{path}: not a loadable Keras model ({error})".splitlines()[0]
                                 ) from None
        model.trainable = False
        return model

    def tokens(self, texts) -> np.ndarray:
        """What the networks read for `texts`: token ids `[N, TEXT_LENGTH]`, or a pretrained encoder's vectors."""
        texts = np.asarray(texts).astype(str)
        if not self.encoder_file:
            return np.asarray(vectorizer(self.config.vocabulary)(tf.constant(texts)), np.int32)
        encoder = self.encoder()
        vectors = np.concatenate([np.asarray(encoder(tf.constant(texts[i : i + 256])), np.float32)
                                  for i in range(0, len(texts), 256)])
        if vectors.ndim != 2:
            raise ParameterError("text_encoder", f"gives shape {vectors.shape}; expected vectors [N, D] for N strings")
        return vectors

    def fit(self, training: D.Examples) -> Config:
        config = self.config
        if training.captions is None:
            raise ParameterError("data", f"{config.data}: has no captions to condition on (a folder needs "
                                 "captions.jsonl)")
        if self.encoder_file:
            return replace(config, text_dim=int(self.tokens(training.captions[:2]).shape[1]))
        adapter = keras.layers.TextVectorization(max_tokens=TEXT_VOCABULARY, output_sequence_length=TEXT_LENGTH)
        adapter.adapt(tf.constant(training.captions.astype(str)))
        return replace(config, vocabulary=tuple(str(word) for word in adapter.get_vocabulary()[2:]),
                       caption_dim=CAPTION_DIM if config.text_encoder == TEXT_ENCODERS[0] else 0)

    def columns(self, examples: D.Examples) -> tuple[np.ndarray, ...]:
        return (self.tokens(examples.captions),)

    def inputs(self) -> list[keras.KerasTensor]:
        if self.config.text_dim:
            return [keras.Input((self.config.text_dim,), name="text")]
        return [keras.Input((TEXT_LENGTH,), dtype="int32", name="text")]

    def features(self, condition, prefix: str) -> keras.KerasTensor:
        if self.config.text_dim:
            return condition
        if self.config.caption_dim:  # frozen: its weights come from the joint embedding fitted before the GAN
            tower = captions.caption_tower(self.vocabulary_size, self.config.caption_dim, name=f"{prefix}_{CAPTIONS}")
            tower.trainable = False
            return tower(condition)
        words = layers.Embedding(self.vocabulary_size, EMBED_DIM, mask_zero=True, name=f"{prefix}_words")(condition)
        return layers.GlobalAveragePooling1D(name=f"{prefix}_mean")(words)

    def matcher(self, generator: keras.Model, discriminator: keras.Model, towers=None) -> keras.Model | None:
        """The joint embedding's image tower; `towers` (fitted) set it and the caption towers in both networks."""
        config = self.config
        if not config.caption_dim:
            return None
        matcher = captions.image_tower((config.image_size, config.image_size, config.channels or 1), config.caption_dim)
        if towers is not None:
            for network in (generator, discriminator):
                for tower in (layer for layer in network.layers if layer.name.endswith(f"_{CAPTIONS}")):
                    tower.set_weights(towers.captions.get_weights())
            matcher.set_weights(towers.images.get_weights())
        return matcher

    def serving(self, generator: keras.Model) -> keras.Model:
        """Strings in: vectorised, or encoded by the pretrained encoder, inside the model."""
        latent = keras.Input((self.config.latent_dim,), name="latent")
        text = keras.Input((), dtype="string", name="text")
        encoded = (self.encoder() if self.encoder_file else vectorizer(self.config.vocabulary))(text)
        return keras.Model([latent, text], generator([latent, encoded]), name="cgan_text_generator")

    def aux_loss(self, predicted: tf.Tensor, condition) -> tf.Tensor:
        """The caption's words as independent yes/no targets (ids 0 and 1, padding and unknown, are not words)."""
        words = tf.reduce_max(tf.one_hot(condition, self.vocabulary_size), axis=1)[:, 2:]
        per_word = tf.nn.sigmoid_cross_entropy_with_logits(labels=words, logits=tf.cast(predicted, tf.float32)[:, 2:])
        return tf.reduce_mean(tf.reduce_sum(per_word, axis=-1))

    def likeness_terms(self, gan, batch: Batch, fake: tf.Tensor) -> dict[str, tf.Tensor]:
        """AttnGAN's DAMSM term in cosine form: the frozen image tower reads the sample as its own caption."""
        if not self.weights["match"]:
            return {}
        read = gan.matcher(fake, training=False)
        wanted = gan.generator.get_layer(f"g_{CAPTIONS}")(batch.condition, training=False)
        cosine = tf.reduce_sum(tf.math.l2_normalize(read, -1) * tf.math.l2_normalize(wanted, -1), axis=-1)
        return {"match": self.weights["match"] * tf.reduce_mean(1.0 - cosine)}

    def grid_conditions(self, held_out, rng, z, rows, columns) -> list:  # one row per held-out caption
        picked = held_out.captions[rng.choice(len(held_out), rows, replace=len(held_out) < rows)]
        return [z, self.tokens(np.repeat(picked, columns))]

    def draw(self, sampler, num: int, seed: int, text=None) -> Generated:
        if text is None:
            raise ParameterError("text", "is required by a text model: give a caption, e.g. \"a small red 7 rotated "
                                 "30 degrees left\"")
        caption = text.strip()
        if not caption:
            raise ParameterError("text", "is an empty caption; describe the image, e.g. \"a small red 7 rotated 30 "
                                 "degrees left\"")
        vocabulary = self.config.vocabulary
        if vocabulary and not np.any(np.asarray(vectorizer(vocabulary)(tf.constant([caption]))) > 1):
            raise ParameterError("text", f"{caption!r}: none of its words are in the model's vocabulary "
                                 f"(e.g. {', '.join(vocabulary[:8])})")
        return Generated(sampler.images(sampler.latents(num, seed), np.array([caption] * num)), 0, [caption] * num)

    def evaluate(self, sampler, held_out, judge, num, seed, result) -> None:
        """Digit, colour and size accuracy against held-out captions; the spread of images of one caption."""
        rng = np.random.default_rng(seed)
        chosen = _pick(held_out, num, rng)
        images = sampler.images(sampler.latents(num, seed), chosen.captions.astype(str))
        reading, real = judge.read(images), judge.read(to_float(chosen.images))
        result.add("digit accuracy", "all", *_agreement(reading, real, chosen, "labels"))
        result.add("colour accuracy", "all", *_agreement(reading, real, chosen, "colours"))
        both = lambda r: float(np.mean((r.labels == chosen.labels) & (r.colours == chosen.colours)))  # noqa: E731
        result.add("digit and colour accuracy", "all", both(reading), both(real))
        named = np.array([any(word in str(c).split() for word in D.SIZE_WORDS) for c in chosen.captions])
        size = judge.columns(("scale",))[0]
        wanted = np.array([D.size_word(s) for s in chosen.metadata[:, size]])
        sizes = lambda r: float(np.mean(np.array([D.size_word(s) for s in r.metadata[:, size]])[named]  # noqa: E731
                                        == wanted[named]))
        result.add("size accuracy", "captions naming a size", sizes(reading), sizes(real), count=int(named.sum()))
        # Ten samples of each of up to num / 10 captions that several held-out images share, beside the spread of
        # those real images: near 0 when the generator draws one image per caption. (None shared: no row.)
        shared, real_groups = np.unique(held_out.captions, return_inverse=True)
        repeated = np.flatnonzero(np.bincount(real_groups) > 1)
        if repeated.size:
            asked = rng.choice(repeated, min(max(num // 10, 1), len(repeated)), replace=False)
            groups = np.repeat(np.arange(len(asked)), 10)
            again = sampler.images(sampler.latents(len(groups), seed + 1), shared[asked][groups].astype(str))
            real_rows = np.isin(real_groups, repeated)
            result.add("within-caption spread", "all", E.spread(again, groups),
                       E.spread(to_float(held_out.images[real_rows]), real_groups[real_rows]), captions=int(len(asked)))


def neighbours(count: tf.Tensor) -> tf.Tensor:
    """Who lends each example its condition for the mismatch term: 0 <-> 1, 2 <-> 3, ... (an odd last one borrows
    from the one before). Pairs, unlike a roll of the whole batch, stay whole when replicas split a global batch
    into even halves, so two replicas mismatch exactly the pairs one device does."""
    swapped = tf.bitwise.bitwise_xor(tf.range(count), 1)
    return tf.where(swapped < count, swapped, tf.maximum(count - 2, 0))


KINDS = {kind.name: kind for kind in (Label, Metadata, Text, ImageMetadata)}


def of(config: Config) -> Condition:
    """The condition object of `config.condition`."""
    return KINDS[config.condition](config)
