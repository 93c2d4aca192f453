"""The conditional GAN lab, usable from a notebook: train, generate, evaluate and export.

    from ganapps.apps.cgan import lab
    run = lab.train(lab.Config(condition="label"), lab.default_options(out="runs/cgan"))
    sevens = lab.generate("runs/cgan", label=7, num=16)            # [16, 32, 32, 3] in [-1, 1]
    print(lab.evaluate("runs/cgan").as_dicts())                     # scored by an independent judge

A trained model is named by its run directory or by an exported SavedModel folder. Generating and evaluating use
the run's export when there is one, else its checkpoint. Exports take the condition as input: `latent` and
`label` (int), `metadata` (float, in the attributes' units) or `text` (string); image+metadata takes `image` and
`metadata`. The model's condition, classes, attribute ranges and vocabulary travel with it in
`assets.extra/cgan.json`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from ganapps.apps.cgan import captions
from ganapps.apps.cgan import data as D
from ganapps.apps.cgan import evaluators as E
from ganapps.apps.cgan import models
from ganapps.apps.cgan.recipe import (
    AUX_WEIGHT,
    CAPTION_DIM,
    CAPTION_STEPS,
    COLOURS,
    DEFAULT_DATA,
    DEFAULTS,
    DIVERSITY_WEIGHT,
    GRID_SAMPLES,
    IMAGE_SIZE,
    L1_WEIGHT,
    LATENT_DIM,
    MATCH_WEIGHT,
    MISMATCH_WEIGHT,
    TEXT_ENCODERS,
    TEXT_LENGTH,
    TEXT_VOCABULARY,
    WIDTH,
)
from ganapps.core import imagesets as image_data
from ganapps.core.console import console

from ganapps.core.callbacks import RunCheckpoint
from ganapps.core import data as core_data
from ganapps.core.data import array_dataset
from ganapps.core.errors import GanappsError
from ganapps.core.export import export_generator
from ganapps.core.export import load_generator as load_saved_model
from ganapps.core.images import (
    atomic_write_bytes,
    load_image,
    save_image_grid,
    to_uint8,
)
from ganapps.core.runs import (
    TrainOptions,
    TrainResult,
    compile_gan,
    load_run,
    open_model,
    train_gan,
)

APP = "cgan"
LABEL, METADATA, TEXT, IMAGE = models.LABEL, models.METADATA, models.TEXT, models.IMAGE
INFO_FILE = Path("assets.extra") / "cgan.json"
JOINT, BAG_OF_WORDS = TEXT_ENCODERS


def default_options(**overrides) -> TrainOptions:
    """The lab's default training options, with any field overridden."""
    return TrainOptions(**{**DEFAULTS, "out": Path("runs") / APP, **overrides})


