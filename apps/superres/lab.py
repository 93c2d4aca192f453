"""The super-resolution lab, usable from a notebook: train, upscale, evaluate and export.

    from ganapps.apps.superres import lab
    run = lab.train(lab.Config(), lab.default_options(out="runs/superres"))       # pixel (PSNR) stage
    model = lab.open_upscaler()                                                  # the shipped x4 model
    lab.upscale_file(model, "photo.jpg", "photo_x4.png")                         # tiled, any size
    print(lab.evaluate(model, "../shared/data/sr/eval/set5").summary)             # Y-PSNR/SSIM beside bicubic

A model is named by a run directory (its export, else its checkpoint), an exported SavedModel folder, or nothing
(the shipped `saved_models/superres_x4`).
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import ganapps.saved_models
import keras
import numpy as np
import tensorflow as tf
from ganapps.apps.superres import data as D
from ganapps.apps.superres import models
from ganapps.apps.superres.recipe import (
    ADVERSARIAL_WEIGHT,
    BLOCKS,
    DEFAULT_MODEL,
    DEFAULT_SCALE,
    DEFAULTS,
    FILTERS,
    LR_PATCH,
    STAGES,
    TILE,
    TILE_OVERLAP,
    VGG_LAYER,
    VGG_RESCALE,
)
from PIL import Image

from ganapps.core import metrics
from ganapps.core.errors import GanappsError
from ganapps.core.export import export_generator
from ganapps.core.export import load_generator as load_saved_model
from ganapps.core.images import atomic_write_bytes, image_grid, load_image, save_image
from ganapps.core.runs import (
    TrainOptions,
    TrainResult,
    compile_gan,
    load_run,
    open_model,
    train_gan,
)

APP = "superres"
CONTENT_LOSSES = ("vgg", "pixel")


def default_options(stage: str = "psnr", **overrides) -> TrainOptions:
    """The lab's default training options for a stage, with any field overridden."""
    return TrainOptions(**{**DEFAULTS[stage], "out": Path("runs") / f"{APP}-{stage}", **overrides})


def shipped_model_path(name: str = DEFAULT_MODEL) -> Path:
    """Where a model shipped with the package lives (inside the installed `ganapps.saved_models`)."""
    return Path(ganapps.saved_models.__file__).parent / name


# ------------------------------------------------------------------------------------------------------ training


@dataclass(frozen=True)
class Config:
    """What finds a run's data and rebuilds its networks and losses; saved in its config.json (options.extra)."""

    data: str | None = None  # a folder of HR images, tfds:NAME, or None for the offline T91 + BSD200
    scale: int = DEFAULT_SCALE
    blocks: int = BLOCKS
    filters: int = FILTERS
    patch: int = LR_PATCH
    stage: str = "psnr"  # psnr: L1 pixel loss alone; gan: content + adversarial
    init: str | None = None  # a run whose generator starts the gan stage (the SRGAN recipe: from SRResNet)
    content: str = "vgg"  # gan stage content loss: vgg (VGG19 block5_conv4 features) or pixel (MSE)
    vgg_weights: str | None = None  # a local VGG19 no-top weights file; None: keras.applications downloads them
    adversarial_weight: float = ADVERSARIAL_WEIGHT

    @classmethod
    def of(cls, options: TrainOptions) -> Config:
        return cls(**options.extra.get(APP, {}))


def vgg_features(weights: str | None = None) -> keras.Model:
    """VGG19 up to `block5_conv4` on images in [0, 1], rescaled as in SRGAN; one-line error offline."""
    source = weights or "imagenet"
    if weights and not Path(weights).is_file():
        raise GanappsError(f"--vgg-weights {weights}: no such file")
    try:
        vgg = keras.applications.VGG19(include_top=False, weights=source, input_shape=(None, None, 3))
    except Exception as error:  # a failed download surfaces as many exception types
        if weights:
            raise GanappsError(f"--vgg-weights {weights}: not VGG19 no-top weights ({type(error).__name__})") from None
        raise GanappsError(
            "VGG19 ImageNet weights could not be downloaded for the content loss; pass --vgg-weights FILE "
            "(vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5) or --content pixel"
        ) from None
    image = keras.Input((None, None, 3), name="image")
    x = keras.applications.vgg19.preprocess_input(image * 255.0)
    features = keras.Model(vgg.input, vgg.get_layer(VGG_LAYER).output)(x)
    return keras.Model(image, features * VGG_RESCALE, name="vgg19_features")


