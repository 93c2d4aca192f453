"""`ganapps superres`: a thin command line over `ganapps.apps.superres.lab`."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import typer
from ganapps.apps.superres.recipe import (
    ADVERSARIAL_WEIGHT,
    BLOCKS,
    DEFAULT_SCALE,
    DEFAULTS,
    FILTERS,
    LR_PATCH,
    STAGES,
    TILE,
    TILE_OVERLAP,
)
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from ganapps.core.errors import GanappsError
from ganapps.options import JsonOption, add_export_command, choices, lazy_import, plain, train_options

app = typer.Typer(
    help="SRGAN super-resolution (Ledig et al. 2017): train on HR images (offline: T91 + BSD200), upscale any "
         "image with the shipped x4 model, evaluate Y-PSNR/SSIM beside bicubic, export.",
    no_args_is_help=True,
)
console = Console(stderr=True)
Stage = choices("Stage", STAGES)
Content = choices("Content", ("vgg", "pixel"))

ModelOption = typer.Option(None, "--model", "-m", show_default="the shipped saved_models/superres_x4",
                           help="A run directory (written by `superres train`) or an exported SavedModel folder.")


_lab = lazy_import("ganapps.apps.superres.lab")


@app.command()
@train_options(out=Path("runs/superres"), **DEFAULTS["psnr"])
def train(
    ctx: typer.Context,
    data: str = typer.Option(None, "--data", "-d", show_default="../shared/data/sr/train (T91 + BSD200)",
                             help="A folder of high-resolution images, or tfds:div2k (online)."),
    stage: Stage = typer.Option("psnr", "--stage", help="psnr: the generator alone on an L1 pixel loss "
                                "(SRResNet); gan: content + 1e-3 x adversarial (SRGAN), best started with --init "
                                "from a psnr run. Training flags left unset take the stage's defaults."),
    init: Path = typer.Option(None, "--init", show_default=False,
                              help="A psnr run whose generator the gan stage starts from."),
    scale: int = typer.Option(DEFAULT_SCALE, "--scale", help="Upscaling factor: 2, 3 or 4."),
    blocks: int = typer.Option(BLOCKS, "--blocks", help="Residual blocks (SRResNet: 16)."),
    filters: int = typer.Option(FILTERS, "--filters", help="Filters per convolution (SRResNet: 64)."),
    patch: int = typer.Option(LR_PATCH, "--patch", help="Low-resolution training patch side."),
    content: Content = typer.Option("vgg", "--content", help="gan stage content loss: vgg (VGG19 block5_conv4 "
                                    "features, ImageNet weights downloaded by Keras) or pixel (MSE; offline)."),
    vgg_weights: Path = typer.Option(None, "--vgg-weights", show_default=False,
                                     help="A local vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5 (offline)."),
    adversarial_weight: float = typer.Option(ADVERSARIAL_WEIGHT, "--adversarial-weight",
                                             help="Weight of the adversarial term in the gan stage."),
    options=None,
) -> None:
    """Train one stage; writes a bicubic | model | original strip per epoch, checkpoints and a SavedModel."""
    lab = _lab()
    stage = plain(stage)
    if stage != "psnr":  # flags the user did not pass take this stage's defaults
        unset = {name: value for name, value in DEFAULTS[stage].items()
                 if ctx.get_parameter_source(name).name == "DEFAULT"}
        options = dataclasses.replace(options, **unset)
        if ctx.get_parameter_source("out").name == "DEFAULT":
            options = dataclasses.replace(options, out=Path(f"runs/superres-{stage}"))
    config = lab.Config(data, scale, blocks, filters, patch, stage, str(init) if init else None, plain(content),
                        str(vgg_weights) if vgg_weights else None, adversarial_weight)
    start = time.perf_counter()
    run = lab.train(config, options)
    console.print(f"trained in {time.perf_counter() - start:.0f} s\nsamples: {run.samples}\n"
                  f"model: {run.result.export_dir}")


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=console, transient=True)


@app.command()
def upscale(
    source: Path = typer.Argument(..., help="An image file or a folder of images.", show_default=False),
    out: Path = typer.Option(None, "--out", "-o", show_default="NAME_x4.png beside each image",
                             help="Output file (one image) or folder."),
    model: Path = ModelOption,
    scale: int = typer.Option(None, "--scale", show_default="the model's",
                              help="Checked against the model's factor."),
    tile: int = typer.Option(TILE, "--tile", help="Low-resolution tile side; memory stays bounded by one tile "
                             "and the output image (0: whole image at once)."),
    overlap: int = typer.Option(TILE_OVERLAP, "--overlap", help="Context pixels around each tile."),
) -> None:
    """Upscale IMG_OR_DIR: RGB, greyscale, RGBA, palette, 16-bit PNG, JPEG; any size, in overlapping tiles."""
    lab = _lab()
    if tile < 0 or overlap < 0:
        raise GanappsError("--tile and --overlap must be at least 0")
    upscaler = lab.open_upscaler(model)
    if scale is not None and scale != upscaler.scale:
        raise GanappsError(f"--scale {scale}: the model upscales x{upscaler.scale} ({upscaler.source})")
    from ganapps.core.images import list_images

    if not source.exists():
        raise GanappsError(f"{source}: no such file or folder")
    files = list_images(source) if source.is_dir() else [source]
    with _progress() as progress:
        for path in files:
            target = lab.output_path(path, upscaler.scale, out, folder_input=source.is_dir())
            task = progress.add_task(path.name, total=None)
            lab.upscale_file(upscaler, path, target, tile, overlap,
                             lambda done, total, task=task: progress.update(task, completed=done, total=total))
            progress.remove_task(task)
            console.print(f"{path} -> {target}")


@app.command()
def evaluate(
    data: Path = typer.Option(None, "--data", "-d", show_default="../shared/data/sr/eval/set5",
                              help="A folder of high-resolution images (Set5, Set14 ...)."),
    model: Path = ModelOption,
    scale: int = typer.Option(None, "--scale", show_default="the model's", help="Checked against the model."),
    as_json: bool = JsonOption,
) -> None:
    """Y-channel PSNR and SSIM (shaving SCALE border pixels, as published tables) beside bicubic."""
    lab = _lab()
    result = lab.evaluate(lab.open_upscaler(model), data or lab.D.default_eval_folder("set5"), scale)
    if as_json:
        for row in [*result.images, {"summary": True, **result.summary}]:
            print(json.dumps(row), flush=True)
        return
    table = Table(title=f"x{result.scale} on {result.summary['data']} (Y channel, {result.scale} px shaved)")
    for column in ("image", "PSNR dB", "bicubic", "SSIM", "bicubic"):
        table.add_column(column, justify="right")
    for row in [*result.images, {"name": "mean", **result.summary}]:
        table.add_row(row["name"], f"{row['psnr']:.2f}", f"{row['bicubic_psnr']:.2f}", f"{row['ssim']:.4f}",
                      f"{row['bicubic_ssim']:.4f}")
    typer.echo("")
    Console().print(table)
    typer.echo(f"gain over bicubic: {result.summary['psnr_gain']:+.2f} dB PSNR, "
               f"{result.summary['ssim_gain']:+.4f} SSIM")


add_export_command(
    app, "superres", lambda: _lab().export,
    "Export a run's generator as a SavedModel: `image` [N, h, w, 3] in [0, 1] in, `upscaled` out.",
)