@dataclass(frozen=True)
class Config:
    """What rebuilds a run's networks; saved in its config.json (under options.extra) and beside its export.

    The last five fields are read from the data when training starts.
    """

    condition: str = LABEL
    data: str = DEFAULT_DATA
    image_size: int = IMAGE_SIZE
    channels: int | None = None
    latent_dim: int = LATENT_DIM
    width: int = WIDTH
    discriminator: str = "projection"
    aux_weight: float = AUX_WEIGHT
    mismatch_weight: float | None = None  # None: MISMATCH_WEIGHT for text, else 0
    l1_weight: float = L1_WEIGHT
    text_encoder: str = JOINT  # joint, bag-of-words, or a .keras model mapping strings [N] to vectors [N, D]
    match_weight: float = MATCH_WEIGHT  # text, joint encoder: the image tower reads samples as their caption
    caption_steps: int = CAPTION_STEPS  # text, joint encoder: updates of the joint embedding before the GAN
    conditional_norm: bool = True
    diversity_weight: float = DIVERSITY_WEIGHT
    class_names: tuple[str, ...] = ()
    attributes: tuple[str, ...] = ()
    ranges: tuple[tuple[float, float], ...] = ()
    vocabulary: tuple[str, ...] = ()
    text_dim: int = 0
    caption_dim: int = 0

    @classmethod
    def of(cls, options: TrainOptions) -> Config:
        return cls.from_dict(options.extra[APP])

    @classmethod
    def from_dict(cls, values: dict) -> Config:
        known = {f.name for f in fields(cls)}
        values = {k: tuple(map(tuple, v)) if k == "ranges" else tuple(v) if isinstance(v, list) else v
                  for k, v in values.items() if k in known}
        return cls(**values)

    @property
    def mismatch(self) -> float:
        return (MISMATCH_WEIGHT if self.condition == TEXT else 0.0) if self.mismatch_weight is None \
            else self.mismatch_weight

    @property
    def encoder_file(self) -> str | None:
        """text: the user's pretrained encoder (a .keras file), or None for the project's own encoders."""
        return None if self.text_encoder in TEXT_ENCODERS else self.text_encoder

    @property
    def aux(self) -> bool:
        """Whether the discriminator has an auxiliary head: acgan, or a positive weight where there is something
        to predict (labels, metadata, a caption's words; not a pretrained encoder's vectors)."""
        return self.discriminator == "acgan" or (self.aux_weight > 0 and not self.encoder_file)

    @property
    def spec(self) -> models.ConditionSpec:
        return models.ConditionSpec(self.condition, len(self.class_names), self.ranges,
                                    len(self.vocabulary) + 2, TEXT_LENGTH, self.text_dim, self.caption_dim)

    def attribute_set(self) -> D.Attributes:
        return D.Attributes(self.attributes, np.array(self.ranges, np.float32).reshape(-1, 2))


def build_gan(options: TrainOptions, towers: captions.Towers | None = None) -> models.ConditionalGAN:
    """The compiled conditional GAN for `options`; the discriminator drops batch norm under a gradient penalty.

    With the joint caption encoder, `towers` gives the fitted caption and image towers; without, they start
    random and a checkpoint restores them.
    """
    config = Config.of(options)
    spec = config.spec
    channels = config.channels or 1
    penalised = bool(options.gp_weight or options.r1_weight)
    generator = models.generator(spec, config.image_size, channels, config.latent_dim, config.width,
                                 conditional_norm=config.conditional_norm)
    discriminator = models.discriminator(spec, config.image_size, channels, config.width, config.discriminator,
                                         batch_norm=not penalised, aux=config.aux)
    matcher = None
    if spec.caption_dim:
        matcher = captions.image_tower((config.image_size, config.image_size, channels), spec.caption_dim)
        if towers is not None:
            for tower in models.caption_towers(generator) + models.caption_towers(discriminator):
                tower.set_weights(towers.captions.get_weights())
            matcher.set_weights(towers.images.get_weights())
    gan = models.ConditionalGAN(generator, discriminator, spec, aux_weight=config.aux_weight,
                                mismatch_weight=config.mismatch, l1_weight=config.l1_weight,
                                diversity_weight=config.diversity_weight, matcher=matcher,
                                match_weight=config.match_weight, ema_decay=options.ema or None, pack=options.pack,
                                seed=options.seed)
    return compile_gan(gan, options)


def to_float(images) -> np.ndarray:
    """uint8 images -> a float32 array in [-1, 1], the generator's range."""
    return core_data.to_float(images).numpy()


# ------------------------------------------------------------------------------------------------------ conditions


def _load_text_encoder(path: str) -> keras.Model:
    path = Path(path).expanduser()
    if not path.is_file():
        raise GanappsError(f"--text-encoder {path}: no such Keras model file (or choose {' or '.join(TEXT_ENCODERS)})")
    try:
        model = keras.saving.load_model(path, compile=False)
    except (ValueError, OSError, TypeError) as error:
        raise GanappsError(f"--text-encoder {path}: not a loadable Keras model ({error})".splitlines()[0]) from None
    model.trainable = False
    return model


