"""Semi-supervised classification with a GAN (Salimans et al. 2016, "Improved techniques for training GANs", 5).

The discriminator is a K-class classifier whose logits l_1..l_K also say real or fake: with the fake class's logit
fixed at 0, D(x) = Z / (Z + 1) for Z = sum_k exp(l_k), so the core's minimax/non-saturating loss on the logit
logsumexp(l) is exactly the paper's unsupervised loss. It trains on every training image (real vs generated) and
on the few labelled ones (cross-entropy over the K classes); the generator only matches the mean of the
discriminator's last hidden layer on real and generated batches (feature matching). The networks are the paper's
MNIST ones: a 1000-500-250-250-250 ReLU MLP with Gaussian noise on every layer and weight normalisation
(initialised from the data) for D, a 500-500 softplus MLP with batch norm for G.

The baseline is the same discriminator network trained on the labelled images alone, with the same noise and
optimiser for as many updates. Both are scored on the data's held-out fifth as a count of test errors.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple

import keras
import numpy as np
import tensorflow as tf
from ganapps.apps.cgan import data as D
from ganapps.apps.cgan.recipe import SEMISUP_DEFAULTS, SemisupConfig
from keras import layers

from ganapps.core import runs
from ganapps.core.app import App
from ganapps.core.data import array_dataset
from ganapps.core.errors import ParameterError
from ganapps.core.export import Handle, export_generator
from ganapps.core.gan import GAN, Judgement
from ganapps.core.images import save_image_grid
from ganapps.core.layers import BatchNormalization
from ganapps.core.runs import TrainOptions, compile_gan

IMAGE_SHAPE = (28, 28, 1)
LATENT_DIM = 100
HIDDEN = (1000, 500, 250, 250, 250)
INPUT_NOISE, HIDDEN_NOISE = 0.6, 0.5  # the paper's 0.3 on [0, 1] pixels is 0.6 on our [-1, 1] ones
INIT_BATCH = 500  # images for the data-dependent initialisation, as in the paper's code
SUPERVISED_WEIGHT = 2.0  # the paper halves the unsupervised term; doubling this instead keeps its ratio


@keras.saving.register_keras_serializable("ganapps.cgan")
class WeightNormDense(keras.layers.Layer):
    """A dense layer with weight normalisation (Salimans and Kingma 2016): w = g v / ||v|| per unit, which the paper's
    networks use and which lets them train at its learning rate. g starts at the initial ||v||, so the layer starts
    as a plain glorot-initialised `Dense`."""

    def __init__(self, units: int, activation: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        self.v = self.add_weight(shape=(input_shape[-1], self.units), initializer="glorot_uniform", name="v")
        self.g = self.add_weight(shape=(self.units,), initializer="ones", name="g")
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="b")
        self.g.assign(keras.ops.sqrt(keras.ops.sum(keras.ops.square(self.v), axis=0)))

    def call(self, x):
        norm = keras.ops.sqrt(keras.ops.sum(keras.ops.square(self.v), axis=0) + 1e-12)
        return self.activation(keras.ops.matmul(x, self.v) * (self.g / norm) + self.b)

    def initialize(self, x) -> None:
        """Data-dependent initialisation (Salimans and Kingma 2016): g and b such that this layer's
        pre-activations have mean 0 and standard deviation 1 on the batch `x`, the scale the Gaussian noise
        layers of the paper's networks are relative to."""
        norm = keras.ops.sqrt(keras.ops.sum(keras.ops.square(self.v), axis=0) + 1e-12)
        t = keras.ops.matmul(x, self.v) / norm
        std = keras.ops.std(t, axis=0) + 1e-6
        self.g.assign(1.0 / std)
        self.b.assign(-keras.ops.mean(t, axis=0) / std)


def initialize_from_data(model: keras.Model, images: np.ndarray) -> keras.Model:
    """Every `WeightNormDense` of `model`, in order, initialised on `images` (noise layers off)."""
    for layer in model.layers:
        if isinstance(layer, WeightNormDense):
            layer.initialize(keras.Model(model.input, layer.input)(images, training=False))
    return model


