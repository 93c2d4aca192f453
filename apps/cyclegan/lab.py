"""The CycleGAN lab, usable from a notebook: train, translate, evaluate and export.

    from ganapps.apps.cyclegan import lab
    run = lab.train(lab.Config(), lab.APP.options(out="runs/cyclegan"))      # the synthetic pair
    images = lab.translate_images("runs/cyclegan", images, "a2b")            # [N, S, S, 3] in [-1, 1]
    print([row for row in lab.evaluate("runs/cyclegan").as_dicts()])       # PSNR/SSIM against the true mapping

A trained model is a `Translator`, or named by its run directory or by an exported folder (holding `a2b/` and
`b2a/`, each a SavedModel in the TF Serving layout). Translating and evaluating use the run's export when there is
one, else its checkpoint; exporting rebuilds the networks from the checkpoint.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import tensorflow as tf
from ganapps.apps.cyclegan import data as D
from ganapps.apps.cyclegan.app import APP, Translator, dataset, load_domains, method, prepare, samples
from ganapps.apps.cyclegan.recipe import DEFAULT_DATA, DIRECTIONS, SHIPPED, TEST_SCENES, Config

from ganapps.core import metrics, runs
from ganapps.core.config import TrainOptions
from ganapps.core.errors import GanappsError, ParameterError, check_at_least, check_choice
from ganapps.core.images import IMAGE_SUFFIXES, list_images, load_image, output_path, save_image

Model = Translator | str | os.PathLike


@dataclass
class CycleGanRun:
    result: runs.TrainResult
    samples: Path  # the last epoch's sample grid
    names: tuple[str, str]  # what domains A and B are


def train(config: Config | None = None, options: TrainOptions | None = None, download: bool = True) -> CycleGanRun:
    """Train on `config`'s domains; each epoch writes `samples/epoch_NNNN.png` from the same held-out images (rows:
    a, G(a), F(G(a)), b, F(b), G(F(b))). The images are read (and a tfds set downloaded, if `download`) before the
    run starts; a resumed run continues with the config it was started with."""
    options = options or APP.options()
    record = runs.read_run(options.out, APP) if options.resume else None
    config = record.config if record else prepare(config or Config())
    training, shown = load_domains(config, download=download), load_domains(config, True, download)
    app = replace(APP, dataset=lambda c, o, start: dataset(c, o, start, training),
                  samples=lambda gan, c, o, path: samples(gan, c, o, path, shown))
    result = runs.train(app, config, options)
    return CycleGanRun(result, result.run_dir / "samples" / f"epoch_{options.epochs:04d}.png", training.names)


def export(run_dir: str | os.PathLike, out: str | os.PathLike | None = None, version: int = 1,
           format: str = "saved_model") -> Path:
    """A run's two generators from its checkpoint as `out/a2b/VERSION` and `out/b2a/VERSION` (default `out`: the
    run's `export/cyclegan`, which training writes at its end)."""
    return runs.export(APP, run_dir, out, version, format)


# ------------------------------------------------------------------------------------------------------ translating


def translate_images(model: Model, images: np.ndarray, direction: str = "a2b") -> np.ndarray:
    """`[N, S, S, 3]` images in [-1, 1] at the model's size, translated: the same shape, in [-1, 1]."""
    return runs.open_model(APP, model).translate(np.asarray(images, np.float32), direction)


@dataclass
class Translated:
    source: Path
    target: Path
    resized: bool  # not at the model's size: translated at that size and resized back
    model_size: int  # the side of the model's square images


def translate(model: Model, source: str | os.PathLike, direction: str = "a2b",
              out: str | os.PathLike | None = None) -> list[Translated]:
    """Translate an image file, or every image below a folder, and save each as `STEM_DIRECTION.png` beside it (or
    in the folder `out`, keeping paths below SOURCE; a file name `out` for a single image).

    The whole image is translated, never cropped: an image not at the model's square size is resized to it and its
    translation resized back to the image's own size (`Translated.resized`).
    """
    check_choice("direction", direction, DIRECTIONS)
    source = Path(source).expanduser()
    if not source.exists():
        raise GanappsError(f"{source}: no such image file or folder")
    out = None if out is None else Path(out).expanduser()
    if out is not None and not source.is_dir() and not out.is_dir() and out.suffix.lower() not in IMAGE_SUFFIXES:
        raise GanappsError(f"{out}: unknown image type; use one of {', '.join(IMAGE_SUFFIXES)}")
    translator = runs.open_model(APP, model)
    root = source if source.is_dir() else None
    files = list_images(source) if root else [source]
    size = translator.image_shape[0]
    images = [load_image(f, channels=3) for f in files]
    squares = np.stack([_resize(image, (size, size)) for image in images]) * 2.0 - 1.0
    translated = translator.translate(squares, direction) * 0.5 + 0.5
    written = []
    for path, image, result in zip(files, images, translated):
        target = output_path(path, direction, out, root)
        save_image(_resize(result, image.shape[:2]), target, value_range=(0.0, 1.0))
        written.append(Translated(path, target, image.shape[:2] != (size, size), size))
    return written


def _resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """An HWC float image in [0, 1] at `size` (height, width): bicubic, antialiased when shrinking."""
    if image.shape[:2] == tuple(size):
        return image
    return np.clip(tf.image.resize(image, size, method="bicubic", antialias=True).numpy(), 0.0, 1.0)


# ------------------------------------------------------------------------------------------------------ evaluation


@dataclass
class Score:
    """One direction's translations (`model`) or the untranslated inputs (`identity`) against the target domain."""

    direction: str
    model: str  # "cyclegan", "pix2pix" (or the model's folder name when two share one), "identity" (G(x) = x)
    psnr: float | None = None  # synthetic pair: against the true mapping, images in [0, 1]
    ssim: float | None = None
    fid: float | None = None  # real data: against the held-out target-domain images
    kid: float | None = None
    kid_std: float | None = None  # also None with too few images to draw distinct subsets from