def _encode_texts(encoder: keras.Model, texts, batch_size: int = 256) -> np.ndarray:
    texts = np.asarray(texts).astype(str)
    chunks = [np.asarray(encoder(tf.constant(texts[i : i + batch_size])), np.float32)
              for i in range(0, len(texts), batch_size)]
    vectors = np.concatenate(chunks)
    if vectors.ndim != 2:
        raise GanappsError(f"--text-encoder: expected vectors [N, D] for N strings, got shape {vectors.shape}")
    return vectors


def vectorizer(vocabulary: tuple[str, ...]) -> keras.layers.TextVectorization:
    """Captions -> `TEXT_LENGTH` token ids (0 pads, 1 is an unknown word)."""
    return keras.layers.TextVectorization(output_sequence_length=TEXT_LENGTH, vocabulary=list(vocabulary))


def tokens(config: Config, texts) -> np.ndarray:
    """What the networks read for `texts`: token ids `[N, TEXT_LENGTH]`, or a pretrained encoder's vectors."""
    if config.encoder_file:
        return _encode_texts(_load_text_encoder(config.encoder_file), texts)
    return np.asarray(vectorizer(config.vocabulary)(tf.constant(np.asarray(texts).astype(str))), np.int32)


def _fit(config: Config, examples: D.Examples) -> Config:
    """Read classes, attribute ranges and vocabulary from the training data; one-line errors for what it lacks."""
    where = f"--data {config.data}"
    if config.condition == LABEL:
        if examples.labels is None:
            raise GanappsError(f"{where}: has no labels to condition on (a folder needs labels.csv with a 'label' "
                               "column)")
        return replace(config, class_names=examples.class_names)
    if config.condition in (METADATA, IMAGE):
        if examples.metadata is None:
            raise GanappsError(f"{where}: has no metadata to condition on (a folder needs labels.csv with numeric "
                               "columns)")
        ranges = D.attribute_ranges(examples.attributes) if config.data == D.GLYPHS else \
            np.stack([examples.metadata.min(0), examples.metadata.max(0)], axis=1)
        return replace(config, attributes=examples.attributes, ranges=tuple(map(tuple, ranges.tolist())))
    if examples.captions is None:
        raise GanappsError(f"{where}: has no captions to condition on (a folder needs captions.jsonl)")
    if config.encoder_file:
        dim = _encode_texts(_load_text_encoder(config.encoder_file), examples.captions[:2]).shape[1]
        return replace(config, text_dim=int(dim))
    adapter = keras.layers.TextVectorization(max_tokens=TEXT_VOCABULARY, output_sequence_length=TEXT_LENGTH)
    adapter.adapt(tf.constant(examples.captions.astype(str)))
    return replace(config, vocabulary=tuple(str(word) for word in adapter.get_vocabulary()[2:]),
                   caption_dim=CAPTION_DIM if config.text_encoder == JOINT else 0)


def conditions(config: Config, examples: D.Examples):
    """The condition arrays of `examples` as the networks read them."""
    if config.condition == LABEL:
        return examples.labels.astype(np.int32)
    if config.condition == METADATA:
        return examples.metadata.astype(np.float32)
    if config.condition == TEXT:
        return tokens(config, examples.captions)
    return examples.originals, examples.metadata.astype(np.float32)


def load_examples(config: Config, download: bool = True, progress: bool = False) -> D.Examples:
    return D.load(config.data, config.image_size, config.channels, pairs=config.condition == IMAGE,
                  download=download, progress=progress)


# ------------------------------------------------------------------------------------------------------ training


@dataclass
class CganRun:
    result: TrainResult
    config: Config
    samples: Path  # the last epoch's sample grid
    towers: captions.Towers | None = None  # joint encoder: the caption embedding fitted before the GAN (not on resume)


