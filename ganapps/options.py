"""Command-line options generated from the dataclasses they fill, defined once.

`train_options(**defaults)` adds the flags of `TrainOptions` to a Typer command and hands it a ready `TrainOptions`
as `options`; `config_options(Config, **defaults)` does the same for an app's `Config` as `config`. Each flag's
type, default, help text and choices come from the dataclass field (`ganapps.core.config.setting`), so a new field
is a new flag with no other line to write.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import inspect
import types
import typing
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import typer

from ganapps.core.config import EXPORT_FORMATS, TrainOptions, check_run_directory, model_path, shipped_name
from ganapps.core.errors import GanappsError
from ganapps.core.console import import_quietly


def choices(name: str, values) -> type[enum.Enum]:
    """A str Enum for Typer, so `--help` lists the valid values and bad ones are refused."""
    return enum.Enum(name, {str(v): str(v) for v in values}, type=str)


def plain(value):
    """An Enum choice as its string; anything else unchanged."""
    return value.value if isinstance(value, enum.Enum) else value


def flag_name(name: str) -> str:
    return "--" + name.replace("_", "-")


def _annotation(hint: Any) -> Any:
    """The type Typer parses a field as: `X | None` as X (its default None stays), tuples of strings as one
    comma-separated string."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and len(args) == 1:
        hint = args[0]
    if hint in (int, float, str, bool, Path):
        return hint
    return str


def _default_text(value: Any) -> str | bool:
    """A float default with a long repr (1/3) shown short; everything else as Click shows it."""
    if isinstance(value, float) and len(repr(value)) > 8:
        return f"{value:.4g}"
    return True


def dataclass_flags(cls: type, target: str, defaults: dict, skip: tuple[str, ...] = (),
                    check: Callable[[Any], None] | None = None) -> Callable:
    """Decorate a Typer command: append a flag per `setting` field of `cls`, pass `target=cls(...)` (after `check`,
    which can refuse it before the command loads TensorFlow)."""
    fields = {f.name: f for f in dataclasses.fields(cls) if f.metadata.get("flag", False) and f.name not in skip}
    unknown = set(defaults) - set(fields)
    if unknown:
        raise TypeError(f"unknown {cls.__name__} defaults: {sorted(unknown)}")
    hints = typing.get_type_hints(cls)

    def default_of(f: dataclasses.Field) -> Any:
        if f.name in defaults:
            return defaults[f.name]
        return f.default if f.default is not dataclasses.MISSING else f.default_factory()

    def decorate(command: Callable) -> Callable:
        signature = inspect.signature(command, eval_str=True)
        own = [p for p in signature.parameters.values() if p.name != target]
        added, kinds = [], {}
        for name, f in fields.items():
            meta = f.metadata
            default = default_of(f)
            kind = _annotation(hints[name])
            if meta.get("choices"):
                kind = choices("".join(p.title() for p in name.split("_")), meta["choices"])
            if isinstance(default, tuple):
                default = ",".join(map(str, default))
            kinds[name] = hints[name]
            names = [flag_name(name)] + ([meta["short"]] if meta.get("short") else [])
            if kind is bool and default is True:  # on by default: the flag that turns it off
                names[0] += "/--no-" + names[0][2:]
            show = meta.get("show_default", True)
            option = typer.Option(default, *names, help=meta["help"], rich_help_panel=meta["panel"],
                                  show_default=_default_text(default) if show is True else show)
            added.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=kind))

        @functools.wraps(command)
        def wrapper(**kwargs):
            values = {}
            for name in fields:
                value = plain(kwargs.pop(name))
                if "tuple" in str(kinds[name]) and isinstance(value, str):
                    value = tuple(v.strip() for v in value.split(",") if v.strip())
                values[name] = value
            instance = cls(**values)
            if check is not None:
                check(instance)
            return command(**{target: instance}, **kwargs)

        wrapper.__signature__ = signature.replace(parameters=own + added)
        wrapper.__annotations__ = {k: v for k, v in command.__annotations__.items() if k != target}
        return wrapper

    return decorate