@dataclass
class Evaluation:
    scores: list[Score]
    images: int  # held-out images per domain
    data: str
    names: tuple[str, str]
    extractor: str | None = None  # feature network of FID/KID (real data)

    def of(self, direction: str, model: str) -> Score:
        return next(s for s in self.scores if s.direction == direction and s.model == model)

    def as_dicts(self) -> list[dict]:
        """One dict per direction and model (fields that do not apply left out), then a summary."""
        rows = [{k: v for k, v in asdict(s).items() if v is not None} for s in self.scores]
        summary = {"summary": True, "images": self.images, "data": self.data, "domain_a": self.names[0],
                   "domain_b": self.names[1]}
        if self.extractor:
            summary["extractor"] = self.extractor
        for direction in DIRECTIONS:
            model, identity = self.of(direction, self.scores[0].model), self.of(direction, "identity")
            if model.psnr is not None:
                summary[f"psnr_gain_{direction}"] = model.psnr - identity.psnr
            else:
                summary[f"fid_drop_{direction}"] = identity.fid - model.fid
        return [*rows, summary]


def feature_extractor(name: str = "inception") -> metrics.FeatureExtractor:
    """`inception` (InceptionV3, ImageNet weights from the Keras cache) or a .keras model path."""
    return metrics.inception_v3_extractor() if name == "inception" else metrics.FeatureExtractor.load(name)


def _record(model: Model) -> runs.RunRecord | None:
    return None if isinstance(model, Translator) or model is None or not Path(model).is_dir() \
        else runs.read_run(model, APP)


def _labels(models: list[Model]) -> list[str]:
    """What each model is called in the table: its method (`cyclegan`, `pix2pix`) from its run, else `model`
    (an export folder); the folder name when two would share a label."""
    labels = []
    for model in models:
        record = _record(model)
        labels.append(method(record.config) if record else "model")
    return [str(Path(m).name) if labels.count(label) > 1 and not isinstance(m, Translator) else label
            for m, label in zip(models, labels)]


def evaluate(
    model: Model,
    data: str | None = None,
    domain_a: str | None = None,
    domain_b: str | None = None,
    num: int = TEST_SCENES,
    extractor: str = "inception",
    download: bool = True,
    versus: list[Model] = (),
) -> Evaluation:
    """Score both directions on held-out images beside the identity baseline G(x) = x (and `versus`, more models
    scored on the same images, e.g. a pix2pix run beside a CycleGAN one).

    Aligned held-out pairs (the synthetic pair, side-by-side images): PSNR and SSIM (images in [0, 1]) of G(a)
    against the true B of the same scene, and of F(b) against its A. Other real data: FID and KID between the
    translated held-out images of one domain and the held-out images of the other, on `extractor`'s features.
    The data is the first model's run's unless given.
    """
    check_at_least("num", num, 2)
    models = [model, *versus]
    translators = [runs.open_model(APP, m) for m in models]
    if data is None and domain_a is None and model in (None, SHIPPED):
        data = DEFAULT_DATA  # what the shipped model was trained on: its held-out scenes
    if data is None and domain_a is None:
        record = _record(model)
        if record is None:
            raise ParameterError("data", f"is needed: {model} is not a run directory, so say what to evaluate on "
                                 "(or give domain_a and domain_b)")
        data, domain_a, domain_b = record.config.data, record.config.domain_a, record.config.domain_b
    source = D.resolve(data, domain_a, domain_b)
    size = translators[0].image_shape[0]
    for other, translator in zip(models[1:], translators[1:]):
        if translator.image_shape[0] != size:
            raise ParameterError("versus", f"{other}: translates {translator.image_shape[0]}-pixel images, the "
                                 f"first model {size}-pixel ones; compare models of one size")
    held_out = D.load(source, size, held_out=True, test_scenes=num, download=download)
    count = min(num, len(held_out.a), len(held_out.b))
    if count < 2:
        raise GanappsError(f"{source.spec}: only {count} held-out image(s) in a domain; need at least 2")
    a, b = D.to_float(held_out.a[:count]).numpy(), D.to_float(held_out.b[:count]).numpy()
    inputs_of, truth_of = {"a2b": a, "b2a": b}, {"a2b": b, "b2a": a}
    candidates = {direction: [(label, t.translate(inputs_of[direction], direction))
                              for label, t in zip(_labels(models), translators)] + [("identity", inputs_of[direction])]
                  for direction in DIRECTIONS}
    scores, name = [], None
    if held_out.paired:
        unit = lambda x: (np.clip(x, -1.0, 1.0) + 1.0) / 2.0
        for direction, rows in candidates.items():
            truth = unit(truth_of[direction])
            for label, images in rows:
                scores.append(Score(direction, label, psnr=float(metrics.psnr(unit(images), truth)),
                                    ssim=float(metrics.ssim(unit(images), truth))))
    else:
        features = feature_extractor(extractor)
        name = features.name
        embed = lambda x: metrics.compute_features(features, x, batch_size=50, value_range=(-1.0, 1.0))[0]
        for direction, rows in candidates.items():
            target_features = embed(truth_of[direction])
            for label, images in rows:
                images_features = embed(images)
                kid, kid_std = metrics.kernel_inception_distance(images_features, target_features,
                                                                 subset_size=min(1000, count))
                scores.append(Score(direction, label, fid=metrics.frechet_distance(images_features, target_features),
                                    kid=kid, kid_std=kid_std))
    return Evaluation(scores, count, source.spec, source.names, name)
