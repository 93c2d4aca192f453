"""Command-line options shared by every app, defined once.

`train_options(**defaults)` adds the flags of `TrainOptions` to a Typer command and hands the command a
ready `TrainOptions` as its `options` argument; an app only overrides defaults.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import importlib
import inspect
from pathlib import Path
from types import ModuleType
from typing import Callable

import typer

from ganapps.core.config import LOSS_FAMILIES, PRECISIONS, STRATEGIES, TrainOptions

RUN, LOSS, HARDWARE = "Run", "Loss and regularisers", "Hardware"


def choices(name: str, values) -> type[enum.Enum]:
    """A str Enum for Typer, so `--help` lists the valid values and bad ones are refused."""
    return enum.Enum(name, {v: v for v in values}, type=str)


def plain(value):
    """An Enum choice as its string; anything else unchanged."""
    return value.value if isinstance(value, enum.Enum) else value


# name -> (type, help, panel)
_FLAGS: dict[str, tuple[type, str, str]] = {
    "out": (Path, "Run directory: config, checkpoints, samples, logs, export.", RUN),
    "epochs": (int, "Number of epochs.", RUN),
    "steps": (int, "Training steps per epoch.", RUN),
    "batch_size": (int, "Global batch size (split over replicas).", RUN),
    "seed": (int, "Seed for weights, data order and noise.", RUN),
    "resume": (bool, "Continue the run in --out from its last finished epoch.", RUN),
    "loss": (choices("Loss", LOSS_FAMILIES), "Adversarial loss family.", LOSS),
    "d_steps": (int, "Discriminator updates per generator update.", LOSS),
    "gp_weight": (float, "WGAN-GP gradient penalty weight (0: off).", LOSS),
    "r1_weight": (float, "R1 penalty weight gamma (0: off).", LOSS),
    "label_smoothing": (float, "One-sided label smoothing of real targets.", LOSS),
    "feature_matching": (float, "Feature-matching term weight (0: off).", LOSS),
    "ema": (float, "EMA decay of generator weights for sampling and export (0: off); warms up as "
            "min(decay, (1 + step) / (10 + step)), so short runs are not averaged with their initial weights.", LOSS),
    "pack": (int, "PacGAN packing: samples the discriminator judges together.", LOSS),
    "g_lr": (float, "Generator learning rate.", LOSS),
    "d_lr": (float, "Discriminator learning rate (TTUR: set it apart from --g-lr).", LOSS),
    "beta1": (float, "Adam beta_1.", LOSS),
    "beta2": (float, "Adam beta_2.", LOSS),
    "lr_decay_start": (float, "Fraction of training after which both learning rates decay linearly to 0 "
                              "(1: constant).", LOSS),
    "d_stop": (float, "Fraction of training by which the discriminator stops learning: its learning-rate schedule "
                      "is compressed into it, and the generator then refines against a fixed critic (1: never).",
               LOSS),
    "strategy": (choices("Strategy", STRATEGIES),
                 "tf.distribute strategy; auto: mirrored on several GPUs, one-device on one.", HARDWARE),
    "devices": (int, "Split the CPU into N logical devices (test multi-replica runs without GPUs).", HARDWARE),
    "mixed_precision": (choices("Precision", PRECISIONS), "Mixed precision policy.", HARDWARE),
    "jit": (choices("Jit", ("auto", "on", "off")), "XLA compilation; auto: on for GPUs and TPUs only.", HARDWARE),
}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def train_options(**defaults) -> Callable:
    """Decorate a Typer command: append the shared training flags, pass `options: TrainOptions`."""
    base = {f.name: f.default for f in dataclasses.fields(TrainOptions) if f.name in _FLAGS}
    unknown = set(defaults) - set(base)
    if unknown:
        raise TypeError(f"unknown training option defaults: {sorted(unknown)}")
    base.update(defaults)

    def decorate(command: Callable) -> Callable:
        signature = inspect.signature(command, eval_str=True)
        own = [p for p in signature.parameters.values() if p.name != "options"]
        shared = []
        for name, (kind, text, panel) in _FLAGS.items():
            option = typer.Option(base[name], _flag(name), help=text, rich_help_panel=panel)
            shared.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=kind))

        @functools.wraps(command)
        def wrapper(**kwargs):
            values = {name: plain(kwargs.pop(name)) for name in _FLAGS}
            return command(options=TrainOptions(**values), **kwargs)

        wrapper.__signature__ = signature.replace(parameters=own + shared)
        wrapper.__annotations__ = {k: v for k, v in command.__annotations__.items() if k != "options"}
        return wrapper

    return decorate


JsonOption = typer.Option(False, "--json", help="Print one JSON object per line instead of a table.")
DownloadOption = typer.Option(True, "--download/--no-download", help="Let a TensorFlow Datasets set download when "
                              "it is not in the local TensorFlow Datasets folder.")


def lazy_import(module: str) -> Callable[[], ModuleType]:
    """A function that imports `module` when called: an app's CLI loads its lab (and TensorFlow) only when a command
    runs, so `--help` stays fast."""
    return lambda: importlib.import_module(module)


def add_export_command(
    app: typer.Typer,
    name: str,
    export: Callable[[], Callable[[Path, Path | None, int], Path]],
    doc: str,
    out_help: str = "Model folder; the SavedModel goes to OUT/VERSION (TF Serving layout).",
) -> None:
    """Give an app its `export RUN [--out] [--version]` command, the same in every app.

    `export` returns the lab's `export(run, out, version)`; it is a thunk so that TensorFlow loads only when the
    command runs (`--help` stays fast).
    """

    def command(
        run: Path = typer.Argument(..., help=f"A run directory written by `{name} train`.", show_default=False),
        out: Path = typer.Option(None, "--out", "-o", show_default=f"RUN/export/{name}", help=out_help),
        version: int = typer.Option(1, "--version", help="Version folder name."),
    ) -> None:
        typer.echo(f"exported: {export()(run, out, version)}")

    command.__doc__ = doc
    app.command("export")(command)