def classifier(image_shape: tuple[int, int, int], classes: int, seed: int = 0) -> keras.Model:
    """Images in [-1, 1] -> {"logits" [N, K], "features" [N, 250]} (the paper's MNIST discriminator)."""
    images = keras.Input(image_shape, name="images")
    x = layers.GaussianNoise(INPUT_NOISE, seed=seed)(layers.Flatten()(images))
    for k, units in enumerate(HIDDEN):
        x = WeightNormDense(units, activation="relu", name=f"hidden{k}")(x)
        features = x
        x = layers.GaussianNoise(HIDDEN_NOISE, seed=seed + k + 1)(x)
    logits = WeightNormDense(classes, dtype="float32", name="logits")(x)
    return keras.Model(images, {"logits": logits, "features": features}, name="semisup_discriminator")


def conv_classifier(image_shape: tuple[int, int, int], classes: int, seed: int = 0) -> keras.Model:
    """A small convolutional discriminator in the style of the paper's CIFAR-10 one: Gaussian input noise,
    3x3 convolutions with LeakyReLU, two stride-2 stages, dropout, global average pooling."""
    images = keras.Input(image_shape, name="images")
    x = layers.GaussianNoise(INPUT_NOISE / 2, seed=seed)(images)  # convolutions average it: half the MLP's
    for k, (filters, stride) in enumerate(((32, 1), (32, 2), (64, 1), (64, 2), (64, 1))):
        x = layers.Conv2D(filters, 3, strides=stride, padding="same")(x)
        x = layers.LeakyReLU(0.2)(x)
        if stride == 2:
            x = layers.Dropout(0.5, seed=seed + k)(x)
    features = layers.GlobalAveragePooling2D(name="features")(x)
    logits = WeightNormDense(classes, dtype="float32", name="logits")(features)
    return keras.Model(images, {"logits": logits, "features": features}, name="semisup_conv_discriminator")


def generator(image_shape: tuple[int, int, int], latent_dim: int = LATENT_DIM) -> keras.Model:
    """Noise -> images in [-1, 1]: dense 500 - 500 with batch norm and softplus, then a tanh image."""
    z = keras.Input((latent_dim,), name="latent")
    x = z
    for _ in range(2):
        x = layers.Dense(500, use_bias=False)(x)
        x = BatchNormalization()(x)
        x = layers.Activation("softplus")(x)
    x = layers.Dense(int(np.prod(image_shape)), activation="tanh", dtype="float32")(x)
    return keras.Model(z, layers.Reshape(image_shape, name="images")(x), name="semisup_generator")


class SemiBatch(NamedTuple):
    """Unlabelled real images (what the adversarial terms see) and a labelled batch."""

    real: tf.Tensor
    condition: None
    labelled: tf.Tensor
    labels: tf.Tensor


class SemiSupervisedGAN(GAN):
    """Batches are `(unlabelled, (labelled, labels))`; see the module docstring for the losses."""

    def __init__(self, generator: keras.Model, discriminator: keras.Model, supervised_weight: float = 1.0,
                 **kwargs):
        super().__init__(generator, discriminator, **kwargs)
        self.supervised_weight = float(supervised_weight)

    def compile(self, *args, **kwargs) -> None:
        if not kwargs.get("feature_matching"):
            raise ParameterError("feature_matching", "must be above 0: the semi-supervised generator learns from "
                                 "feature matching alone")
        super().compile(*args, **kwargs)

    def metric_names(self) -> list[str]:
        return [name for name in super().metric_names() if name != "g_adv"] + ["supervised"]

    def unpack_batch(self, data) -> SemiBatch:
        unlabelled, (labelled, labels) = data
        return SemiBatch(unlabelled, None, labelled, labels)

    def discriminate(self, samples, batch, training: bool = True) -> Judgement:
        out = self.discriminator(samples, training=training)
        return Judgement(tf.reduce_logsumexp(out["logits"], axis=-1, keepdims=True), out["features"])

    def discriminator_extra_losses(self, batch, fake, real, fake_scores) -> dict[str, tf.Tensor]:
        logits = self.discriminator(batch.labelled, training=True)["logits"]
        loss = keras.losses.sparse_categorical_crossentropy(batch.labels, logits, from_logits=True)
        return {"supervised": self.supervised_weight * tf.reduce_mean(loss)}

    def generator_terms(self, batch):
        terms, fake = super().generator_terms(batch)
        terms.pop("g_adv")  # Salimans et al.: the generator only matches features
        return terms, fake