def train(config: Config | None = None, options: TrainOptions | None = None, download: bool = True,
          progress: bool = True) -> CganRun:
    """Train on `config.data`'s training split; each epoch writes a grid that shows the conditioning at work."""
    config = config or Config()
    options = options or default_options()
    models.ConditionSpec(config.condition)  # a one-line error for an unknown condition, before loading data
    examples = load_examples(config, download, progress)
    models.check_shape(config.image_size, examples.channels)
    training, held_out = D.split(examples)
    source = config.data if config.data == D.GLYPHS or config.data.startswith("tfds:") \
        else str(Path(config.data).expanduser().resolve())
    config = _fit(replace(config, data=source, channels=examples.channels), training)
    options = replace(options, extra={**options.extra, APP: asdict(config)})
    arrays = (training.images, *tf.nest.flatten(conditions(config, training)))

    def prepare(images, *condition):
        scale = core_data.to_float
        if config.condition == IMAGE:
            original, metadata = condition
            return scale(images), (scale(original), metadata)
        return scale(images), condition[0]

    def dataset(start_step: int) -> tf.data.Dataset:
        return array_dataset(arrays, options.batch_size, options.seed, start_step).map(prepare)

    grid_inputs, columns = sample_grid_inputs(config, held_out, options.seed + 1)
    towers = None
    if config.caption_dim and not RunCheckpoint(options.out / "checkpoints").exists():  # a resume restores them
        towers = fit_caption_embedding(config, training, options.seed, progress)

    def write_samples(gan: models.ConditionalGAN, path: Path) -> None:
        images = np.asarray(gan.sampling_generator.predict(grid_inputs, batch_size=250, verbose=0))
        if config.condition == IMAGE:  # each row: the original, then its redrawings
            originals = grid_inputs[0].reshape(-1, columns, *images.shape[1:])[:, :1]
            images = np.concatenate([originals, images.reshape(-1, columns, *images.shape[1:])], axis=1)
            images = images.reshape(-1, *images.shape[2:])
        save_image_grid(images, path, columns + (config.condition == IMAGE))

    result = train_gan(APP, options, functools.partial(build_gan, towers=towers), dataset, write_samples,
                       lambda gan, folder: export_model(gan, config, folder / APP))
    return CganRun(result, config, result.run_dir / "samples" / f"epoch_{options.epochs:04d}.png", towers)


def fit_caption_embedding(config: Config, training: D.Examples, seed: int = 0, progress: bool = False
                          ) -> captions.Towers:
    """The joint caption and image towers for `config`, fitted on the training pairs (`captions.fit`)."""
    if config.caption_steps < 1:
        raise GanappsError(f"--caption-steps must be at least 1, got {config.caption_steps}")
    status = console().status(f"fitting the caption embedding ({config.caption_steps} steps)")
    with status if progress else contextlib.nullcontext():
        return captions.fit(training.images, tokens(config, training.captions), len(config.vocabulary) + 2,
                            config.caption_steps, seed=seed, dim=config.caption_dim)


def sample_grid_inputs(config: Config, held_out: D.Examples, seed: int, rows: int = 10) -> tuple[list, int]:
    """Generator inputs for a picture of the conditioning: one row per class (label), per caption (text), or per
    latent with the first attribute (angle) swept left to right (metadata, image+metadata: one original per row)."""
    rng = np.random.default_rng(seed)
    columns = GRID_SAMPLES // rows
    z = rng.standard_normal((rows * columns, config.latent_dim)).astype(np.float32)
    if config.condition == LABEL:
        labels = np.repeat(np.arange(rows) % max(len(config.class_names), 1), columns).astype(np.int32)
        return [z, labels], columns
    if config.condition == TEXT:
        picked = held_out.captions[rng.choice(len(held_out), rows, replace=len(held_out) < rows)]
        return [z, tokens(config, np.repeat(picked, columns))], columns
    ranges = np.array(config.ranges, np.float32)
    picked = rng.choice(len(held_out), rows, replace=len(held_out) < rows)
    metadata = np.repeat(held_out.metadata[picked], columns, axis=0).astype(np.float32)
    metadata = metadata.reshape(rows, columns, -1)
    metadata[:, :, 0] = np.linspace(ranges[0, 0], ranges[0, 1], columns)
    metadata = metadata.reshape(rows * columns, -1)
    if config.condition == METADATA:
        return [z, metadata], columns
    originals = np.repeat(to_float(held_out.originals[picked]), columns, axis=0)
    return [originals, metadata], columns