def train_options(**defaults) -> Callable:
    """Decorate a Typer command: append the shared training flags, pass `options: TrainOptions`."""
    return dataclass_flags(TrainOptions, "options", defaults,
                           check=lambda options: check_run_directory(options.out, options.resume))


def config_options(config: type, skip: tuple[str, ...] = (), **defaults) -> Callable:
    """Decorate a Typer command: append a flag per field of the app's `Config`, pass `config`."""
    return dataclass_flags(config, "config", defaults, skip)


JsonOption = typer.Option(False, "--json", help="Print one JSON object per line instead of a table.")
DownloadOption = typer.Option(True, "--download/--no-download", help="Let a TensorFlow Datasets set download when "
                              "it is not in the local TensorFlow Datasets folder.")


def model_argument(app: str, shipped: str | None = None, names: dict[str, str] | None = None) -> Any:
    """The MODEL argument every inference command takes the same way: a run directory, an export folder or the
    name of a shipped model (optional when the app ships one); `names`: short names of shipped models."""
    what = f"A run directory (written by `{app} train`), an exported SavedModel folder or a shipped model's name"
    if names:
        what += " (" + ", ".join(f"{short}: {name}" for short, name in names.items()) + ")"
    callback = named_model(names) if names else existing_model
    if shipped:
        return typer.Argument(None, help=f"{what}.", show_default=shipped, callback=callback)
    return typer.Argument(..., help=f"{what}.", show_default=False, callback=callback)


def named_model(names: dict[str, str]) -> Callable[[str | None], str | None]:
    """`existing_model` that first turns a short name in `names` into the shipped model it stands for."""

    def check(value: str | None) -> str | None:  # Typer passes the value to a callback's only parameter
        return existing_model(shipped_name(value, names))

    return check


def existing_model(value: str | None) -> str | None:
    """A model that names nothing is refused as the command line is read, before TensorFlow loads."""
    if value is not None:
        try:
            model_path(value)
        except GanappsError as error:
            raise typer.BadParameter(str(error)) from None
    return value


def existing_path(value: Path | None) -> Path | None:
    """Callback of a file or folder argument: one line, before TensorFlow loads, when the path is not there."""
    if value is not None and not Path(value).expanduser().exists():
        raise typer.BadParameter(f"{value}: no such file or folder")
    return value


def lazy_import(module: str) -> Callable[[], ModuleType]:
    """A function that imports `module` when called: an app's CLI loads its lab (and TensorFlow) only when a command
    runs, so `--help` stays fast; TensorFlow's start-up notices are kept off stderr."""
    return lambda: import_quietly(module)


ExportFormat = enum.Enum("ExportFormat", {name: name for name in EXPORT_FORMATS}, type=str)


def add_export_command(app: typer.Typer, name: str,
                       export: Callable[[], Callable[[Path, Path | None, int, str], Path]],
                       doc: str, out_help: str = "Model folder; the SavedModel goes to OUT/VERSION (TF Serving "
                                                 "layout).") -> None:
    """Give an app its `export RUN [--out] [--version] [--format]` command, the same in every app.

    `export` returns a function `(run, out, version, format) -> path` (usually `runs.export(APP, ...)` through the
    lab); it is a thunk so that TensorFlow loads only when the command runs (`--help` stays fast).
    """

    def command(
        run: Path = typer.Argument(..., help=f"A run directory written by `{name} train`.", show_default=False,
                                   callback=existing_path),
        out: Path = typer.Option(None, "--out", "-o", show_default=f"RUN/export/{name}[-FORMAT]", help=out_help),
        version: int = typer.Option(1, "--version", help="Version folder name."),
        format: ExportFormat = typer.Option(
            "saved_model", "--format", "-f", help="saved_model (TF Serving; checks its inputs in the graph), litert "
            "(model.tflite) or onnx (model.onnx); the last two need `pip install 'ganapps[export]'`. Each writes "
            "assets.extra/serving.json: inputs, ranges, output."),
    ) -> None:
        typer.echo(f"exported: {export()(run, out, version, plain(format))}")

    command.__doc__ = doc
    app.command("export")(command)
