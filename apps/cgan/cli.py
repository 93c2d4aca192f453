"""`ganapps cgan`: a thin command line over `ganapps.apps.cgan.lab` and `ganapps.apps.cgan.semisup`."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from ganapps.apps.cgan.recipe import (
    AUX_WEIGHT,
    CONDITIONS,
    DEFAULT_DATA,
    DEFAULTS,
    DISCRIMINATORS,
    IMAGE_SIZE,
    CAPTION_STEPS,
    L1_WEIGHT,
    LATENT_DIM,
    MATCH_WEIGHT,
    MISMATCH_WEIGHT,
    SEMISUP_DEFAULTS,
    SEMISUP_LABELS,
    WIDTH,
)
from rich.console import Console
from rich.table import Table

from ganapps.options import DownloadOption, JsonOption, add_export_command, choices, lazy_import, plain, train_options

app = typer.Typer(
    help="Conditional generation (Mirza and Osindero 2014): digits conditioned on a label, metadata (angle, scale, "
         "position, hue), a caption, or an original image and target metadata; an independent judge scores "
         "samples; semi-supervised classification with a K+1-class discriminator (Salimans et al. 2016).",
    no_args_is_help=True,
)
console = Console()
Condition = choices("Condition", CONDITIONS)
Discriminator = choices("Discriminator", DISCRIMINATORS)

RunArgument = typer.Argument(..., help="A run directory (written by `cgan train`) or an exported SavedModel folder.",
                             show_default=False)
DataHelp = ("'glyphs' (embedded: rendered digits with label, angle, scale, position, colour and caption; offline), "
            "an MNIST CSV file (784 pixels then the label per row, e.g. ../shared/data/mnist/mnist_5k.csv.gz), "
            "tfds:NAME (mnist, fashion_mnist), or a folder with labels.csv (file, label, numeric metadata columns) "
            "or captions.jsonl. A fixed fifth is held out for `evaluate`.")

_lab = lazy_import("ganapps.apps.cgan.lab")


@app.command()
@train_options(out=Path("runs/cgan"), **DEFAULTS)
def train(
    condition: Condition = typer.Option("label", "--condition", "-c", help="What the generator is given: a label, "
                                        "a metadata vector, a caption, or an original image and target metadata."),
    data: str = typer.Option(DEFAULT_DATA, "--data", "-d", help=DataHelp),
    discriminator: Discriminator = typer.Option(
        "projection", "--discriminator",
        help="projection: the condition's embedding dotted with the image features (Miyato and Koyama 2018); "
             "concat: the embedding appended to the image as feature maps (Mirza and Osindero 2014); acgan: an "
             "unconditional logit and an auxiliary head (Odena et al. 2017)."),
    aux_weight: float = typer.Option(AUX_WEIGHT, "--aux-weight", help="Weight of the auxiliary head that classifies "
                                     "the label, regresses the metadata or predicts the caption's words, on real "
                                     "images for the discriminator and on its own samples for the generator; 0 drops "
                                     "the head (acgan keeps it; none with --text-encoder)."),
    mismatch_weight: float = typer.Option(None, "--mismatch-weight", show_default=f"{MISMATCH_WEIGHT} for text, else 0",
                                          help="A real image with another example's condition counts as fake "
                                               "(Reed et al.'s matching-aware discriminator)."),
    l1_weight: float = typer.Option(L1_WEIGHT, "--l1-weight", help="image+metadata: weight of the L1 distance to "
                                    "the true redrawing."),
    text_encoder: str = typer.Option(
        "joint", "--text-encoder",
        help="text: joint, a caption encoder fitted with an image encoder on the training pairs before the GAN "
             "(contrastive, as Reed et al. 2016 and CLIP), then frozen; bag-of-words, a word-embedding encoder "
             "trained with the GAN; or a .keras model mapping strings [N] to vectors [N, D] (e.g. a pretrained "
             "sentence encoder), frozen."),
    match_weight: float = typer.Option(MATCH_WEIGHT, "--match-weight", help="text, joint encoder: weight of the "
                                       "term that asks the frozen image encoder to read each sample as its own "
                                       "caption (AttnGAN's DAMSM loss, in cosine form)."),
    caption_steps: int = typer.Option(CAPTION_STEPS, "--caption-steps", help="text, joint encoder: training "
                                      "steps of the caption embedding (batch 128) before the GAN."),
    image_size: int = typer.Option(IMAGE_SIZE, "--image-size", help="16, 32 or 64; data is centre-cropped and "
                                   "resized (28x28 MNIST becomes 32x32)."),
    channels: int = typer.Option(None, "--channels", show_default="1 for grey data, else 3", help="1 or 3."),
    latent_dim: int = typer.Option(LATENT_DIM, "--latent-dim", help="Size of the noise vector z."),
    width: int = typer.Option(WIDTH, "--width", help="Filters of the generator's last and the discriminator's "
                              "first layer, doubling per stage."),
    download: bool = DownloadOption,
    options=None,
) -> None:
    """Train a conditional GAN; writes a sample grid per epoch, checkpoints and a SavedModel export."""
    lab = _lab()
    config = lab.Config(plain(condition), data, image_size, channels, latent_dim, width, plain(discriminator),
                        aux_weight, mismatch_weight, l1_weight, text_encoder, match_weight, caption_steps)
    start = time.perf_counter()
    run = lab.train(config, options, download=download)
    if run.towers is not None:
        console.print(f"caption embedding: {run.towers.retrieval:.1%} of the pairs held back from it find their own "
                      "caption among 10 (chance 10%)")
    console.print(f"trained in {time.perf_counter() - start:.0f} s\nsamples: {run.samples}\n"
                  f"model: {run.result.export_dir}")


@app.command()
def generate(
    model: Path = RunArgument,
    label: str = typer.Option(None, "--label", "-l", help="label model: the class (index or name); left out: "
                              "one row per class."),
    metadata: str = typer.Option(None, "--metadata", "-m", help="metadata or image+metadata model: NAME=VALUE "
                                 "pairs, e.g. angle=30,scale=0.8; attributes left out are drawn at random."),
    text: str = typer.Option(None, "--text", "-t", help="text model: a caption, e.g. \"a small red 7 rotated 30 "
                             "degrees left\"."),
    image: Path = typer.Option(None, "--image", "-i", help="image+metadata model: the image to redraw."),
    num: int = typer.Option(16, "--num", "-n", help="Images (per class when no --label is given)."),
    out: Path = typer.Option(Path("generated.png"), "--out", "-o", help="PNG grid to write."),
    seed: int = typer.Option(0, "--seed", help="Seed of the noise (and of attributes left out)."),
) -> None:
    """Generate images for one condition and save them as a PNG grid (image+metadata: the original first)."""
    lab = _lab()
    generated = lab.generate(model, label, metadata, text, image, num, seed)
    lab.save_grid(generated, out)
    console.print(f"{len(generated.images)} images: {out}")


@app.command()
def evaluate(
    model: Path = RunArgument,
    num: int = typer.Option(1000, "--num", "-n", help="Generated images (label: spread evenly over the classes)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the noise and of the held-out conditions drawn."),
    download: bool = DownloadOption,
    as_json: bool = JsonOption,
) -> None:
    """Score generated images with an independent judge trained on real images only (cached after its first use):
    per-label accuracy, metadata error against each attribute's range, caption digit/colour/size accuracy; each
    beside the judge's score on held-out real images."""
    if num < 10:
        raise typer.BadParameter("must be at least 10", param_hint="--num")
    result = _lab().evaluate(model, num, seed, download, progress=not as_json)
    if as_json:
        for row in result.as_dicts():
            print(json.dumps(row), flush=True)
        return
    table = Table(title=f"{result.samples} images from a {result.condition} model on {result.data}, read by the "
                        "judge (real: held-out real images)")
    for column in ("measure", "scope", "generated", "real", "notes"):
        table.add_column(column)
    for row in result.rows:
        notes = ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()
                          if k not in ("what", "scope", "generated", "real"))
        real = "" if row["real"] is None else f"{row['real']:.4g}"
        table.add_row(row["what"], row["scope"], f"{row['generated']:.4g}", real, notes)
    console.print(table)


