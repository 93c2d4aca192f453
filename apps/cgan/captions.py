"""A caption encoder learnt jointly with an image encoder on the training pairs, before the GAN trains.

Text-to-image GANs condition on a text embedding that was trained to agree with images (Reed et al. 2016's
joint embedding for GAN-INT-CLS, StackGAN; AttnGAN's DAMSM), not on one learnt from scratch by the adversarial
game: a caption's vector then says what the image shows ("7" and "seven" land together, phrasing words do
not matter) from the generator's first step. Here two small towers are fitted with a symmetric contrastive loss
(InfoNCE over the batch, as CLIP): a bag-of-words caption tower (Keras `TextVectorization`, word embeddings,
masked mean, two dense layers) and a convolutional image tower, both ending on vectors of length
`sqrt(dim)` (entries of unit scale, like the generator's noise). The GAN conditions on the frozen caption
vectors; the frozen image tower reads the generator's samples for the matching term (`ConditionalGAN`'s
`match`, AttnGAN's DAMSM loss in cosine form).

Both towers live inside the GAN (a frozen copy of the caption tower in each network, the image tower as its
`matcher`), so checkpoints, resumes and exports carry them like any other weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf
from ganapps.apps.cgan.recipe import CAPTION_DIM, CAPTION_STEPS, EMBED_DIM, TEXT_LENGTH
from keras import layers

from ganapps.core.data import array_dataset

BATCH = 128
TEMPERATURE = 0.1


def _unit_vectors(x: keras.KerasTensor, dim: int, name: str) -> keras.KerasTensor:
    """Directions only, at length sqrt(dim): entries of about unit scale."""
    return layers.Rescaling(math.sqrt(dim), name=name)(layers.UnitNormalization()(x))


def caption_tower(vocabulary_size: int, dim: int = CAPTION_DIM, name: str = "caption_tower") -> keras.Model:
    """Token ids `[N, TEXT_LENGTH]` (0 pads) -> vectors `[N, dim]`."""
    ids = keras.Input((TEXT_LENGTH,), dtype="int32", name="tokens")
    words = layers.Embedding(vocabulary_size, EMBED_DIM, mask_zero=True, name="words")(ids)
    x = layers.GlobalAveragePooling1D(name="mean")(words)
    x = layers.Dense(128, activation="relu", name="hidden")(x)
    return keras.Model(ids, _unit_vectors(layers.Dense(dim, name="project")(x), dim, "caption"), name=name)


def image_tower(image_shape: tuple[int, int, int], dim: int = CAPTION_DIM) -> keras.Model:
    """Images in [-1, 1] (the generator's range) -> vectors `[N, dim]`: (conv 3x3, max pool) x 3, dense."""
    images = keras.Input(image_shape, name="images")
    x = images
    for filters in (32, 64, 128):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D()(x)
    x = layers.Dense(256, activation="relu")(layers.Flatten()(x))
    return keras.Model(images, _unit_vectors(layers.Dense(dim)(x), dim, "image"), name="image_encoder")


class JointEmbedding(keras.Model):
    """Both towers, trained so that each image's vector is nearest its own caption's within the batch."""

    def __init__(self, captions: keras.Model, images: keras.Model, temperature: float = TEMPERATURE, **kwargs):
        super().__init__(**kwargs)
        self.captions, self.images, self.temperature = captions, images, temperature

    def call(self, inputs, training: bool = False):
        images, ids = inputs
        return self.images(images, training=training), self.captions(ids, training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        image_vectors, caption_vectors = y_pred
        dim = tf.cast(tf.shape(image_vectors)[-1], tf.float32)
        logits = tf.matmul(image_vectors, caption_vectors, transpose_b=True) / (dim * self.temperature)
        # Captions naming the same thing as the target's count as negatives here; at 128 per batch there are few.
        targets = tf.range(tf.shape(logits)[0])
        per_image = keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True)
        per_caption = keras.losses.sparse_categorical_crossentropy(targets, tf.transpose(logits), from_logits=True)
        return 0.5 * (tf.reduce_mean(per_image) + tf.reduce_mean(per_caption))


@dataclass
class Towers:
    """The fitted towers: `captions` maps token ids to vectors, `images` maps images in [-1, 1] to vectors."""

    captions: keras.Model
    images: keras.Model


def fit(images: np.ndarray, ids: np.ndarray, vocabulary_size: int, steps: int = CAPTION_STEPS, batch_size: int = BATCH,
        seed: int = 0, dim: int = CAPTION_DIM) -> Towers:
    """Fit both towers on uint8 `images` and their captions' token `ids` (seeded: the same towers for the same
    data on one machine)."""
    keras.utils.set_random_seed(seed)
    towers = Towers(caption_tower(vocabulary_size, dim), image_tower(images.shape[1:], dim))
    joint = JointEmbedding(towers.captions, towers.images)
    joint.compile(keras.optimizers.Adam(1e-3))
    data = array_dataset((images, ids), batch_size, seed).map(
        lambda x, t: ((tf.cast(x, tf.float32) / 127.5 - 1.0, t), None))
    joint.fit(data, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False)
    return towers


def retrieval_accuracy(towers: Towers, images: np.ndarray, ids: np.ndarray, candidates: int = 10, seed: int = 0
                       ) -> float:
    """Share of uint8 `images` whose own caption (token `ids`) is the nearest of `candidates` captions drawn with
    it (chance: 1/candidates): how well the embedding ties words to pictures, on pairs it was not fitted on."""
    rng = np.random.default_rng(seed)
    image_vectors = np.asarray(towers.images.predict(images.astype(np.float32) / 127.5 - 1.0, verbose=0))
    text_vectors = np.asarray(towers.captions.predict(ids, verbose=0))
    hits = 0
    for k in range(len(images)):
        others = rng.choice(np.delete(np.arange(len(images)), k), candidates - 1, replace=False)
        scores = text_vectors[np.concatenate([[k], others])] @ image_vectors[k]
        hits += int(np.argmax(scores) == 0)
    return hits / len(images)