def build_gan(options: TrainOptions) -> models.SRGAN:
    """The compiled SRGAN for `options` (its `Config` in `options.extra`)."""
    config = Config.of(options)
    if config.stage not in STAGES:
        raise GanappsError(f"--stage {config.stage!r}: choose one of {', '.join(STAGES)}")
    if config.content not in CONTENT_LOSSES:
        raise GanappsError(f"--content {config.content!r}: choose one of {', '.join(CONTENT_LOSSES)}")
    generator = models.srresnet(config.scale, config.blocks, config.filters)
    adversarial = config.stage == "gan"
    extractor = vgg_features(config.vgg_weights) if adversarial and config.content == "vgg" else None
    gan = models.SRGAN(generator, models.discriminator(), feature_extractor=extractor,
                       ema_decay=options.ema or None, seed=options.seed)
    return compile_gan(gan, options, adversarial_weight=config.adversarial_weight if adversarial else 0.0)


def export_model(gan: models.SRGAN, directory: str | os.PathLike, version: int = 1) -> Path:
    """The sampling generator as a SavedModel: `image` [N, h, w, 3] in [0, 1] in, `upscaled` out."""
    return export_generator(gan.sampling_generator, directory, version, input_names=["image"],
                            output_name="upscaled")


@dataclass
class SuperresRun:
    result: TrainResult
    samples: Path  # the last epoch's sample strip: bicubic, model, original


def train(config: Config | None = None, options: TrainOptions | None = None) -> SuperresRun:
    """Train one stage on `config.data`; each epoch writes bicubic | model | original for a held-out crop."""
    config = config or Config()
    options = options or default_options(config.stage)
    models.check_scale(config.scale)
    if config.patch < 8:
        raise GanappsError(f"--patch {config.patch}: must be at least 8 low-resolution pixels")
    pairs = D.training_pairs(config.data, config.scale, config.patch)
    data = config.data
    if data is not None and not str(data).startswith(D.TFDS_PREFIX):
        data = str(Path(data).expanduser().resolve())
    config = replace(config, data=data)
    options = replace(options, extra={**options.extra, APP: asdict(config)})
    shown = _sample_pair(config.scale)
    initial = _generator_weights(config.init) if config.init else None

    def build(opts: TrainOptions) -> models.SRGAN:
        gan = build_gan(opts)
        for generator in filter(None, (gan.generator, gan.ema_generator) if initial else ()):
            generator.set_weights(initial)
        return gan

    def write_samples(gan: models.SRGAN, path: Path) -> None:
        upscaler = Upscaler.from_keras(gan.sampling_generator, "training")
        strip = [D.upscale_bicubic(shown.low, config.scale), upscaler.upscale(shown.low), shown.high]
        save_image(image_grid(np.stack(strip), columns=3), path, value_range=(0.0, 1.0))

    result = train_gan(
        APP, options, build,
        lambda start: D.patch_dataset(pairs, config.scale, config.patch, options.batch_size, options.seed, start),
        write_samples,
        lambda gan, folder: export_model(gan, folder / APP),
    )
    return SuperresRun(result, result.run_dir / "samples" / f"epoch_{options.epochs:04d}.png")


def _generator_weights(run: str) -> list[np.ndarray]:
    """The generator weights of a run, read from its checkpoint by a throwaway copy of its networks."""
    return load_run(run, APP, build_gan).generator.get_weights()