# ------------------------------------------------------------------------------------------------------ serving


def serving_model(generator: keras.Model, config: Config) -> keras.Model:
    """The generator with the condition as the user gives it: a text model takes strings (vectorised, or encoded
    by the pretrained encoder, inside); the other conditions are already what the generator reads."""
    if config.condition != TEXT:
        return generator
    latent = keras.Input((config.latent_dim,), name="latent")
    text = keras.Input((), dtype="string", name="text")
    if config.encoder_file:
        encoded = _load_text_encoder(config.encoder_file)(text)
    else:
        encoded = vectorizer(config.vocabulary)(text)
    return keras.Model([latent, text], generator([latent, encoded]), name="cgan_text_generator")


def export_model(gan: models.ConditionalGAN, config: Config, directory: str | os.PathLike, version: int = 1) -> Path:
    """The sampling generator as a SavedModel taking the condition: inputs `latent` + `label` / `metadata` /
    `text`, or `image` + `metadata`; output `samples`. `assets.extra/cgan.json` holds the `Config`."""
    target = export_generator(serving_model(gan.sampling_generator, config), directory, version)
    atomic_write_bytes(target / INFO_FILE, (json.dumps(asdict(config), indent=2) + "\n").encode())
    return target


class Sampler:
    """A trained conditional generator: named inputs (as the export's signature) -> images in [-1, 1]."""

    def __init__(self, function, config: Config, source: str):
        self.function = function
        self.config = config
        self.source = source

    @classmethod
    def from_keras(cls, generator: keras.Model, config: Config, source: str) -> Sampler:
        model = serving_model(generator, config)
        names = [tensor.name.split(":")[0] for tensor in model.inputs]
        return cls(lambda inputs: model([inputs[n] for n in names], training=False), config, source)

    @classmethod
    def from_saved_model(cls, path: Path) -> Sampler:
        signature = load_saved_model(path)
        info = _info_file(Path(path))
        output = next(iter(signature.structured_outputs))
        return cls(lambda inputs: signature(**inputs)[output], Config.from_dict(json.loads(info.read_text())),
                   str(path))

    def __call__(self, batch_size: int = 250, **inputs) -> np.ndarray:
        """Images for equal-length condition arrays, in batches."""
        count = len(next(iter(inputs.values())))
        chunks = []
        for start in range(0, count, batch_size):
            part = {name: tf.constant(value[start : start + batch_size]) for name, value in inputs.items()}
            chunks.append(np.asarray(self.function(part), np.float32))
        return np.concatenate(chunks)

    def latents(self, num: int, seed: int = 0) -> np.ndarray:
        return np.random.default_rng(seed).standard_normal((num, self.config.latent_dim)).astype(np.float32)


def _info_file(path: Path) -> Path:
    """`cgan.json` of the SavedModel that `load_saved_model(path)` loads (the highest version, as TF Serving)."""
    if not (path / "saved_model.pb").exists():
        versions = [p for p in path.glob("*") if (p / "saved_model.pb").exists()]
        path = max(versions, key=lambda p: (p.name.isdigit(), int(p.name) if p.name.isdigit() else 0, p.name))
    if not (path / INFO_FILE).is_file():
        raise GanappsError(f"{path}: a SavedModel without {INFO_FILE} (not exported by `cgan export`)")
    return path / INFO_FILE


class _Kind:
    """`open_model`'s adapter: a run's export or checkpoint, or an export folder, as a `Sampler`."""

    @staticmethod
    def from_saved_model(path: Path) -> Sampler:
        return Sampler.from_saved_model(path)

    @staticmethod
    def from_keras(generator: keras.Model, source: str) -> Sampler:
        return Sampler.from_keras(generator, Config.from_dict(_run_config(Path(source))), source)


def _run_config(run_dir: Path) -> dict:
    return json.loads((run_dir / "config.json").read_text())["options"]["extra"][APP]


