"""The super-resolution lab, usable from a notebook: train, upscale, evaluate and export.

    from ganapps.apps.superres import lab
    run = lab.train(lab.Config(), lab.APP.options(out="runs/superres"))        # pixel (PSNR) stage
    for source, target in lab.upscale("photos/"):                               # the shipped real model, tiled
        print(source, "->", target)                                             # photos/a.jpg -> photos/a_x4.jpg
    print(lab.evaluate(data="../shared/data/sr/eval/set5").summary["psnr"])     # the psnr model: 31.43 dB
    big = lab.runs.open_model(lab.APP, "runs/superres").upscale(image)          # an HWC array in [0, 1], x4

A model is a handle, a run directory (its export, else its checkpoint), an exported SavedModel folder, the name
of a shipped model (`psnr`: superres_x4, `real`: superres_x4_real), or None: the real model for `upscale`, the
psnr model for `evaluate`.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import tensorflow as tf
from ganapps.apps.superres import data as D
from ganapps.apps.superres import degradations
from ganapps.apps.superres.app import APP, Upscaler, build
from ganapps.apps.superres.recipe import (DEGRADATIONS, MODEL_NAMES, TILE, TILE_OVERLAP, UPSCALE_MODEL, Config,
                                          stage_options)
from PIL import Image

from ganapps.core import metrics, runs
from ganapps.core.config import TrainOptions, shipped_name
from ganapps.core.errors import GanappsError, ParameterError, check_at_least, check_choice
from ganapps.core.images import (atomic_write_bytes, list_images, load_image, output_path, png_bit_depth, png_bytes,
                                 save_image_grid)


@dataclass
class SuperresRun:
    result: runs.TrainResult
    samples: Path  # the last epoch's sample strip: bicubic, model, original


def train(config: Config | None = None, options: TrainOptions | None = None,
          given: Collection[str] | None = None) -> SuperresRun:
    """Train one stage on `config.data`; each epoch writes bicubic | model | original for a held-out crop.

    `options` defaults to the stage's recipe; with `given`, the names of the options the caller set (the command
    line's flags), every other option takes the stage's recipe too. The gan stage starts from the generator of
    the run `config.init` when there is one.
    """
    config = config or Config()
    if options is None or given is not None:
        options = stage_options(config.stage, options or APP.options(), given or ())
    app = APP
    if config.init:
        weights = runs.load(APP, config.init).generator.get_weights()
        app = replace(APP, build=lambda c, o: _started_from(build(c, o), weights))
    result = runs.train(app, config, options)
    return SuperresRun(result, result.run_dir / "samples" / f"epoch_{options.epochs:04d}.png")


def _started_from(gan, weights: list[np.ndarray]):
    for generator in filter(None, (gan.generator, gan.ema_generator)):
        generator.set_weights(weights)
    return gan


def _open(model, scale: int | None = None, default: str | None = None) -> Upscaler:
    """The model's handle (`psnr` and `real` name the shipped ones; None: `default`, else `APP.shipped`), its
    factor checked against `scale`."""
    upscaler = runs.open_model(APP, shipped_name(default if model is None else model, MODEL_NAMES))
    if scale is not None and scale != upscaler.scale:
        raise ParameterError("scale", f"{scale}: the model upscales x{upscaler.scale} ({upscaler.source})")
    return upscaler


_GREY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")
_SIXTEEN_BIT_MODES = ("I", "I;16", "I;16B", "I;16L")


def upscale_file(source, model=None, target=None, tile: int = TILE, overlap: int = TILE_OVERLAP,
                 progress: Callable[[int, int], None] | None = None, self_ensemble: bool = False) -> Path:
    """Upscale one image file of any kind to `target` (default: `output_path`): RGB, greyscale (kept grey), RGBA
    and palettes with transparency (alpha resized separately with bicubic), 16-bit (kept 16-bit, grey or colour),
    JPEG. Written atomically; `progress(done, total)` after each tile; `self_ensemble`: `Upscaler.self_ensemble`."""
    upscaler = _open(model, default=UPSCALE_MODEL)
    source = Path(source)
    target = Path(target) if target else output_path(source, f"x{upscaler.scale}")
    jpeg = target.suffix.lower() in (".jpg", ".jpeg")
    rgb = load_image(source, channels=3)
    with Image.open(source) as image:
        mode, info = image.mode, image.info
    sixteen_bit = mode in _SIXTEEN_BIT_MODES or png_bit_depth(source) == 16
    dtype = np.uint16 if sixteen_bit else np.uint8
    if jpeg and sixteen_bit:
        raise GanappsError(f"{target}: JPEG cannot hold 16-bit {source.name}; write a .png")
    out = upscaler.upscale(rgb, tile, overlap, dtype=dtype, progress=progress, self_ensemble=self_ensemble)
    grey = mode in _GREY_MODES
    if grey:  # BT.601 luma of the (nearly grey) output
        out = np.round(out[..., 0] * 0.299 + out[..., 1] * 0.587 + out[..., 2] * 0.114).astype(dtype)
    if not jpeg and (mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in info)):
        alpha = Image.fromarray(load_image(source, channels=4)[..., 3], mode="F")
        alpha = np.clip(np.asarray(alpha.resize(out.shape[1::-1], Image.BICUBIC)), 0.0, 1.0)
        alpha = np.round(alpha * np.iinfo(dtype).max).astype(dtype)
        out = np.dstack([out] * 3 + [alpha] if grey else [out, alpha])  # Pillow has no array form of LA
    if jpeg:
        buffer = io.BytesIO()
        Image.fromarray(out).save(buffer, format="JPEG", quality=95)
        atomic_write_bytes(target, buffer.getvalue())
    else:
        atomic_write_bytes(target, png_bytes(out))
    return target


def upscale(source, model=None, out=None, tile: int = TILE, overlap: int = TILE_OVERLAP,
            progress: Callable[[Path, int, int], None] | None = None,
            scale: int | None = None, self_ensemble: bool = False) -> Iterator[tuple[Path, Path]]:
    """Upscale an image file, or every image below a folder, in overlapping tiles; yields `(source, target)` as
    each file is written (targets: `output_path`, in `out` when given). `progress(source, done, total)` after
    each tile; `scale`, when given, is checked against the model's factor. The checks run at the call, the work
    as the result is iterated."""
    check_at_least("tile", tile, 0)
    check_at_least("overlap", overlap, 0)
    source, out = Path(source), (None if out is None else Path(out))
    if not source.exists():
        raise GanappsError(f"{source}: no such file or folder")
    upscaler = _open(model, scale, UPSCALE_MODEL)
    root = source if source.is_dir() else None
    files = list_images(source) if root else [source]
    return ((path, upscale_file(path, upscaler, output_path(path, f"x{upscaler.scale}", out, root), tile, overlap,
                                progress and functools.partial(progress, path), self_ensemble)) for path in files)


_SCORES = {"psnr": metrics.psnr_y, "ssim": metrics.ssim_y, "sharpness": metrics.sharpness_y}


@dataclass
class Evaluation:
    scale: int
    images: list[dict]  # per image: name, psnr, ssim, sharpness, each also as bicubic_* (and beside_* with `beside`)
    summary: dict  # means over images and the gains over bicubic


def _centre(image: np.ndarray, side: int) -> np.ndarray:
    """The central `side`-pixel square (padded with white where the image is smaller)."""
    height, width = image.shape[:2]
    top, left = max((height - side) // 2, 0), max((width - side) // 2, 0)
    out = np.ones((side, side, 3), np.float32)
    window = image[top : top + side, left : left + side]
    out[: window.shape[0], : window.shape[1]] = window
    return out


def evaluate(model=None, data=None, scale: int | None = None, degradation: str = "bicubic", seed: int = 0,
             beside=None, picture=None, crop: int = 160, self_ensemble: bool = False) -> Evaluation:
    """PSNR and SSIM on the Y channel after shaving `scale` pixels per border, beside bicubic on the same inputs
    (the convention of published super-resolution tables), and the sharpness against the original
    (`metrics.sharpness_y`: 1 is as sharp, below is blurred, above is noisy). `data` defaults to Set5, `scale` to
    the model's. `degradation` realistic makes each input by `degradations.degraded_image` with `seed` instead of bicubic
    downscaling; `beside` scores a second model on the same inputs (`beside_*`). `picture`: a PNG with one row per
    image of its central `crop`-pixel square as bicubic | beside | model | original. `self_ensemble` scores both
    models by `Upscaler.self_ensemble`."""
    check_choice("degradation", degradation, DEGRADATIONS)
    check_at_least("crop", crop, 1)
    upscaler = _open(model, scale)
    other = None if beside is None else _open(beside, upscaler.scale)
    scale, data = upscaler.scale, data or D.default_eval_folder("set5")
    rows, crops = [], []
    for index, pair in enumerate(D.load_pairs(data, scale)):
        low = pair.low if degradation == "bicubic" else degradations.degraded_image(pair.high, scale, seed, index)
        outputs = {"bicubic_": D.upscale_bicubic(low, scale)}
        if other is not None:
            outputs["beside_"] = other.upscale(low, tile=0, self_ensemble=self_ensemble)
        outputs[""] = upscaler.upscale(low, tile=0, self_ensemble=self_ensemble)
        rows.append({"name": pair.name, **{f"{kind}{name}": score(image, pair.high, scale) for kind, image in
                                           outputs.items() for name, score in _SCORES.items()}})
        crops += [_centre(image, crop) for image in [*outputs.values(), pair.high]]
    if picture is not None:
        save_image_grid(np.stack(crops), picture, columns=len(outputs) + 1, value_range=(0.0, 1.0))
    mean = {key: float(np.mean([row[key] for row in rows])) for key in rows[0] if key != "name"}
    summary = {"data": str(data), "scale": scale, "images": len(rows), "model": upscaler.source,
               "degradation": degradation, **({"seed": seed} if degradation != "bicubic" else {}),
               "self_ensemble": self_ensemble,
               **({"beside": other.source} if other is not None else {}),
               **({"picture": str(picture)} if picture is not None else {}), **mean,
               "psnr_gain": mean["psnr"] - mean["bicubic_psnr"], "ssim_gain": mean["ssim"] - mean["bicubic_ssim"]}
    return Evaluation(scale, rows, summary)


def export(run, out=None, version: int = 1,
           format: str = "saved_model") -> Path:
    """A run's generator (EMA copy when there is one) as a TF Serving SavedModel `out/version`; `out` defaults to
    the run's `export/superres`, the folder training writes at its end."""
    return runs.export(APP, run, out, version, format)