def _sample_pair(scale: int, size: int = 48) -> D.Pair:
    """A held-out crop for the sample strips: the centre of Set5's first image, else a synthetic pattern."""
    folder = D.default_eval_folder("set5")
    if folder.is_dir():
        high = D.load_pairs(folder, scale)[0].high
    else:
        y, x = np.mgrid[0:256, 0:256] / 256.0
        high = np.stack([0.5 + 0.5 * np.sin(40 * x * y), x, y], -1).astype(np.float32)
    top, left = [(s // 2 - size * scale // 2) // scale * scale for s in high.shape[:2]]
    high = high[top : top + size * scale, left : left + size * scale]
    return D.Pair("sample", D.downscale(high, scale), high)


# ------------------------------------------------------------------------------------------------------ loading


class Upscaler:
    """A trained generator: `[N, h, w, 3]` in [0, 1] -> `[N, h*scale, w*scale, 3]`."""

    def __init__(self, function: Callable[[tf.Tensor], tf.Tensor], source: str):
        self.function = function
        self.source = source
        probe = self(np.zeros((1, 8, 8, 3), np.float32))
        self.scale = int(probe.shape[1]) // 8

    @classmethod
    def from_keras(cls, generator: keras.Model, source: str) -> Upscaler:
        return cls(lambda x: generator(x, training=False), source)

    @classmethod
    def from_saved_model(cls, path: Path) -> Upscaler:
        signature = load_saved_model(path)
        (name, _), = signature.structured_input_signature[1].items()
        output_name = next(iter(signature.structured_outputs))
        return cls(lambda x: signature(**{name: x})[output_name], str(path))

    def __call__(self, images) -> np.ndarray:
        return np.clip(self.function(tf.convert_to_tensor(images, tf.float32)).numpy(), 0.0, 1.0)

    def upscale(self, image: np.ndarray, tile: int = TILE, overlap: int = TILE_OVERLAP,
                dtype: type = np.float32, progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """One HWC RGB image in [0, 1], upscaled in `tile`-pixel tiles with `overlap` pixels of context each side
        (0: whole). The output is preallocated in `dtype` (uint8/uint16 scale to their range), so memory stays at
        one output image plus one tile however big the input."""
        if image.ndim != 3 or image.shape[-1] != 3:
            raise GanappsError(f"expected an RGB image [h, w, 3], got shape {image.shape}")
        height, width = image.shape[:2]
        tile = tile or max(height, width)
        peak = np.iinfo(dtype).max if np.issubdtype(dtype, np.integer) else 1.0
        s = self.scale
        out = np.empty((height * s, width * s, 3), dtype)
        tops, lefts = range(0, height, tile), range(0, width, tile)
        total, done = len(tops) * len(lefts), 0
        for top in tops:
            for left in lefts:
                y0, x0 = max(top - overlap, 0), max(left - overlap, 0)
                y1, x1 = min(top + tile + overlap, height), min(left + tile + overlap, width)
                result = self(image[None, y0:y1, x0:x1])[0]
                bottom, right = min(top + tile, height), min(left + tile, width)
                core = result[(top - y0) * s : (bottom - y0) * s, (left - x0) * s : (right - x0) * s]
                out[top * s : bottom * s, left * s : right * s] = np.round(core * peak) if peak != 1.0 else core
                done += 1
                if progress:
                    progress(done, total)
        return out


def open_upscaler(path: str | os.PathLike | None = None) -> Upscaler:
    """A run directory, an exported SavedModel folder, or None for the shipped x4 model."""
    if path is None:
        shipped = shipped_model_path()
        if not shipped.is_dir():
            raise GanappsError(f"the shipped model is missing ({shipped}); pass --model RUN_OR_SAVEDMODEL")
        return Upscaler.from_saved_model(shipped)
    return open_model(path, APP, build_gan, Upscaler, "super-resolution model")


# ------------------------------------------------------------------------------------------------------ files

_GREY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")
_SIXTEEN_BIT_MODES = ("I", "I;16", "I;16B", "I;16L")


def output_path(source: Path, scale: int, out: Path | None = None, folder_input: bool = False) -> Path:
    """`photo.jpg` -> `photo_x4.jpg` beside it (or in `out`); other kinds become PNG (lossless, keeps alpha)."""
    suffix = source.suffix.lower() if source.suffix.lower() in (".jpg", ".jpeg") else ".png"
    name = f"{source.stem}_x{scale}{suffix}"
    if out is None:
        return source.with_name(name)
    return out / name if folder_input or out.is_dir() else out


def upscale_file(upscaler: Upscaler, source: str | os.PathLike, target: str | os.PathLike,
                 tile: int = TILE, overlap: int = TILE_OVERLAP,
                 progress: Callable[[int, int], None] | None = None) -> Path:
    """Upscale one image file of any kind: RGB, greyscale (kept grey), RGBA and palettes with transparency (alpha
    resized separately with bicubic), 16-bit (kept 16-bit when grey), JPEG. Written atomically."""
    source, target = Path(source), Path(target)
    rgb = load_image(source, channels=3)
    with Image.open(source) as image:
        mode, info = image.mode, image.info
    has_alpha = mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in info)
    grey = mode in _GREY_MODES
    dtype = np.uint16 if mode in _SIXTEEN_BIT_MODES else np.uint8
    if target.suffix.lower() in (".jpg", ".jpeg") and dtype == np.uint16:
        raise GanappsError(f"{target}: JPEG cannot hold 16-bit {source.name}; write a .png")
    out = upscaler.upscale(rgb, tile, overlap, dtype=dtype, progress=progress)
    if grey:
        # BT.601 luma of the (nearly grey) output, in place, one band at a time to bound memory
        luma = out[..., 0] * 0.299 + out[..., 1] * 0.587 + out[..., 2] * 0.114
        out = np.round(luma).astype(dtype)
        del luma
    if has_alpha and target.suffix.lower() not in (".jpg", ".jpeg"):
        alpha = load_image(source, channels=4)[..., 3]
        size = (out.shape[1], out.shape[0])
        resized = Image.fromarray(alpha.astype(np.float32), mode="F").resize(size, Image.BICUBIC)
        alpha = np.round(np.clip(np.asarray(resized), 0.0, 1.0) * np.iinfo(dtype).max).astype(dtype)
        out = np.dstack([out] * 3 + [alpha] if grey else [out, alpha])  # Pillow has no array form of LA
    picture = Image.fromarray(out)  # uint16 grey becomes Pillow's I;16
    buffer = io.BytesIO()
    fmt = "JPEG" if target.suffix.lower() in (".jpg", ".jpeg") else "PNG"
    picture.save(buffer, format=fmt, **({"quality": 95} if fmt == "JPEG" else {"compress_level": 1}))
    atomic_write_bytes(target, buffer.getvalue())
    return target


# ------------------------------------------------------------------------------------------------------ evaluation


@dataclass
class Evaluation:
    scale: int
    images: list[dict]  # per image: name, psnr, ssim, bicubic_psnr, bicubic_ssim
    summary: dict  # means over images and the gain over bicubic


def evaluate(upscaler: Upscaler, data: str | os.PathLike, scale: int | None = None) -> Evaluation:
    """PSNR and SSIM on the Y channel after shaving `scale` pixels per border, beside bicubic on the same images
    (the convention of published super-resolution tables)."""
    scale = scale or upscaler.scale
    if scale != upscaler.scale:
        raise GanappsError(f"--scale {scale}: the model upscales x{upscaler.scale} ({upscaler.source})")
    rows = []
    for pair in D.load_pairs(data, scale):
        predicted = upscaler.upscale(pair.low, tile=0)
        bicubic = D.upscale_bicubic(pair.low, scale)
        rows.append({
            "name": pair.name,
            "psnr": metrics.psnr_y(predicted, pair.high, scale), "ssim": metrics.ssim_y(predicted, pair.high, scale),
            "bicubic_psnr": metrics.psnr_y(bicubic, pair.high, scale),
            "bicubic_ssim": metrics.ssim_y(bicubic, pair.high, scale),
        })
    mean = {key: float(np.mean([r[key] for r in rows])) for key in ("psnr", "ssim", "bicubic_psnr", "bicubic_ssim")}
    summary = {"data": str(data), "scale": scale, "images": len(rows), "model": upscaler.source, **mean,
               "psnr_gain": mean["psnr"] - mean["bicubic_psnr"], "ssim_gain": mean["ssim"] - mean["bicubic_ssim"]}
    return Evaluation(scale, rows, summary)


def export(run: str | os.PathLike, out: str | os.PathLike | None = None, version: int = 1) -> Path:
    """A run's generator (EMA copy when there is one) as a TF Serving SavedModel `out/version`; `out` defaults to
    the run's `export/superres`, the folder training writes at its end."""
    return export_model(load_run(run, APP, build_gan), Path(out) if out else Path(run) / "export" / APP, version)
