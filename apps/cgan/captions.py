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

from ganapps.core.data import array_dataset, to_float

BATCH = 128
HELD_BACK = 0.1  # of the pairs, to score the fitted towers on
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
        return 0.5 * (info_nce(image_vectors, caption_vectors, self.temperature)
                      + info_nce(caption_vectors, image_vectors, self.temperature))


def info_nce(queries: tf.Tensor, keys: tf.Tensor, temperature: float = TEMPERATURE) -> tf.Tensor:
    """The cross-entropy of picking each query's own key (row k of both) among the batch's, by cosine / temperature.

    Captions naming the same thing as an image's own count as negatives; at 128 per batch there are few.
    """
    logits = tf.matmul(tf.math.l2_normalize(queries, -1), tf.math.l2_normalize(keys, -1), transpose_b=True)
    targets = tf.range(tf.shape(logits)[0])
    return tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(targets, logits / temperature,
                                                                       from_logits=True))


@dataclass
class Towers:
    """The fitted towers (`captions` maps token ids to vectors, `images` maps images in [-1, 1] to vectors) and how
    well they agree on pairs held back from fitting: `retrieval`, the share of images whose own caption is the
    nearest of 10 (chance 0.1)."""

    captions: keras.Model
    images: keras.Model
    retrieval: float


def fit(images: np.ndarray, ids: np.ndarray, vocabulary_size: int, steps: int = CAPTION_STEPS, batch_size: int = BATCH,
        seed: int = 0, dim: int = CAPTION_DIM, held_back: float = HELD_BACK) -> Towers:
    """Fit both towers on uint8 `images` and their captions' token `ids`, but for a `held_back` share of the pairs
    that they are then scored on (seeded: the same towers for the same data on one machine)."""
    keras.utils.set_random_seed(seed)
    order = np.random.default_rng(seed).permutation(len(images))
    check, used = order[: int(len(images) * held_back)], order[int(len(images) * held_back):]
    captions, pictures = caption_tower(vocabulary_size, dim), image_tower(images.shape[1:], dim)
    joint = JointEmbedding(captions, pictures)
    joint.compile(keras.optimizers.Adam(1e-3))
    data = array_dataset((images[used], ids[used]), batch_size, seed).map(lambda x, t: ((to_float(x), t), None))
    joint.fit(data, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False)
    image_vectors = pictures.predict(to_float(images[check]), verbose=0)
    caption_vectors = captions.predict(ids[check], verbose=0)
    return Towers(captions, pictures, retrieval_accuracy(image_vectors, caption_vectors, seed=seed))


def retrieval_accuracy(image_vectors: np.ndarray, caption_vectors: np.ndarray, candidates: int = 10, seed: int = 0
                       ) -> float:
    """Share of images whose own caption (row k of both) is the nearest of `candidates` captions drawn with it,
    by dot product: the towers' vectors all have length sqrt(dim), so that ranks by cosine."""
    rng = np.random.default_rng(seed)
    hits = 0
    for k in range(len(image_vectors)):
        others = rng.choice(np.delete(np.arange(len(image_vectors)), k), candidates - 1, replace=False)
        hits += int(np.argmax(caption_vectors[np.concatenate([[k], others])] @ image_vectors[k]) == 0)
    return hits / len(image_vectors)