def load_gan(run_dir: str | os.PathLike) -> models.ConditionalGAN:
    """Both networks of a run, rebuilt from its config.json and restored from its last checkpoint."""
    return load_run(run_dir, APP, build_gan)


def load_sampler(path: str | os.PathLike) -> Sampler:
    """The generator of a run directory (its export, else its checkpoint) or of an exported SavedModel folder."""
    return open_model(path, APP, build_gan, _Kind, "conditional generator")


def _sampler(model: Sampler | str | os.PathLike) -> Sampler:
    return model if isinstance(model, Sampler) else load_sampler(model)


# ------------------------------------------------------------------------------------------------------ generating


def _wrong_flags(config: Config, given: dict[str, object]) -> None:
    """One-line errors for a condition flag this model does not take, or a missing one it needs."""
    takes = {LABEL: {"label"}, METADATA: {"metadata"}, TEXT: {"text"}, IMAGE: {"image", "metadata"}}[config.condition]
    extra = [name for name, value in given.items() if value is not None and name not in takes]
    if extra:
        wanted = " and ".join(f"--{name}" for name in sorted(takes))
        raise GanappsError(f"--{extra[0]}: this is a {config.condition} model; pass {wanted}")
    if config.condition == TEXT and given.get("text") is None:
        raise GanappsError("--text: this is a text model; pass a caption, e.g. --text \"a small red 7 rotated 30 "
                           "degrees left\"")
    if config.condition == IMAGE and given.get("image") is None:
        raise GanappsError("--image: this is an image+metadata model; pass the image to redraw")


def load_original(path: str | os.PathLike, config: Config) -> np.ndarray:
    """An image file as the generator's input: centre-cropped, resized, in [-1, 1]."""
    image = image_data.fit_image(to_uint8(load_image(path, channels=3), (0.0, 1.0)), config.image_size)
    return to_float(image_data.convert_channels(image[None], config.channels or 1))


@dataclass
class Generated:
    images: np.ndarray  # [N, S, S, C] in [-1, 1]
    columns: int  # for the grid
    conditions: list[str]  # what each image was asked for, in words


def generate(model: Sampler | str | os.PathLike, label: int | str | None = None, metadata: str | None = None,
             text: str | None = None, image: str | os.PathLike | np.ndarray | None = None, num: int = 16,
             seed: int = 0) -> Generated:
    """`num` images for one condition (label: index or class name; metadata: "angle=30,scale=0.8", attributes
    left out are drawn uniformly in their ranges; text: a caption; image: the original to redraw at metadata).

    A label model given no label draws `num` images of every class, one row per class.
    """
    if num < 1:
        raise GanappsError(f"--num must be at least 1, got {num}")
    sampler = _sampler(model)
    config = sampler.config
    _wrong_flags(config, {"label": label, "metadata": metadata, "text": text, "image": image})
    z = sampler.latents(num, seed)
    if config.condition == LABEL:
        if label is None:
            classes = len(config.class_names)
            z = sampler.latents(num * classes, seed)
            labels = np.repeat(np.arange(classes, dtype=np.int32), num)
            return Generated(sampler(latent=z, label=labels), num, [config.class_names[k] for k in labels])
        index = D.check_label(label, config.class_names)
        return Generated(sampler(latent=z, label=np.full(num, index, np.int32)), 0, [config.class_names[index]] * num)
    if config.condition == TEXT:
        caption = D.check_text(text)
        if config.vocabulary:
            ids = np.asarray(vectorizer(config.vocabulary)(tf.constant([caption])))
            if not np.any(ids > 1):
                raise GanappsError(f"--text {caption!r}: none of its words are in the model's vocabulary "
                                   f"(e.g. {', '.join(config.vocabulary[:8])})")
        return Generated(sampler(latent=z, text=np.array([caption] * num)), 0, [caption] * num)
    attributes = config.attribute_set()
    values = attributes.parse(metadata) if metadata is not None else {}
    vectors = attributes.vectors(values, num, seed)
    words = [", ".join(f"{n}={v:g}" for n, v in zip(attributes.names, row)) for row in vectors]
    if config.condition == METADATA:
        return Generated(sampler(latent=z, metadata=vectors), 0, words)
    original = image if isinstance(image, np.ndarray) else load_original(image, config)
    redrawn = sampler(image=np.repeat(original.reshape(1, *original.shape[-3:]), num, axis=0), metadata=vectors)
    return Generated(np.concatenate([original.reshape(1, *redrawn.shape[1:]), redrawn]), 0, ["original", *words])


