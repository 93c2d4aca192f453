"""`ganapps dcgan`: a thin command line over `ganapps.apps.dcgan.lab`."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from ganapps.apps.dcgan.recipe import (
    DEFAULT_DATA,
    DEFAULTS,
    IMAGE_SIZE,
    LATENT_DIM,
    WIDTH,
)
from rich.console import Console

from ganapps.options import DownloadOption, JsonOption, add_export_command, choices, lazy_import, plain, train_options

app = typer.Typer(
    help="DCGAN (Radford et al. 2016): train on embedded digit glyphs, an image folder or a TensorFlow Datasets "
         "set; sample, interpolate, invert, evaluate (FID/KID) and export.",
    no_args_is_help=True,
)
console = Console()
Mode = choices("Mode", ("linear", "slerp"))
Features = choices("Features", ("discriminator", "digits", "pixels"))

RunArgument = typer.Argument(..., help="A run directory (written by `dcgan train`) or an exported SavedModel folder.",
                             show_default=False)
SeedOption = typer.Option(0, "--seed", help="Seed of the latent vectors.")


_lab = lazy_import("ganapps.apps.dcgan.lab")


@app.command()
@train_options(out=Path("runs/dcgan"), **DEFAULTS)
def train(
    data: str = typer.Option(
        DEFAULT_DATA, "--data", "-d",
        help="'glyphs' (embedded digits, offline), an image folder, or tfds:NAME (e.g. tfds:mnist, tfds:celeb_a). "
             "A fixed 1/6 of it is held out for `evaluate`.",
    ),
    image_size: int = typer.Option(IMAGE_SIZE, "--image-size", help="Side of the square images: 16, 32, 64, 128 "
                                   "or 256; data is centre-cropped and resized (28x28 MNIST becomes 32x32)."),
    channels: int = typer.Option(None, "--channels", show_default="1 for grey data, else 3",
                                 help="1 (grey) or 3 (RGB)."),
    latent_dim: int = typer.Option(LATENT_DIM, "--latent-dim", help="Size of the latent vector z."),
    width: int = typer.Option(WIDTH, "--width", help="Filters of the generator's last and the discriminator's first "
                              "layer; the other layers double it per stage (the paper's 64x64 model: 128)."),
    download: bool = DownloadOption,
    options=None,
) -> None:
    """Train a DCGAN; writes a sample grid per epoch (fixed latents), checkpoints and a SavedModel export.

    Any loss family works: e.g. --loss wasserstein --gp-weight 10 (the discriminator then drops batch norm,
    which a gradient penalty does not allow).
    """
    start = time.perf_counter()
    run = _lab().train(data, options, image_size, channels, latent_dim, width, download=download)
    console.print(f"trained in {time.perf_counter() - start:.0f} s\nsamples: {run.samples}\n"
                  f"model: {run.result.export_dir}")


@app.command()
def sample(
    model: Path = RunArgument,
    num: int = typer.Option(64, "--num", "-n", help="Number of images."),
    out: Path = typer.Option(Path("grid.png"), "--out", "-o", help="PNG grid to write."),
    columns: int = typer.Option(None, "--columns", show_default="square", help="Images per grid row."),
    seed: int = SeedOption,
) -> None:
    """Generate images from random latent vectors and save them as one PNG grid."""
    if num < 1:
        raise typer.BadParameter("must be at least 1", param_hint="--num")
    if columns is not None and columns < 1:
        raise typer.BadParameter("must be at least 1", param_hint="--columns")
    lab = _lab()
    lab.save_grid(lab.sample(model, num, seed), out, columns)
    console.print(f"{num} samples: {out}")


@app.command()
def interpolate(
    model: Path = RunArgument,
    steps: int = typer.Option(10, "--steps", help="Frames per path, both end points included."),
    mode: Mode = typer.Option("linear", "--mode", help="linear: straight line; slerp: great circle, which keeps "
                              "Gaussian latents at a typical norm."),
    rows: int = typer.Option(1, "--rows", help="Independent paths, one per row."),
    out: Path = typer.Option(Path("interpolation.png"), "--out", "-o", help="PNG strip: one row per path."),
    gif: Path = typer.Option(None, "--gif", show_default="--out with .gif",
                             help="Animated GIF playing the paths forth and back."),
    frame_ms: int = typer.Option(80, "--frame-ms", help="GIF frame duration in milliseconds."),
    seed: int = SeedOption,
) -> None:
    """Walk the latent space between random end points: a frame strip (PNG) and an animation (GIF)."""
    lab = _lab()
    frames = lab.interpolate(model, steps, plain(mode), rows, seed).frames
    strip, animation = lab.write_interpolation(frames, out, gif or out.with_suffix(".gif"), frame_ms=frame_ms)
    console.print(f"{rows} x {steps} frames: {strip}, {animation}")


@app.command()
def invert(
    target: Path = typer.Argument(..., help="Image to reconstruct (centre-cropped and resized to the model's size).",
                                  show_default=False),
    model: Path = RunArgument,
    features: Features = typer.Option(
        "discriminator", "--features",
        help="What besides pixels must match: the run's discriminator features (needs the run's checkpoint), "
             "the offline digit classifier's, or pixels only."),
    steps: int = typer.Option(300, "--steps", help="Adam steps on z."),
    lr: float = typer.Option(0.05, "--lr", help="Adam learning rate on z."),
    restarts: int = typer.Option(4, "--restarts", help="Random starting points optimised together; the best wins."),
    feature_weight: float = typer.Option(1.0, "--feature-weight", help="Weight of the feature term."),
    out: Path = typer.Option(Path("reconstruction.png"), "--out", "-o", help="Target and reconstruction side by side."),
    seed: int = SeedOption,
) -> None:
    """Find the latent vector whose image best matches TARGET (Adam on z); prints the remaining distance.

    distance = mean squared pixel error (in [-1, 1] units) + weight x squared feature error relative to the
    target's features.
    """
    lab = _lab()
    result = lab.invert(model, target, plain(features), steps, lr, restarts, feature_weight, seed, progress=True)
    lab.save_grid([result.target, result.reconstruction], out, columns=2)
    console.print(f"distance {result.distance:.5f} (pixels {result.pixel_distance:.5f}, features "
                  f"{result.feature_distance:.5f}); at the start {result.initial_distance:.5f}\n"
                  f"target | reconstruction: {out}")


@app.command()
def evaluate(
    model: Path = RunArgument,
    extractor: str = typer.Option(
        "digits", "--extractor",
        help="digits: a small classifier trained offline on the glyphs (cached in ~/.cache/ganapps); "
             "inception: InceptionV3 with ImageNet weights (downloaded once into the Keras cache); "
             "or a path to a .keras model whose output is the feature vector."),
    num: int = typer.Option(2000, "--num", "-n", help="Generated images, and as many held-out real ones (fewer "
                            "if fewer are held out; the count used is printed)."),
    data: str = typer.Option(None, "--data", "-d", show_default="the run's data",
                             help="Real images to compare with: glyphs, a folder or tfds:NAME (its held-out share)."),
    seed: int = SeedOption,
    as_json: bool = JsonOption,
) -> None:
    """FID and KID of generated images against held-out real images, on an extractor's features (lower is better)."""
    if num < 2:
        raise typer.BadParameter("must be at least 2", param_hint="--num")
    result = _lab().evaluate(model, data, extractor, num, seed, progress=True)
    if as_json:
        print(json.dumps(result.as_dict()), flush=True)
        return
    console.print(f"FID {result.fid:.3f}  KID {result.kid:.5f} +/- {result.kid_std:.5f}  "
                  f"({result.num_samples} generated vs {result.num_samples} held-out {result.data} images, "
                  f"{result.extractor} features)")


add_export_command(
    app, "dcgan", lambda: _lab().export,
    "Export a run's generator (the EMA copy if trained with --ema) from its last checkpoint as a "
    "SavedModel.",
)