add_export_command(
    app, "cgan", lambda: _lab().export,
    "Export a run's generator as a SavedModel whose signature takes the condition: latent + label / metadata / "
    "text (a string), or image + metadata.",
)


@app.command()
@train_options(out=Path("runs/cgan-semisup"), **SEMISUP_DEFAULTS)
def semisup(
    labels: int = typer.Option(SEMISUP_LABELS, "--labels", help="Labelled training images, the same number per "
                               "class; the rest of the training split is used without labels."),
    data: str = typer.Option(DEFAULT_DATA, "--data", "-d", help="Labelled digits: 'glyphs', an MNIST CSV file "
                             "(e.g. ../shared/data/mnist/mnist_5k.csv.gz) or tfds:NAME. A fixed fifth is the test "
                             "split."),
    network: str = typer.Option("mlp", "--network", help="The discriminator (and baseline classifier): mlp, the "
                                "paper's MNIST network; conv, a small convolutional one."),
    baseline_epochs: int = typer.Option(None, "--baseline-epochs", show_default="as many updates as the GAN's",
                                        help="Epochs of the supervised-only classifier over the labelled images."),
    download: bool = DownloadOption,
    as_json: bool = JsonOption,
    options=None,
) -> None:
    """Semi-supervised learning (Salimans et al. 2016): a discriminator over {0..K-1, fake} trained on every
    training image, labels for only a few, and a feature-matching generator; reports its test errors beside a
    classifier of the same network trained on the labelled images alone."""
    from dataclasses import replace

    from ganapps.apps.cgan import semisup as S

    if as_json:
        options = replace(options, verbose=0)  # Keras' progress bar writes to stdout
    start = time.perf_counter()
    report = S.run(data, labels, options, baseline_epochs, network, download=download, progress=not as_json)
    if as_json:
        for row in report.as_dicts():
            print(json.dumps(row), flush=True)
        return
    table = Table(title=f"{report.data}: {report.labels} labels, {report.unlabelled} unlabelled training images, "
                        f"{report.test} test images")
    for column in ("model", "test errors", "error %", "train s"):
        table.add_column(column)
    for row in report.rows:
        table.add_row(row["model"], str(row["errors"]), f"{100 * row['error_rate']:.2f}", f"{row['seconds']:.0f}")
    console.print(table)
    console.print(f"done in {time.perf_counter() - start:.0f} s; run: {report.run_dir}")