def test_errors(model: keras.Model, images: np.ndarray, labels: np.ndarray) -> int:
    """Misclassified images (the noise layers are off at inference)."""
    logits = model.predict(images, batch_size=500, verbose=0)["logits"]
    return int(np.sum(np.argmax(logits, axis=-1) != labels))


class TestErrors(keras.callbacks.Callback):
    """The discriminator's test errors after each epoch: the learning curve of the report."""

    def __init__(self, images: np.ndarray, labels: np.ndarray):
        super().__init__()
        self.images, self.labels = images, labels
        self.curve: list[int] = []

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.curve.append(test_errors(self.model.discriminator, self.images, self.labels))


def pick_labelled(labels: np.ndarray, count: int, classes: int, seed: int) -> np.ndarray:
    """Indices of `count` examples, the same number per class (Salimans et al.: 10 per digit for 100)."""
    if count < classes or count % classes:
        raise ParameterError("labels", f"{count}: must be a positive multiple of the {classes} classes")
    rng = np.random.default_rng(seed)
    chosen = []
    for k in range(classes):
        members = np.flatnonzero(labels == k)
        if len(members) < count // classes:
            raise ParameterError("labels", f"{count}: class {k} has only {len(members)} training images")
        chosen.append(rng.choice(members, count // classes, replace=False))
    return np.sort(np.concatenate(chosen))


@dataclass
class Report:
    data: str
    labels: int
    unlabelled: int
    test: int
    run_dir: Path
    rows: list[dict] = field(default_factory=list)

    def as_dicts(self) -> list[dict]:
        head = {"data": self.data, "labels": self.labels, "unlabelled": self.unlabelled, "test": self.test}
        return [{**head, **row} for row in self.rows]


def supervised_baseline(images: np.ndarray, labels: np.ndarray, classes: int, options: TrainOptions,
                        updates: int, network: str = "mlp") -> keras.Model:
    """The discriminator network trained as a plain classifier on the labelled images only."""
    keras.utils.set_random_seed(options.seed)
    model = initialize_from_data(NETWORKS[network](images.shape[1:], classes, options.seed), images)
    model.compile(keras.optimizers.Adam(options.d_lr, beta_1=options.beta1, beta_2=options.beta2),
                  loss={"logits": keras.losses.SparseCategoricalCrossentropy(from_logits=True)})
    data = array_dataset((images, labels), options.batch_size, options.seed).map(lambda x, y: (x, {"logits": y}))
    model.fit(data, epochs=1, steps_per_epoch=updates, verbose=0)
    return model


NETWORKS = {"mlp": classifier, "conv": conv_classifier}


class Split(NamedTuple):
    """A labelled digit set as the experiment reads it: every training image, the labelled few, the test split."""

    unlabelled: np.ndarray  # float32 in [-1, 1]
    labelled: np.ndarray
    labelled_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    classes: int


def load_split(config: SemisupConfig, seed: int, download: bool = True, progress: bool = False) -> Split:
    examples = D.load(config.data, IMAGE_SHAPE[0], 1, download=download, progress=progress)
    if examples.labels is None:
        raise ParameterError("data", f"{config.data}: semisup needs labelled images (labels for the test split)")
    training, test = D.split(examples)
    chosen = pick_labelled(training.labels, config.labels, examples.classes, seed)
    scale = lambda x: x.astype(np.float32) / 127.5 - 1.0  # noqa: E731
    return Split(scale(training.images), scale(training.images[chosen]), training.labels[chosen], scale(test.images),
                 test.labels, examples.classes)


class Classifier(Handle):
    """The trained discriminator's K classes: images in [-1, 1] -> class probabilities."""

    @classmethod
    def from_gan(cls, gan: GAN, config: SemisupConfig, source: str) -> Classifier:
        return cls.from_keras(probabilities(gan), source)


def probabilities(gan: GAN) -> keras.Model:
    return keras.Model(gan.discriminator.input, layers.Softmax()(gan.discriminator.output["logits"]))


def build(config: SemisupConfig, options: TrainOptions, init: np.ndarray | None = None) -> SemiSupervisedGAN:
    """The compiled GAN; `init`: the images of the discriminator's data-dependent initialisation (a checkpoint
    restores the weights instead)."""
    discriminator = NETWORKS[config.network](IMAGE_SHAPE, config.classes, options.seed)
    if init is not None:
        initialize_from_data(discriminator, init)
    gan = SemiSupervisedGAN(generator(IMAGE_SHAPE), discriminator, supervised_weight=SUPERVISED_WEIGHT,
                            ema_decay=options.ema or None, seed=options.seed)
    return compile_gan(gan, options)


def dataset(config: SemisupConfig, options: TrainOptions, start_step: int, data: Split | None = None
            ) -> tf.data.Dataset:
    data = load_split(config, options.seed) if data is None else data
    unlabelled = array_dataset(data.unlabelled, options.batch_size, options.seed, start_step)
    labelled = array_dataset((data.labelled, data.labelled_y), options.batch_size, options.seed + 1, start_step)
    return tf.data.Dataset.zip(unlabelled, labelled)


def samples(gan: GAN, config: SemisupConfig, options: TrainOptions, path: Path) -> None:
    save_image_grid(gan.sample(100, seed=options.seed + 1), path, 10)


def export(gan: GAN, config: SemisupConfig, folder: Path, version: int = 1, format: str = "saved_model") -> Path:
    """The classifier (input `images` in [-1, 1], output `probabilities`), at `export/classifier` beside
    `folder`."""
    return export_generator(probabilities(gan), folder.parent / "classifier", version, input_names=["images"],
                            output_name="probabilities", input_ranges={"images": (-1.0, 1.0)},
                            output_range=(0.0, 1.0), format=format)


APP = App("cgan-semisup", SemisupConfig, build, dataset, Classifier, defaults=SEMISUP_DEFAULTS, samples=samples,
          export=export)


def run(config: SemisupConfig | None = None, options: TrainOptions | None = None, download: bool = True,
        progress: bool = False) -> Report:
    """Train the semi-supervised GAN (a resumable run in `options.out`) and the supervised-only baseline on the
    same labelled images; count both models' errors on the test split."""
    config, options = config or SemisupConfig(), options or APP.options()
    data = load_split(config, options.seed, download, progress)
    config = replace(config, classes=data.classes)
    app = replace(APP, build=functools.partial(build, init=data.unlabelled[:INIT_BATCH]),
                  dataset=functools.partial(dataset, data=data))
    curve = TestErrors(data.test_x, data.test_y)
    started = time.perf_counter()
    result = runs.train(app, config, options, callbacks=[curve])
    gan_seconds = time.perf_counter() - started
    updates = options.epochs * options.steps * options.d_steps
    if config.baseline_epochs is not None:
        updates = max(1, config.baseline_epochs * int(np.ceil(len(data.labelled) / options.batch_size)))
    started = time.perf_counter()
    baseline = supervised_baseline(data.labelled, data.labelled_y, data.classes, options, updates, config.network)
    baseline_seconds = time.perf_counter() - started
    report = Report(config.data, config.labels, len(data.unlabelled), len(data.test_x), result.run_dir)
    for name, model, seconds, steps, extra in (
        ("semi-supervised GAN", result.gan.discriminator, gan_seconds, options.epochs * options.steps,
         {"errors_per_epoch": curve.curve}),
        ("supervised only", baseline, baseline_seconds, updates, {}),
    ):
        errors = test_errors(model, data.test_x, data.test_y)
        report.rows.append({"model": name, "errors": errors, "error_rate": errors / len(data.test_x),
                            "seconds": seconds, "updates": steps, **extra})
    return report