def save_grid(generated: Generated, path: str | os.PathLike) -> Path:
    """The images as one PNG grid (square unless the generation asked for rows)."""
    save_image_grid(generated.images, path, generated.columns or None)
    return Path(path)


# ------------------------------------------------------------------------------------------------------ evaluation


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

    def value(self, what: str, scope: str = "all") -> float:
        return next(row["generated"] for row in self.rows if row["what"] == what and row["scope"] == scope)

    def as_dicts(self) -> list[dict]:
        head = {"condition": self.condition, "data": self.data, "samples": self.samples}
        return [{**head, **row} for row in self.rows]


def _judge_for(config: Config, download: bool, progress: bool) -> E.Judge:
    return E.judge(config.data, config.image_size, config.channels or 1, download, progress)


def evaluate(model: Sampler | str | os.PathLike, num: int = 1000, seed: int = 0, download: bool = True,
             progress: bool = False) -> Evaluation:
    """Generate `num` images from held-out conditions and let an independent judge read them.

    label: per-class accuracy (num spread evenly over the classes); metadata: mean absolute error per attribute,
    in its units and as a share of its range, beside the error of guessing (the judge read against shuffled
    targets); text: digit, colour and size accuracy against what held-out captions name; image+metadata: the
    redrawing's metadata error, whether it keeps the digit and colour, and its L1 distance to the true redrawing.
    """
    sampler = _sampler(model)
    config = sampler.config
    if config.data != D.GLYPHS and config.condition in (TEXT, IMAGE):
        raise GanappsError(f"{config.data}: {config.condition} evaluation needs the embedded set (--data glyphs), "
                           "whose captions and poses are known")
    _, held_out = D.split(load_examples(config, download, progress))
    judge = _judge_for(config, download, progress)
    rng = np.random.default_rng(seed)
    result = Evaluation(config.condition, config.data, num)
    z = sampler.latents(num, seed)
    if config.condition == LABEL:
        classes = len(config.class_names)
        wanted = (np.arange(num) % classes).astype(np.int32)
        images = sampler(latent=z, label=wanted)
        read = judge.read(images).labels
        real = judge.read(to_float(held_out.images)).labels
        overall, per_class = E.label_accuracy(read, wanted, classes)
        real_overall, real_per_class = E.label_accuracy(real, held_out.labels, classes)
        result.add("label accuracy", "all", overall, real_overall)
        for name, value, reference in zip(config.class_names, per_class, real_per_class):
            result.add("label accuracy", name, value, reference)
        result.add("within-label spread", "all", E.spread(images, wanted), E.spread(to_float(held_out.images),
                                                                                      held_out.labels))
        return result
    pick = rng.choice(len(held_out), num, replace=len(held_out) < num)
    chosen = held_out.subset(pick)
    if config.condition == TEXT:
        images = sampler(latent=z, text=chosen.captions.astype(str))
        reading, real = judge.read(images), judge.read(to_float(chosen.images))
        result.add("digit accuracy", "all", float(np.mean(reading.labels == chosen.labels)),
                   float(np.mean(real.labels == chosen.labels)))
        result.add("colour accuracy", "all", float(np.mean(reading.colours == chosen.colours)),
                   float(np.mean(real.colours == chosen.colours)))
        both = lambda r: float(np.mean((r.labels == chosen.labels) & (r.colours == chosen.colours)))
        result.add("digit and colour accuracy", "all", both(reading), both(real))
        named = np.array([any(word in str(c).split() for word in D.SIZE_WORDS) for c in chosen.captions])
        size = judge.columns(("scale",))[0]
        wanted = np.array([D.size_word(s) for s in chosen.metadata[:, size]])
        result.add("size accuracy", "captions naming a size",
                   float(np.mean(np.array([D.size_word(s) for s in reading.metadata[:, size]])[named] == wanted[named])),
                   float(np.mean(np.array([D.size_word(s) for s in real.metadata[:, size]])[named] == wanted[named])),
                   count=int(named.sum()))
        # Ten samples of each of up to num / 10 captions that several held-out images share, beside the spread of
        # those real images: near 0 when the generator draws one image per caption. (None shared: no row.)
        shared, real_groups = np.unique(held_out.captions, return_inverse=True)
        repeated = np.flatnonzero(np.bincount(real_groups) > 1)
        if repeated.size:
            asked = rng.choice(repeated, min(max(num // 10, 1), len(repeated)), replace=False)
            groups = np.repeat(np.arange(len(asked)), 10)
            again = sampler(latent=sampler.latents(len(groups), seed + 1), text=shared[asked][groups].astype(str))
            real = np.isin(real_groups, repeated)
            result.add("within-caption spread", "all", E.spread(again, groups),
                       E.spread(to_float(held_out.images[real]), real_groups[real]), captions=int(len(asked)))
        return result
    ranges = np.array(config.ranges, np.float32)
    columns = judge.columns(config.attributes) if set(config.attributes) <= set(judge.attributes) else None
    if columns is None:
        raise GanappsError(f"{config.data}: the judge does not read the attributes {', '.join(config.attributes)}")
    if config.condition == METADATA:
        images = sampler(latent=z, metadata=chosen.metadata)
    else:
        images = sampler(image=to_float(chosen.originals), metadata=chosen.metadata)
    reading = judge.read(images)
    real = judge.read(to_float(chosen.images))
    errors, shares = E.metadata_errors(reading.metadata[:, columns], chosen.metadata, ranges)
    real_errors, real_shares = E.metadata_errors(real.metadata[:, columns], chosen.metadata, ranges)
    guess_errors, guess_shares = E.metadata_errors(reading.metadata[:, columns], chosen.metadata[rng.permutation(num)],
                                                   ranges)
    for k, name in enumerate(config.attributes):
        result.add("metadata error", name, float(errors[k]), float(real_errors[k]), share_of_range=float(shares[k]),
                   real_share_of_range=float(real_shares[k]), range=[float(r) for r in ranges[k]],
                   shuffled_targets=float(guess_errors[k]), shuffled_share_of_range=float(guess_shares[k]))
    if config.condition == IMAGE:
        result.add("keeps digit", "all", float(np.mean(reading.labels == chosen.labels)),
                   float(np.mean(real.labels == chosen.labels)))
        result.add("keeps colour", "all", float(np.mean(reading.colours == chosen.colours)),
                   float(np.mean(real.colours == chosen.colours)))
        result.add("L1 to the true redrawing", "all", float(np.mean(np.abs(images - to_float(chosen.images)))),
                   None, original=float(np.mean(np.abs(to_float(chosen.originals) - to_float(chosen.images)))))
    else:
        result.add("digit variety", "all", float(len(np.unique(reading.labels)) / 10.0), None)
        result.add("colour variety", "all", float(len(np.unique(reading.colours)) / len(COLOURS)), None)
    return result


# ------------------------------------------------------------------------------------------------------ export


def export(run_dir: str | os.PathLike, out: str | os.PathLike | None = None, version: int = 1) -> Path:
    """Export a run's sampling generator from its checkpoint as a SavedModel at `out/version` (TF Serving layout).

    `out` defaults to the run's `export/cgan`, the folder training writes at its end.
    """
    gan = load_gan(run_dir)
    config = Config.from_dict(_run_config(Path(run_dir)))
    return export_model(gan, config, Path(out) if out else Path(run_dir) / "export" / APP, version)
