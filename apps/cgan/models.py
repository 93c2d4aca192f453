"""Conditional generators and discriminators, and the `ConditionalGAN` that trains them through the core hooks.

Every condition becomes a vector, separately in each network (the generator's and the discriminator's embeddings
are their own, so that neither network trains the other's):

- `label`: an integer class through an `Embedding` (Mirza and Osindero 2014 append it to the noise);
- `metadata`: named attributes in their own units, scaled to [-1, 1] by a fixed `Normalization` built from the
  ranges seen in training, then a `Dense` layer;
- `text`: token ids (a Keras `TextVectorization` outside the networks) through a frozen caption tower fitted with
  an image tower before the GAN (`captions.py`, `caption_dim` > 0: the default), through a trainable bag-of-words
  encoder (embedding, masked mean, dense), or the vectors of a pretrained Keras text encoder that maps strings to
  vectors (`text_dim` > 0; frozen, applied once to the captions);
- `image+metadata`: an encoder-decoder redraws an original image at target metadata; its discriminator sees the
  original beside the image (Isola et al.'s conditional discriminator), and an L1 term pulls towards the truth.

Generators are DCGAN-shaped (4x4 projection, stride-2 transposed convolutions, tanh images in [-1, 1]); the
condition vector is appended to the noise and also sets the scale and shift of every batch norm (conditional batch
norm). Discriminators mirror them and end in a linear logit plus one of: a projection term <embed(c), h> (Miyato
and Koyama 2018, the default), an auxiliary head that classifies labels / regresses metadata / predicts a
caption's words (AC-GAN, Odena et al. 2017), or nothing, the condition's embedding being appended to the image as
constant feature maps instead (`concat`: the original conditional GAN's "y appended to the discriminator's input",
Mirza and Osindero 2014).

Conditional generators tend to stop listening to their noise and draw one image per condition; a mode-seeking term
(Mao et al. 2019) on the generator keeps two samples of one condition apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf
from ganapps.apps.cgan import captions
from ganapps.apps.cgan.recipe import CONDITIONS, DISCRIMINATORS, EMBED_DIM
from keras import layers

from ganapps.core import losses as L
from ganapps.core.errors import GanappsError
from ganapps.core.gan import GAN, Batch

LABEL, METADATA, TEXT, IMAGE = CONDITIONS
BASE = 4
KERNEL = 4
BN_MOMENTUM = 0.9  # moving statistics follow the last ~10 steps, as in the dcgan app
CONCAT_DIM = 16  # concat discriminator: channels of the condition's feature maps
IMAGE_SIZES = (16, 32, 64)
CAPTIONS = "captions"  # the frozen caption tower inside each network: `g_captions`, `d_captions`


@dataclass(frozen=True)
class ConditionSpec:
    """What the condition input of both networks is."""

    kind: str = LABEL
    classes: int = 0  # label
    ranges: tuple[tuple[float, float], ...] = ()  # metadata (also image+metadata): low and high per attribute
    vocabulary_size: int = 0  # text: token ids in [0, vocabulary_size)
    text_length: int = 16
    text_dim: int = 0  # text: > 0 when the condition is a pretrained encoder's vectors instead of token ids
    caption_dim: int = 0  # text: > 0 when token ids are read by a frozen caption tower (`captions.py`) of this size

    def __post_init__(self):
        if self.kind not in CONDITIONS:
            raise GanappsError(f"--condition {self.kind!r}: choose one of {', '.join(CONDITIONS)}")


def check_shape(image_size: int, channels: int) -> None:
    if image_size not in IMAGE_SIZES:
        raise GanappsError(f"--image-size {image_size}: choose one of {', '.join(map(str, IMAGE_SIZES))} "
                           "(28x28 data such as MNIST is resized to 32)")
    if channels not in (1, 3):
        raise GanappsError(f"--channels {channels}: choose 1 (grey) or 3 (RGB)")


def _stages(image_size: int) -> int:
    return (image_size // BASE).bit_length() - 1


def _init() -> keras.initializers.Initializer:
    return keras.initializers.RandomNormal(stddev=0.02)


def condition_inputs(spec: ConditionSpec) -> list[keras.KerasTensor]:
    """The condition's serving inputs: `label` int32 [N]; `metadata` float [N, M]; `text` ids or vectors;
    image+metadata: `image` [N, S, S, C] is added by the caller, then `metadata`."""
    if spec.kind == LABEL:
        return [keras.Input((), dtype="int32", name="label")]
    if spec.kind in (METADATA, IMAGE):
        return [keras.Input((len(spec.ranges),), name="metadata")]
    if spec.text_dim:
        return [keras.Input((spec.text_dim,), name="text")]
    return [keras.Input((spec.text_length,), dtype="int32", name="text")]


def normalizer(ranges, name: str) -> layers.Layer:
    """Fixed scaling of attributes from their ranges to [-1, 1]."""
    ranges = np.asarray(ranges, np.float32)
    centre, half = ranges.mean(axis=1), np.maximum((ranges[:, 1] - ranges[:, 0]) / 2.0, 1e-6)
    return layers.Normalization(mean=centre, variance=half**2, name=name)


def embed(spec: ConditionSpec, condition: keras.KerasTensor, dim: int, prefix: str, scale: float = 1.0
          ) -> keras.KerasTensor:
    """The condition as a `[N, dim]` vector (a network's own embedding); label vectors start with entries of
    standard deviation `scale` (1: as large as the noise or the pixels beside them)."""
    if spec.kind == LABEL:
        init = keras.initializers.RandomNormal(stddev=scale)
        return layers.Embedding(spec.classes, dim, embeddings_initializer=init, name=f"{prefix}_label")(condition)
    if spec.kind in (METADATA, IMAGE):
        x = normalizer(spec.ranges, f"{prefix}_scale")(condition)
    elif spec.text_dim:
        x = condition
    elif spec.caption_dim:  # frozen: its weights come from the joint embedding fitted before the GAN
        tower = captions.caption_tower(spec.vocabulary_size, spec.caption_dim, name=f"{prefix}_{CAPTIONS}")
        tower.trainable = False
        x = tower(condition)
    else:
        words = layers.Embedding(spec.vocabulary_size, EMBED_DIM, mask_zero=True, name=f"{prefix}_words")(condition)
        x = layers.GlobalAveragePooling1D(name=f"{prefix}_mean")(words)
    x = layers.Dense(EMBED_DIM, activation="relu", name=f"{prefix}_hidden")(x)
    return layers.Dense(dim, name=f"{prefix}_{spec.kind.split('+')[0]}")(x)


def caption_towers(network: keras.Model) -> list[keras.Model]:
    """The frozen caption towers inside a network (`g_captions`, `d_captions`), none without the joint encoder."""
    return [layer for layer in network.layers if layer.name.endswith(f"_{CAPTIONS}")]


def _conditional_norm(x: keras.KerasTensor, condition: keras.KerasTensor | None) -> keras.KerasTensor:
    """Batch norm whose scale and shift are functions of the condition (de Vries et al. 2017; Miyato and Koyama
    2018), starting as plain batch norm: the condition reaches every layer of the generator, not only its input."""
    channels = x.shape[-1]
    if condition is None:
        return layers.BatchNormalization(momentum=BN_MOMENTUM, synchronized=True)(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, synchronized=True, center=False, scale=False)(x)
    gain = layers.Reshape((1, 1, channels))(layers.Dense(channels, kernel_initializer="zeros")(condition))
    shift = layers.Reshape((1, 1, channels))(layers.Dense(channels, kernel_initializer="zeros")(condition))
    return layers.Add()([x, layers.Multiply()([x, gain]), shift])


def _decoder(x: keras.KerasTensor, condition: keras.KerasTensor, image_size: int, channels: int,
             width: int) -> keras.KerasTensor:
    """A `[N, k]` vector to tanh images through a 4x4 map and stride-2 transposed convolutions (DCGAN), with
    batch norm conditioned on `condition` `[N, E]`."""
    n = _stages(image_size)
    x = layers.Dense(BASE * BASE * width * 2 ** (n - 1), use_bias=False, kernel_initializer=_init())(x)
    x = layers.Reshape((BASE, BASE, width * 2 ** (n - 1)))(x)
    x = layers.ReLU()(_conditional_norm(x, condition))
    for stage in range(n - 1):
        x = layers.Conv2DTranspose(width * 2 ** (n - 2 - stage), KERNEL, strides=2, padding="same", use_bias=False,
                                   kernel_initializer=_init())(x)
        x = layers.ReLU()(_conditional_norm(x, condition))
    x = layers.Conv2DTranspose(channels, KERNEL, strides=2, padding="same", kernel_initializer=_init())(x)
    return layers.Activation("tanh", dtype="float32", name="images")(x)


def _encoder(x: keras.KerasTensor, image_size: int, width: int, batch_norm: bool = True) -> keras.KerasTensor:
    """Images to the flattened 4x4 feature map through stride-2 convolutions and LeakyReLU (DCGAN)."""
    for stage in range(_stages(image_size)):
        x = layers.Conv2D(width * 2**stage, KERNEL, strides=2, padding="same", use_bias=stage == 0 or not batch_norm,
                          kernel_initializer=_init())(x)
        if batch_norm and stage > 0:
            x = layers.BatchNormalization(momentum=BN_MOMENTUM, synchronized=True)(x)
        x = layers.LeakyReLU(0.2)(x)
    return layers.Flatten(name="features")(x)


def generator(spec: ConditionSpec, image_size: int = 32, channels: int = 1, latent_dim: int = 64,
              width: int = 32, embed_dim: int = EMBED_DIM, conditional_norm: bool = True) -> keras.Model:
    """`[latent, condition]` -> images `[N, S, S, C]` in [-1, 1]; image+metadata: `[image, metadata]` -> images."""
    check_shape(image_size, channels)
    condition = condition_inputs(spec)
    if spec.kind == IMAGE:
        original = keras.Input((image_size, image_size, channels), name="image")
        code = _encoder(original, image_size, width)
        vector = embed(spec, condition[0], embed_dim, "g")
        images = _decoder(layers.Concatenate()([code, vector]), vector if conditional_norm else None, image_size,
                          channels, width)
        return keras.Model([original, *condition], images, name="cgan_generator")
    z = keras.Input((latent_dim,), name="latent")
    vector = embed(spec, condition[0], embed_dim, "g")
    images = _decoder(layers.Concatenate()([z, vector]), vector if conditional_norm else None, image_size, channels,
                      width)
    return keras.Model([z, *condition], images, name="cgan_generator")


def discriminator(spec: ConditionSpec, image_size: int = 32, channels: int = 1, width: int = 32,
                  kind: str = "projection", batch_norm: bool = True, aux: bool = False) -> keras.Model:
    """`[images, condition]` -> {"logit" [N, 1], "features" [N, F], "aux" (class logits, metadata in [-1, 1], or
    one logit per vocabulary word)}.

    The auxiliary head comes with `kind="acgan"` (whose logit is then unconditional) or with `aux` beside a
    projection or concat logit.

    image+metadata: `[images, original, metadata]`, the original concatenated to the image along channels.
    """
    check_shape(image_size, channels)
    if kind not in DISCRIMINATORS:
        raise GanappsError(f"--discriminator {kind!r}: choose one of {', '.join(DISCRIMINATORS)}")
    aux = aux or kind == "acgan"
    if aux and spec.kind == TEXT and spec.text_dim:
        raise GanappsError("--discriminator acgan: a pretrained text encoder's vectors have no words to predict; "
                           "use --discriminator projection")
    images = keras.Input((image_size, image_size, channels), name="images")
    inputs = [images]
    seen = [images]
    if spec.kind == IMAGE:
        original = keras.Input((image_size, image_size, channels), name="original")
        inputs.append(original)
        seen.append(original)
    condition = condition_inputs(spec)
    inputs += condition
    if kind == "concat":  # the condition's embedding as constant feature maps beside the image
        maps = layers.Reshape((1, 1, CONCAT_DIM))(embed(spec, condition[0], CONCAT_DIM, "d"))
        seen.append(layers.UpSampling2D(image_size)(maps))
    seen = layers.Concatenate()(seen) if len(seen) > 1 else seen[0]
    features = _encoder(seen, image_size, width, batch_norm)
    logit = layers.Dense(1, kernel_initializer=_init(), name="unconditional")(features)
    outputs = {"features": features}
    if kind == "projection":
        projected = embed(spec, condition[0], features.shape[-1], "d", scale=0.02)
        inner = layers.Dot(axes=1, name="projection")([projected, features])
        logit = layers.Add()([logit, inner])
    if aux:
        size = {LABEL: spec.classes, TEXT: spec.vocabulary_size}.get(spec.kind, len(spec.ranges))
        outputs["aux"] = layers.Dense(size, dtype="float32", kernel_initializer=_init(), name="aux")(features)
    outputs["logit"] = layers.Activation("linear", dtype="float32", name="logit")(logit)
    return keras.Model(inputs, outputs, name="cgan_discriminator")


class ConditionalGAN(GAN):
    """Batches are `(images, condition)`; image+metadata: `(images, (original, metadata))`.

    Extra terms: `aux` (AC-GAN: cross-entropy of labels, squared error of scaled metadata, or the caption's words
    as independent yes/no targets, on real images for the discriminator and on fakes for the generator),
    `mismatch` (a real image with another example's condition scores as fake: Reed et al.'s matching-aware
    discriminator), `l1` (image+metadata: distance to the true redrawing), `match` (text with the joint caption
    embedding: one minus the cosine between the frozen image tower's reading of a sample, `matcher`, and its
    caption's vector, as AttnGAN's DAMSM term).
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model, spec: ConditionSpec,
                 aux_weight: float = 0.0, mismatch_weight: float = 0.0, l1_weight: float = 0.0,
                 diversity_weight: float = 0.0, matcher: keras.Model | None = None, match_weight: float = 0.0,
                 **kwargs):
        if kwargs.get("pack", 1) != 1:
            raise GanappsError("--pack: the discriminator judges each image with its own condition; packing is not "
                               "supported by cgan")
        super().__init__(generator, discriminator, **kwargs)
        self.spec = spec
        self.has_aux = "aux" in discriminator.output
        self.aux_weight = float(aux_weight) if self.has_aux else 0.0
        self.mismatch_weight = float(mismatch_weight)
        self.l1_weight = float(l1_weight) if spec.kind == IMAGE else 0.0
        self.diversity_weight = float(diversity_weight) if spec.kind != IMAGE else 0.0
        self.matcher = matcher if spec.kind == TEXT and spec.caption_dim else None
        self.match_weight = float(match_weight) if self.matcher is not None else 0.0
        if self.matcher is not None:
            self.matcher.trainable = False
        self._seen = []  # this step's discriminator outputs: (samples, condition, outputs)
        if spec.kind in (METADATA, IMAGE):
            ranges = np.asarray(spec.ranges, np.float32)
            self._centre = tf.constant(ranges.mean(axis=1))
            self._half = tf.constant(np.maximum((ranges[:, 1] - ranges[:, 0]) / 2.0, 1e-6))

    def metric_names(self) -> list[str]:
        names = super().metric_names()
        if self.aux_weight:
            names += ["d_aux", "g_aux"]
        if self.mismatch_weight:
            names.append("mismatch")
        if self.l1_weight:
            names.append("l1")
        if self.diversity_weight:
            names.append("mode_seeking")
        if self.match_weight:
            names.append("match")
        return names

    def _conditions(self, condition) -> list:
        return list(condition) if isinstance(condition, (tuple, list)) else [condition]

    def generate(self, batch: Batch, training: bool = True):
        if self.spec.kind == IMAGE:
            return self.generator(self._conditions(batch.condition), training=training)
        return self.generator([self.latent_batch(batch), batch.condition], training=training)

    def _discriminator(self, samples, condition, training: bool = True) -> dict:
        return self.discriminator([samples, *self._conditions(condition)], training=training)

    def train_step(self, data):
        self._seen = []
        try:
            return super().train_step(data)
        finally:
            self._seen = []

    def discriminate(self, samples, batch: Batch, training: bool = True):
        out = self._discriminator(samples, batch.condition, training)
        if training:  # kept for the auxiliary term of the same step, which would otherwise run D again
            self._seen.append((samples, batch.condition, out))
        return tf.cast(out["logit"], tf.float32), out["features"]

    def _aux_loss(self, samples, batch: Batch) -> tf.Tensor:
        out = next((out for seen, condition, out in self._seen
                    if seen is samples and condition is batch.condition), None)
        out = out if out is not None else self._discriminator(samples, batch.condition)
        predicted = tf.cast(out["aux"], tf.float32)
        if self.spec.kind == LABEL:
            return tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(batch.condition, predicted,
                                                                               from_logits=True))
        if self.spec.kind == TEXT:  # the caption's words (ids 0 and 1, padding and unknown, are not words)
            words = tf.reduce_max(tf.one_hot(batch.condition, self.spec.vocabulary_size), axis=1)[:, 2:]
            per_word = tf.nn.sigmoid_cross_entropy_with_logits(labels=words, logits=predicted[:, 2:])
            return tf.reduce_mean(tf.reduce_sum(per_word, axis=-1))
        metadata = tf.cast(self._conditions(batch.condition)[-1], tf.float32)
        return tf.reduce_mean(tf.square(predicted - (metadata - self._centre) / self._half))

    def discriminator_extra_losses(self, batch: Batch, fake, real_logits, fake_logits) -> dict[str, tf.Tensor]:
        terms = {}
        if self.aux_weight:
            terms["d_aux"] = self.aux_weight * self._aux_loss(batch.real, batch)
        if self.mismatch_weight:
            others = tf.nest.map_structure(lambda c: tf.roll(c, 1, axis=0), batch.condition)
            mismatched, _ = self.discriminate(batch.real, Batch(batch.real, others))
            # With d_adv this weighs real : fake : mismatched as 2 : 1 : 1, as Reed et al.'s GAN-CLS.
            terms["mismatch"] = self.mismatch_weight * L.discriminator_loss(
                self.loss_family, real_logits, mismatched, self.label_smoothing)
        return terms

    def generator_extra_losses(self, batch: Batch, fake, training: bool = True) -> dict[str, tf.Tensor]:
        terms = {}
        if self.aux_weight:
            terms["g_aux"] = self.aux_weight * self._aux_loss(fake, batch)
        if self.l1_weight:
            terms["l1"] = self.l1_weight * tf.reduce_mean(tf.abs(tf.cast(fake, tf.float32) - batch.real))
        if self.match_weight:
            # AttnGAN's DAMSM term in cosine form: the frozen image tower reads the sample as its own caption.
            read = self.matcher(tf.cast(fake, tf.float32), training=False)
            wanted = self.generator.get_layer(f"g_{CAPTIONS}")(batch.condition, training=False)
            terms["match"] = self.match_weight * tf.reduce_mean(1.0 - _cosine(read, wanted))
        if self.diversity_weight:
            # Mode seeking (Mao et al. 2019): a second sample per condition, from other noise, should differ; the
            # term grows without bound as the generator stops listening to its noise.
            other = tf.cast(self.generate(batch, training=training), tf.float32)
            distance = tf.reduce_mean(tf.abs(tf.cast(fake, tf.float32) - other), axis=[1, 2, 3])
            terms["mode_seeking"] = self.diversity_weight * tf.reduce_mean(1.0 / (distance + 1e-2))
        return terms


def _cosine(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    return tf.reduce_sum(tf.math.l2_normalize(a, -1) * tf.math.l2_normalize(b, -1), axis=-1)
