"""CycleGAN's networks and its GAN (Zhu, Park, Isola and Efros 2017, "Unpaired image-to-image translation using
cycle-consistent adversarial networks"), and pix2pix for aligned pairs (Isola, Zhu, Zhou and Efros 2017,
"Image-to-image translation with conditional adversarial networks").

Generator (Johnson et al. 2016, as the paper's appendix): c7s1-w, d2w, d4w, `blocks` residual blocks of 4w,
u2w, uw, c7s1-3 with tanh; reflection padding before every 3x3 and 7x7 convolution and instance normalisation
after every convolution but the last. The paper uses 6 blocks at 128 pixels and 9 at 256, w = 64.
Discriminator: the 70x70 PatchGAN (C64-C128-C256-C512, 4x4 kernels, LeakyReLU 0.2, instance normalisation but on
the first layer), one logit per overlapping 70x70 patch.

`CycleGAN` trains two generators (G: A -> B, F: B -> A) and two discriminators (D_A, D_B) through the core's
step: the core's `generator` is a container model of both generators (so EMA, variables and export cover both),
its `discriminator` one of both critics. Discriminators judge generated images drawn from a history of the last
50 (Shrivastava et al. 2017), kept in a checkpointed variable and updated identically on every replica.

`Pix2Pix` trains the same two directions on aligned pairs: U-Net generators (skip connections carry the layout
through, as the paper's section 3.2.1) and conditional PatchGANs that judge (input, output) pairs, with L1 to the
true output, weight 100.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from ganapps.apps.cyclegan.recipe import check_shape
from keras import layers

from ganapps.core import losses as L
from ganapps.core.errors import ParameterError
from ganapps.core.gan import GAN, Batch, Judgement

D_LAYERS = 3  # strided layers of the PatchGAN: 3 gives the 70x70 receptive field


@keras.saving.register_keras_serializable("ganapps")
class ReflectionPad2D(keras.layers.Layer):
    """Pads height and width by mirroring the border (without repeating it), as PyTorch's ReflectionPad2d:
    no artificial dark frame for the convolutions to learn around."""

    def __init__(self, padding: int, **kwargs):
        super().__init__(**kwargs)
        self.padding = int(padding)

    def call(self, x):
        p = self.padding
        return tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], mode="REFLECT")

    def compute_output_shape(self, input_shape):
        grow = lambda n: None if n is None else n + 2 * self.padding
        return (input_shape[0], grow(input_shape[1]), grow(input_shape[2]), input_shape[3])

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}


def instance_norm(name: str | None = None) -> keras.layers.Layer:
    """Instance normalisation: per image and channel over height and width, with a learnt scale and shift."""
    return layers.GroupNormalization(groups=-1, epsilon=1e-5, name=name)


def _init() -> keras.initializers.Initializer:
    return keras.initializers.RandomNormal(stddev=0.02)  # the paper's code: N(0, 0.02)


def _conv_norm_relu(x, filters: int, kernel: int, strides: int = 1, reflect: int = 0):
    if reflect:
        x = ReflectionPad2D(reflect)(x)
    padding = "valid" if reflect or strides == 1 else "same"
    x = layers.Conv2D(filters, kernel, strides=strides, padding=padding, kernel_initializer=_init())(x)
    return layers.ReLU()(instance_norm()(x))


def generator(image_size: int = 64, blocks: int = 6, width: int = 64, channels: int = 3,
              name: str = "generator") -> keras.Model:
    """Images `[N, S, S, C]` in [-1, 1] -> translated images, the same shape, in [-1, 1]."""
    check_shape(image_size, blocks, width)
    images = keras.Input((image_size, image_size, channels), name="image")
    x = _conv_norm_relu(images, width, 7, reflect=3)
    x = _conv_norm_relu(x, 2 * width, 3, strides=2)
    x = _conv_norm_relu(x, 4 * width, 3, strides=2)
    for _ in range(blocks):
        h = _conv_norm_relu(x, 4 * width, 3, reflect=1)
        h = ReflectionPad2D(1)(h)
        h = instance_norm()(layers.Conv2D(4 * width, 3, kernel_initializer=_init())(h))
        x = layers.Add()([x, h])
    for filters in (2 * width, width):
        x = layers.Conv2DTranspose(filters, 3, strides=2, padding="same", kernel_initializer=_init())(x)
        x = layers.ReLU()(instance_norm()(x))
    x = ReflectionPad2D(3)(x)
    x = layers.Conv2D(channels, 7, kernel_initializer=_init())(x)
    translated = layers.Activation("tanh", dtype="float32", name="translation")(x)
    return keras.Model(images, translated, name=name)


def discriminator(image_size: int = 64, width: int = 64, channels: int = 3, d_layers: int = D_LAYERS,
                  name: str = "discriminator") -> keras.Model:
    """Images `[N, S, S, C]` -> patch logits `[N, P, P, 1]` (the PatchGAN of pix2pix and CycleGAN).

    Padding 1 before every 4x4 convolution, as the paper's code: 64 pixels give 6x6 patches, 256 give 30x30.
    """
    images = keras.Input((image_size, image_size, channels), name="image")
    x = images
    for stage in range(d_layers + 1):
        strides = 2 if stage < d_layers else 1
        x = layers.ZeroPadding2D(1)(x)
        x = layers.Conv2D(width * 2 ** min(stage, 3), 4, strides=strides, kernel_initializer=_init())(x)
        if stage > 0:
            x = instance_norm()(x)
        x = layers.LeakyReLU(0.2)(x)
    x = layers.ZeroPadding2D(1)(x)
    logits = layers.Conv2D(1, 4, dtype="float32", kernel_initializer=_init(), name="patch_logits")(x)
    return keras.Model(images, logits, name=name)


def unet_generator(image_size: int = 64, width: int = 64, channels: int = 3, name: str = "generator") -> keras.Model:
    """pix2pix's U-Net (the paper's appendix): 4x4 stride-2 convolutions C(w)-C(2w)-C(4w)-C(8w)... down to 1x1,
    transposed convolutions back up, each joined with the encoder's map of the same size; LeakyReLU 0.2 down, ReLU
    up, tanh out. Instance normalisation (the paper's batch norm at its batch size of 1) on every layer but the
    first and the 1x1 bottleneck, where it would zero the map. No dropout: the paper finds the generator ignores
    its noise, and a random layer would tie the step to the replica count."""
    check_shape(image_size, width=width)
    depth = int(image_size).bit_length() - 1  # halvings down to 1x1 for a power of two
    if 2 ** depth != image_size:
        raise ParameterError("image_size", f"must be a power of two for the paired U-Net, got {image_size}")
    images = keras.Input((image_size, image_size, channels), name="image")
    x, skips = images, []
    for level in range(depth):
        x = layers.Conv2D(width * 2 ** min(level, 3), 4, strides=2, padding="same", kernel_initializer=_init())(x)
        if 0 < level < depth - 1:
            x = instance_norm()(x)
        x = layers.LeakyReLU(0.2)(x)
        skips.append(x)
    for level in reversed(range(depth - 1)):
        x = layers.Conv2DTranspose(width * 2 ** min(level, 3), 4, strides=2, padding="same",
                                   kernel_initializer=_init())(x)
        x = layers.ReLU()(instance_norm()(x))
        x = layers.Concatenate()([x, skips[level]])
    x = layers.Conv2DTranspose(channels, 4, strides=2, padding="same", kernel_initializer=_init())(x)
    translated = layers.Activation("tanh", dtype="float32", name="translation")(x)
    return keras.Model(images, translated, name=name)


def pair(on_a: keras.Model, on_b: keras.Model, name: str) -> keras.Model:
    """Two networks as one model, `[a, b] -> [on_a(a), on_b(b)]`: how the core sees both generators (G, F) or both
    critics (D_A, D_B)."""
    a = keras.Input(on_a.inputs[0].shape[1:], name="a")
    b = keras.Input(on_b.inputs[0].shape[1:], name="b")
    return keras.Model([a, b], [on_a(a), on_b(b)], name=name)


def cycle_networks(image_size: int = 64, blocks: int = 6, width: int = 64) -> tuple[keras.Model, keras.Model]:
    """`pair(G, F)` and `pair(D_A, D_B)` for RGB images: what `CycleGAN` takes."""
    generators = pair(generator(image_size, blocks, width, name="a2b"),
                      generator(image_size, blocks, width, name="b2a"), "generators")
    critics = pair(discriminator(image_size, width, name="d_a"), discriminator(image_size, width, name="d_b"),
                   "discriminators")
    return generators, critics


def paired_networks(image_size: int = 64, width: int = 64) -> tuple[keras.Model, keras.Model]:
    """`pair(G, F)` of U-Nets and `pair(D_A, D_B)` of conditional PatchGANs (each sees the input and an output
    stacked as 6 channels): what `Pix2Pix` takes."""
    generators = pair(unet_generator(image_size, width, name="a2b"), unet_generator(image_size, width, name="b2a"),
                      "generators")
    critics = pair(discriminator(image_size, width, channels=6, name="d_a"),
                   discriminator(image_size, width, channels=6, name="d_b"), "discriminators")
    return generators, critics


# ------------------------------------------------------------------------------------------------------ losses


def l1(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
    """Mean absolute difference: the paper's cycle and identity distance."""
    return tf.reduce_mean(tf.abs(tf.cast(x, tf.float32) - tf.cast(y, tf.float32)))


class TwoWayGAN(GAN):
    """Two generators (G: A -> B, F: B -> A) and two discriminators (D_A, D_B); batches are `(a, b)` image batches.

    The core's `generator` is `pair(G, F)` (layers `a2b` and `b2a`), its `discriminator` `pair(D_A, D_B)` (layers
    `d_a` and `d_b`), so EMA, variables and export cover both directions. Subclasses say what the critics see and
    which terms the generators minimise.
    """

    # The networks by role, looked up in the containers (so that nothing is tracked twice).
    @property
    def g_ab(self) -> keras.Model:
        return self.generator.get_layer("a2b")

    @property
    def g_ba(self) -> keras.Model:
        return self.generator.get_layer("b2a")

    @property
    def d_a(self) -> keras.Model:
        return self.discriminator.get_layer("d_a")

    @property
    def d_b(self) -> keras.Model:
        return self.discriminator.get_layer("d_b")

    def translator(self, direction: str) -> keras.Model:
        """The sampling (EMA, when trained with one) generator of `direction`, `a2b` or `b2a`."""
        return self.sampling_generator.get_layer(direction)

    # ------------------------------------------------------------------ hooks
    def unpack_batch(self, data) -> Batch:
        a, b = data
        return Batch((a, b))

    def generate(self, batch: Batch, training: bool = True) -> tuple[tf.Tensor, tf.Tensor]:
        """(F(b), G(a)): generated images of domain A and of domain B, in the order of `batch.real`."""
        a, b = batch.real
        return self.g_ba(b, training=training), self.g_ab(a, training=training)

    def critic_terms(self, real_logits, fake_logits) -> dict[str, tf.Tensor]:
        """Both critics' losses summed (`d_adv`) and their mean logits on real and generated images."""
        per_domain = [L.discriminator_loss(self.loss_family, r, f, self.label_smoothing)
                      for r, f in zip(real_logits, fake_logits)]
        return {
            "d_adv": per_domain[0] + per_domain[1],
            "d_real": tf.reduce_mean([tf.reduce_mean(r) for r in real_logits]),
            "d_fake": tf.reduce_mean([tf.reduce_mean(f) for f in fake_logits]),
        }

    def adversarial_term(self, fake_logits) -> tf.Tensor:
        """Both generators' adversarial losses summed, times `adversarial_weight`."""
        return self.adversarial_weight * tf.add_n([L.generator_loss(self.loss_family, f) for f in fake_logits])

    def diversity_ratio(self, real, fake) -> tf.Tensor:
        """Spatial spread of the translations over that of the real images of the same domains, per image (a
        batch of 1, the paper's, has no spread across the batch); near 0 means flat, washed-out output."""
        def spread(images):
            images = tf.cast(images, tf.float32)
            return tf.reduce_mean(tf.math.reduce_std(images, axis=[1, 2]))

        real_spread = tf.add_n([spread(x) for x in real])
        return tf.add_n([spread(x) for x in fake]) / (real_spread + 1e-8)


class CycleGAN(TwoWayGAN):
    """Two generators and two discriminators for unpaired domains A and B (see `cycle_networks`).

    The generator objective is the paper's: adversarial terms for both directions (each the core loss family's generator loss, times
    `adversarial_weight`), `cycle_weight` x (|F(G(a)) - a| + |G(F(b)) - b|) and `identity_weight` x
    (|G(b) - b| + |F(a) - a|). Each discriminator minimises the family's discriminator loss on its real domain
    against generated images from its history pool.
    """

    def __init__(self, generators: keras.Model, discriminators: keras.Model, cycle_weight: float = 10.0,
                 identity_weight: float = 5.0, pool_size: int = 50, **kwargs):
        super().__init__(generators, discriminators, **kwargs)
        self.cycle_weight = float(cycle_weight)
        self.identity_weight = float(identity_weight)
        self.pool_size = int(pool_size)
        shape = tuple(generators.inputs[0].shape[1:])
        # The history pools, saved with the weights: generated images of A (for D_A) and of B (for D_B), and how
        # many of each pool's slots are filled.
        self.pools = [
            (self.add_weight(shape=(max(pool_size, 1), *shape), initializer="zeros", trainable=False,
                             aggregation="only_first_replica", name=f"pool_{domain}"),
             self.add_weight(shape=(), dtype="int32", initializer="zeros", trainable=False,
                             aggregation="only_first_replica", name=f"pool_{domain}_filled"))
            for domain in ("a", "b")
        ]

    def metric_names(self) -> list[str]:
        names = ["g_loss", "cycle", "identity", "g_grad_norm", "diversity"]
        if self.adversarial:
            names = ["d_loss", "d_adv", "d_real", "d_fake", "g_adv"] + names
        return names

    def discriminate(self, samples, batch: Batch, training: bool = True) -> Judgement:
        """Patch logits of (D_A on domain-A images, D_B on domain-B images)."""
        a, b = samples
        return Judgement((tf.cast(self.d_a(a, training=training), tf.float32),
                          tf.cast(self.d_b(b, training=training), tf.float32)))

    # ------------------------------------------------------------------ the two halves of the core's step
    def discriminator_terms(self, batch: Batch) -> dict[str, tf.Tensor]:
        fakes = tf.nest.map_structure(tf.stop_gradient, self.generate(batch))
        pooled = tuple(self.query_pool(k, fake) for k, fake in enumerate(fakes))
        return self.critic_terms(self.judge(batch.real, batch).logits, self.judge(pooled, batch).logits)

    def generator_terms(self, batch: Batch):
        a, b = batch.real
        fake_a, fake_b = self.generate(batch)
        # Cycle and identity passes batched per generator (instance norm keeps images independent).
        rec_b, same_b = tf.split(self.g_ab(tf.concat([fake_a, b], 0), training=True), 2)
        rec_a, same_a = tf.split(self.g_ba(tf.concat([fake_b, a], 0), training=True), 2)
        terms = {
            "cycle": self.cycle_weight * (l1(rec_a, a) + l1(rec_b, b)),
            "identity": self.identity_weight * (l1(same_b, b) + l1(same_a, a)),
        }
        if self.adversarial:
            terms["g_adv"] = self.adversarial_term(self.judge((fake_a, fake_b), batch).logits)
        return terms, (fake_a, fake_b)

    # ------------------------------------------------------------------ the history pool
    def query_pool(self, domain: int, images: tf.Tensor) -> tf.Tensor:
        """The paper's image pool for one domain: while not full, store each image and return it; once full,
        return a random stored image in its place (and store the new one there) with probability 1/2.

        Replica-correct: the images and draws of the whole global batch are gathered on every replica, the pool
        is updated on all alike in global order, and each replica gets its slice back, so N replicas keep and
        return what one replica would for the same global batch.
        """
        if self.pool_size == 0:
            return images
        images = tf.cast(images, tf.float32)
        local = tf.shape(images)[0]
        draws = self.random_uniform([local, 2])  # this replica's slice of the global batch's draws
        replicas, replica_id = self._replica()
        context = tf.distribute.get_replica_context()
        if replicas > 1:
            images = context.all_gather(images, axis=0)
            draws = context.all_gather(draws, axis=0)
        pool, filled = self.pools[domain]
        returned, buffer, count = pool_step(images, draws, pool.value, filled.value, self.pool_size)
        pool.assign(buffer)
        filled.assign(count)
        start = tf.cast(replica_id, tf.int32) * local
        return returned[start : start + local]


class Pix2Pix(TwoWayGAN):
    """pix2pix in both directions for aligned pairs `(a, b)` (see `paired_networks`): G learns a -> b and F
    b -> a, each from the true partner of its input.

    Each critic is conditional, as the paper's: D_B judges (a, b) against (a, G(a)) and D_A (b, a) against
    (b, F(b)), the two images stacked on channels, so it can tell a translation that fits its input from one that
    merely looks like the domain. The generators minimise the loss family's adversarial terms plus
    `l1_weight` x (|G(a) - b| + |F(b) - a|); the paper's L1 weight is 100.
    """

    augmentable = False  # each critic sees an image beside its input

    def __init__(self, generators: keras.Model, discriminators: keras.Model, l1_weight: float = 100.0, **kwargs):
        super().__init__(generators, discriminators, **kwargs)
        self.l1_weight = float(l1_weight)

    def metric_names(self) -> list[str]:
        names = ["g_loss", "l1", "g_grad_norm", "diversity"]
        if self.adversarial:
            names = ["d_loss", "d_adv", "d_real", "d_fake", "g_adv"] + names
        return names

    def discriminate(self, samples, batch: Batch, training: bool = True) -> Judgement:
        """Patch logits of (D_A on (b, domain-A image), D_B on (a, domain-B image)): each image judged beside the
        input it was (or should have been) translated from."""
        a, b = batch.real
        x_a, x_b = samples
        stack = lambda condition, image: tf.concat([condition, tf.cast(image, condition.dtype)], axis=-1)
        return Judgement((tf.cast(self.d_a(stack(b, x_a), training=training), tf.float32),
                          tf.cast(self.d_b(stack(a, x_b), training=training), tf.float32)))

    def discriminator_terms(self, batch: Batch) -> dict[str, tf.Tensor]:
        fakes = tf.nest.map_structure(tf.stop_gradient, self.generate(batch))
        return self.critic_terms(self.discriminate(batch.real, batch).logits,
                                 self.discriminate(fakes, batch).logits)

    def generator_terms(self, batch: Batch):
        a, b = batch.real
        fake_a, fake_b = self.generate(batch)
        terms = {"l1": self.l1_weight * (l1(fake_b, b) + l1(fake_a, a))}
        if self.adversarial:
            terms["g_adv"] = self.adversarial_term(self.discriminate((fake_a, fake_b), batch).logits)
        return terms, (fake_a, fake_b)


def pool_step(images: tf.Tensor, draws: tf.Tensor, buffer: tf.Tensor, filled: tf.Tensor, size: int):
    """Pass `images` through a pool `buffer` holding `filled` images, one by one; `draws [N, 2]` are uniform in
    [0, 1): a coin (swap when below 1/2) and the slot. Returns (the images to judge, the new buffer, filled)."""
    count = tf.shape(images)[0]

    def body(i, out, buffer, filled):
        image, coin, slot = images[i], draws[i, 0], tf.cast(tf.floor(draws[i, 1] * size), tf.int32)
        slot = tf.minimum(slot, size - 1)
        storing = filled < size
        swapping = tf.logical_and(tf.logical_not(storing), coin < 0.5)
        target = tf.where(storing, filled, slot)
        shown = tf.where(swapping, buffer[target], image)
        write = tf.logical_or(storing, swapping)
        buffer = tf.cond(write, lambda: tf.tensor_scatter_nd_update(buffer, [[target]], [image]), lambda: buffer)
        return i + 1, out.write(i, shown), buffer, filled + tf.cast(storing, filled.dtype)

    out = tf.TensorArray(images.dtype, size=count, element_shape=images.shape[1:])
    _, out, buffer, filled = tf.while_loop(lambda i, *_: i < count, body, (tf.constant(0), out, buffer, filled))
    return out.stack(), buffer, filled
