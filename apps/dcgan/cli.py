"""`ganapps dcgan`: a thin command line over `ganapps.apps.dcgan.lab`."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import typer
from ganapps.apps.dcgan.recipe import DEFAULTS, INVERT_FEATURES, MODES, SHIPPED, Config

from ganapps.core.console import console as make_console
from ganapps.options import (DownloadOption, JsonOption, add_export_command, choices, config_options, existing_path,
                             lazy_import, model_argument, plain, train_options)

app = typer.Typer(help="DCGAN (Radford et al. 2016): train on embedded digit glyphs, an image folder or a TensorFlow "
                  "Datasets set; sample, interpolate, invert, edit, evaluate (FID/KID) and export.",
                  no_args_is_help=True)
console = make_console(stderr=False)
Mode = choices("Mode", MODES)
Features = choices("Features", INVERT_FEATURES)
ModelArgument = model_argument("dcgan", shipped=SHIPPED)
SeedOption = typer.Option(0, "--seed", help="Seed of the latent vectors.")

_lab = lazy_import("ganapps.apps.dcgan.lab")


@app.command()
@config_options(Config)
@train_options(out=Path("runs/dcgan"), **DEFAULTS)
def train(download: bool = DownloadOption, config=None, options=None) -> None:
    """Train a DCGAN; writes a sample grid per epoch (fixed latents), checkpoints and a SavedModel export.

    Any loss family works: e.g. --loss wasserstein --gp-weight 10 (the discriminator then drops batch norm,
    which a gradient penalty does not allow).
    """
    start = time.perf_counter()
    run = _lab().train(config, options, download=download)
    console.print(f"trained in {time.perf_counter() - start:.0f} s\nsamples: {run.samples}\n"
                  f"model: {run.result.exported}")


@app.command()
def sample(
    model: Path = ModelArgument,
    num: int = typer.Option(64, "--num", "-n", help="Number of images."),
    out: Path = typer.Option(Path("grid.png"), "--out", "-o", help="PNG grid to write."),
    columns: int = typer.Option(None, "--columns", show_default="square", help="Images per grid row."),
    seed: int = SeedOption,
) -> None:
    """Generate images from random latent vectors and save them as one PNG grid."""
    lab = _lab()
    lab.save_grid(lab.sample(model, num, seed), out, columns)
    console.print(f"{num} samples: {out}")


@app.command()
def interpolate(
    model: Path = ModelArgument,
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
    strip, animation = lab.write_interpolation(frames, out, gif, frame_ms=frame_ms)
    console.print(f"{rows} x {steps} frames: {strip}, {animation}")


@app.command()
def invert(
    target: Path = typer.Argument(..., help="Image to reconstruct (centre-cropped and resized to the model's size).",
                                  show_default=False, callback=existing_path),
    model: Path = ModelArgument,
    features: Features = typer.Option("discriminator", "--features", help="What besides pixels must match: the "
                                      "run's discriminator features (needs the run's checkpoint), the offline digit "
                                      "classifier's, or pixels only."),
    steps: int = typer.Option(300, "--steps", help="Adam steps on z."),
    learning_rate: float = typer.Option(0.05, "--learning-rate", help="Adam learning rate on z."),
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
    result = lab.invert(model, target, plain(features), steps, learning_rate, restarts, feature_weight, seed,
                        progress=True)
    lab.save_grid([result.target, result.reconstruction], out, columns=2)
    console.print(f"distance {result.distance:.5f} (pixels {result.pixel_distance:.5f}, features "
                  f"{result.feature_distance:.5f}); at the start {result.initial_distance:.5f}\n"
                  f"target | reconstruction: {out}")


@app.command()
def edit(
    model: Path = ModelArgument,
    strokes: Path = typer.Option(..., "--strokes", help="Image of the strokes (resized to the model's size): an RGBA "
                                 "PNG painted on transparency constrains its opaque pixels; an image without "
                                 "transparency, its pixels brighter than black.", show_default=False,
                                 callback=existing_path),
    mask: Path = typer.Option(None, "--mask", help="Image of the strokes' size: white pixels are constrained, black "
                              "ones free (replaces the strokes' own transparency or black background).",
                              show_default="from --strokes", callback=existing_path),
    start: int = typer.Option(0, "--start", help="Seed of the start image (the image `sample --num 1 --seed` makes)."),
    steps: int = typer.Option(100, "--steps", help="Adam steps on z."),
    learning_rate: float = typer.Option(0.1, "--learning-rate", help="Adam learning rate on z."),
    prior_weight: float = typer.Option(1.0, "--prior-weight", help="Weight of keeping |z| at the Gaussian's typical "
                                       "norm sqrt(latent dim)."),
    keep_weight: float = typer.Option(1.0, "--keep-weight", help="Weight of keeping the undrawn pixels as in the "
                                      "start image (0: only the strokes matter)."),
    start_weight: float = typer.Option(0.05, "--start-weight", help="Weight of staying near the start latent."),
    restarts: int = typer.Option(8, "--restarts", help="Starting points optimised together (the start latent and "
                                 "random ones); the lowest objective wins."),
    frames: int = typer.Option(8, "--frames", help="Frames of the path from the start image to the result."),
    out: Path = typer.Option(Path("edited.png"), "--out", "-o", help="The edited image."),
    strip: Path = typer.Option(Path("edit_path.png"), "--strip", help="PNG strip: the path from the start image to "
                               "the result."),
    gif: Path = typer.Option(None, "--gif", show_default="--strip with .gif", help="Animated GIF of that path, "
                             "forth and back."),
    frame_ms: int = typer.Option(80, "--frame-ms", help="GIF frame duration in milliseconds."),
    seed: int = typer.Option(0, "--seed", help="Seed of the random restarts."),
    as_json: bool = JsonOption,
) -> None:
    """Change a sample to follow painted strokes (iGAN, Zhu et al. 2016): Adam on z matches the strokes where drawn
    while z stays near the prior; prints the stroke distance of the start image and of the result.

    stroke distance = mean squared error (in [-1, 1] units) over the drawn pixels, weighted by how much they are
    drawn.
    """
    lab = _lab()
    result = lab.edit(model, strokes, mask, start=start, steps=steps, learning_rate=learning_rate,
                      prior_weight=prior_weight, keep_weight=keep_weight, start_weight=start_weight,
                      restarts=restarts, frames=frames, seed=seed)
    lab.save_grid([result.result], out)
    strip, animation = lab.write_interpolation(result.frames[None], strip, gif, frame_ms=frame_ms)
    summary = {"stroke_distance_before": result.stroke_distance_before,
               "stroke_distance_after": result.stroke_distance_after, "latent_distance": result.latent_distance,
               "restart": result.restart, "seconds": result.seconds, "result": str(out), "strip": str(strip),
               "gif": str(animation)}
    if as_json:
        print(json.dumps(summary))
        return
    console.print(f"stroke distance {result.stroke_distance_before:.5f} (start) -> {result.stroke_distance_after:.5f} "
                  f"(result) in {result.seconds:.2f} s; latent moved {result.latent_distance:.3f} per dimension "
                  f"(restart {result.restart})\nresult: {out}\npath: {strip}, {animation}")


@app.command()
def arithmetic(
    model: Path = ModelArgument,
    a: str = typer.Option("7:thick", "--a", help="Term A: a digit (7), a digit and style (7:thick, 7:thin), or sample "
                          "indices of the pool (3,17,42 or #42)."),
    b: str = typer.Option("7:thin", "--b", help="Term B, subtracted (same forms as --a)."),
    c: str = typer.Option("1:thin", "--c", help="Term C, added (same forms as --a)."),
    members: int = typer.Option(3, "--members", help="Samples averaged per digit term."),
    variants: int = typer.Option(8, "--variants", help="Extra results with uniform noise added to A - B + C."),
    noise: float = typer.Option(0.25, "--noise", help="Half-width of that uniform noise (Radford et al.: 0.25)."),
    pool: int = typer.Option(2000, "--pool", help="Samples drawn with --seed to choose the terms from."),
    out: Path = typer.Option(Path("arithmetic.png"), "--out", "-o", help="PNG: rows A, B, C (members, then the "
                             "mean latent's image) and the results (A - B + C first)."),
    seed: int = SeedOption,
    as_json: bool = JsonOption,
) -> None:
    """Latent arithmetic (Radford et al. 2016): mean latents of three groups of samples, drawn as A - B + C."""
    lab = _lab()
    result = lab.arithmetic(model, a, b, c, members, variants, noise, pool, seed)
    images, columns = result.grid()
    lab.save_grid(images, out, columns)
    read = result.result_digits
    summary = {"a": a, "b": b, "c": c, "indices": {t.spec: t.indices.tolist() for t in result.terms},
               "result_digits": read.tolist() if read is not None else None, "ink": result.ink, "grid": str(out)}
    if as_json:
        print(json.dumps(summary))
        return
    counts = ", ".join(f"{d}: {n}" for d, n in zip(*np.unique(read, return_counts=True))) if read is not None else "-"
    console.print(f"{a} - {b} + {c}: the classifier reads the {len(result.results)} results as {counts}\n"
                  f"ink (mean brightness) A {result.ink['a']:.3f}, B {result.ink['b']:.3f}, C {result.ink['c']:.3f}, "
                  f"results {result.ink['results']:.3f}\ngrid: {out}")


@app.command()
def evaluate(
    model: Path = ModelArgument,
    extractor: str = typer.Option("digits", "--extractor", help="digits: a small classifier trained offline on the "
                                  "glyphs (cached in ~/.cache/ganapps); inception: InceptionV3 with ImageNet weights "
                                  "(downloaded once into the Keras cache); or a path to a .keras model whose output "
                                  "is the feature vector."),
    num: int = typer.Option(2000, "--num", "-n", help="Generated images, and as many held-out real ones (fewer "
                            "if fewer are held out; the count used is printed)."),
    data: str = typer.Option(None, "--data", "-d", show_default="the run's data (glyphs for the shipped model)",
                             help="Real images to compare with: glyphs, a folder or tfds:NAME (its held-out share)."),
    seed: int = SeedOption,
    grid: Path = typer.Option(None, "--grid", help="Also write a PNG with one row per digit: the first ten samples "
                              "the digit classifier reads as it (digits extractor)."),
    as_json: bool = JsonOption,
) -> None:
    """FID and KID of generated images against held-out real images, on an extractor's features (lower is better);
    with the digits extractor, how the samples spread over the digits and how many are readable."""
    result = _lab().evaluate(model, data, extractor, num, seed, grid, progress=True)
    if as_json:
        print(json.dumps(result.as_dict()), flush=True)
        return
    spread = (f"+/- {result.kid_std:.5f}" if result.kid_std is not None else
              f"(no spread: {result.num_samples} samples make a single KID subset; --num 2000 gives one)")
    console.print(f"FID {result.fid:.3f}  KID {result.kid:.5f} {spread}  "
                  f"({result.num_samples} generated vs {result.num_samples} held-out {result.data} images, "
                  f"{result.extractor} features)")
    if result.classes is not None:
        fake, real = result.classes, result.real_classes
        percent = lambda value: "-" if value is None else f"{100 * value:.0f}%"  # noqa: E731
        console.print("digit      " + " ".join(f"{k:>4}" for k in range(len(fake.shares))))
        console.print("share      " + " ".join(f"{percent(v):>4}" for v in fake.shares)
                      + f"   (rarest / commonest {fake.balance:.2f})")
        console.print("readable   " + " ".join(f"{percent(v):>4}" for v in fake.readable)
                      + f"   (all {percent(fake.readable_overall)}; held-out real {percent(real.readable_overall)};"
                      f" readable: the classifier's probability >= {_lab().READABLE})")
    if grid is not None:
        console.print(f"grid: {grid}")


add_export_command(app, "dcgan", lambda: _lab().export, "Export a run's generator (the EMA copy if trained with "
                   "--ema) from its last checkpoint as a SavedModel.")
