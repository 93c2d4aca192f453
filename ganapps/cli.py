"""The `ganapps` command: mounts every app's sub-command and turns user errors into one-line messages."""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Any

PIPED = not sys.stdout.isatty()
if PIPED:  # piped or redirected: plain help (no boxes, no <bool> columns, no words split across lines)
    os.environ.setdefault("TYPER_USE_RICH", "0")

import typer  # noqa: E402

try:  # Typer >= 0.20 vendors its own Click
    from typer._click import _textwrap
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover - older Typer on the public Click
    from click import _textwrap
    from click import exceptions as click_errors


class _WholeWordWrapper(_textwrap.TextWrapper):
    """Click's help wrapper, breaking lines between words only ('least-squares' stays one word)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, break_on_hyphens=False, **kwargs)


if PIPED:
    _textwrap.TextWrapper = _WholeWordWrapper

from ganapps.apps.cgan.cli import app as cgan_app
from ganapps.apps.cgan.recipe import SHIPPED as CGAN_SHIPPED
from ganapps.apps.cgan.recipe import SHIPPED_TEXT as CGAN_TEXT_SHIPPED
from ganapps.apps.cyclegan.cli import app as cyclegan_app
from ganapps.apps.cyclegan.recipe import SHIPPED as CYCLEGAN_SHIPPED
from ganapps.apps.dcgan.cli import app as dcgan_app
from ganapps.apps.dcgan.recipe import SHIPPED as DCGAN_SHIPPED
from ganapps.apps.nextframe.cli import app as nextframe_app
from ganapps.apps.nextframe.recipe import SHIPPED as NEXTFRAME_SHIPPED
from ganapps.apps.superres.cli import app as superres_app
from ganapps.apps.superres.recipe import SHIPPED as SUPERRES_SHIPPED
from ganapps.apps.toy.cli import app as toy_app
from ganapps.core.errors import GanappsError, Interrupted, ParameterError, interrupted_by_user
from ganapps.options import existing_model

app = typer.Typer(
    name="ganapps",
    help="Generative adversarial network applications on Keras 3 / TensorFlow: train, sample, evaluate, export.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"],
                      **({"terminal_width": 110, "max_content_width": 110} if PIPED else {})},
)


def short_help(text: str, limit: int = 90) -> str:
    """A help text's first sentence, cut to `limit` at a word, for command lists: Click's own stops at the first
    full stop, so "DCGAN (Radford et al. 2016): ..." was listed as "DCGAN (Radford et al."."""
    sentence = re.split(r"(?<!\bal)(?<!\be\.g)(?<!\bi\.e)\.(?:\s|$)", " ".join(text.split()), maxsplit=1)[0]
    return sentence if len(sentence) <= limit else sentence[: limit - 3].rsplit(" ", 1)[0] + "..."


for name, sub_app in (("toy", toy_app), ("dcgan", dcgan_app), ("nextframe", nextframe_app),
                      ("superres", superres_app), ("cyclegan", cyclegan_app), ("cgan", cgan_app)):
    for command in sub_app.registered_commands:
        doc = command.help or (command.callback.__doc__ if command.callback else None)
        if doc and not command.short_help:
            command.short_help = short_help(doc)
    app.add_typer(sub_app, name=name, short_help=short_help(sub_app.info.help))


@app.command()
def info(as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Versions, devices, and the strategy `--strategy auto` picks here."""
    from ganapps.core.console import import_quietly

    tf = import_quietly("tensorflow")
    import keras

    from ganapps import __version__
    from ganapps.core.strategy import auto_strategy_name, resolve_jit, resolve_precision

    details = {
        "ganapps": __version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "keras_backend": keras.backend.backend(),
        "python": sys.version.split()[0],
        "devices": [f"{d.device_type}:{d.name}" for d in tf.config.list_logical_devices()],
        "gpus": len(tf.config.list_physical_devices("GPU")),
        "auto_strategy": auto_strategy_name(),
        "auto_jit": resolve_jit("auto"),
        "auto_precision": resolve_precision("auto"),
    }
    if as_json:
        print(json.dumps(details))
        return
    for key, value in details.items():
        typer.echo(f"{key:14} {', '.join(value) if isinstance(value, list) else value}")


def _demo_model(app: str, shipped: str, tab: str) -> Any:
    """A tab's model option, refused as the command line is read when it names nothing (before Gradio loads)."""
    return typer.Option(None, f"--{app.replace('_', '-')}", metavar="MODEL", show_default=shipped,
                        callback=existing_model, help=f"{tab}: a run directory, an exported SavedModel folder or a "
                        "shipped model's name.")


@app.command()
def demo(
    superres: str = _demo_model("superres", SUPERRES_SHIPPED, "Upscale tab"),
    cgan: str = _demo_model("cgan", CGAN_SHIPPED, "Digits tab, by label"),
    cgan_text: str = _demo_model("cgan_text", CGAN_TEXT_SHIPPED, "Digits tab, by caption"),
    dcgan: str = _demo_model("dcgan", DCGAN_SHIPPED, "Latent walk tab"),
    cyclegan: str = _demo_model("cyclegan", CYCLEGAN_SHIPPED, "Translate tab"),
    nextframe: str = _demo_model("nextframe", NEXTFRAME_SHIPPED, "Next frame tab"),
    host: str = typer.Option("127.0.0.1", "--host", metavar="ADDRESS", help="Address to serve on (0.0.0.0: every "
                             "network interface). There is never a public share link."),
    port: int = typer.Option(7860, "--port", min=1, max=65535, metavar="PORT", help="Port to serve on."),
) -> None:
    """A local web page with a tab per app (Gradio, offline): upscale, digits, latent walk, translate, next frame.

    Each tab opens its model on first use; Ctrl-C stops the page. Needs the demo extra: pip install 'ganapps[demo]'.
    """
    from ganapps import demo as page

    page.serve(page.DemoModels(superres, cgan, cgan_text, dcgan, cyclegan, nextframe), host, port)


def main() -> None:
    """Console entry point: usage and user errors exit 2 with one line on stderr, never a traceback."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        app(standalone_mode=False)
    except click_errors.NoArgsIsHelpError as error:
        error.show()
        sys.exit(0)
    except click_errors.UsageError as error:
        hint = f" (see '{error.ctx.command_path} --help')" if error.ctx else ""
        typer.echo(f"Error: {error.format_message()}{hint}", err=True)
        sys.exit(2)
    except click_errors.ClickException as error:
        typer.echo(f"Error: {error.format_message()}", err=True)
        sys.exit(error.exit_code)
    except Interrupted as error:
        typer.echo(f"Interrupted: {error}", err=True)
        sys.exit(130)
    except ParameterError as error:  # the library names its parameter; the command line shows the flag
        typer.echo(f"Error: {error.as_flag()}", err=True)
        sys.exit(2)
    except GanappsError as error:
        typer.echo(f"Error: {error}", err=True)
        sys.exit(2)
    except BaseException as error:  # Ctrl-C, as Click's Abort or raised while it unwound
        if not interrupted_by_user(error):
            raise
        typer.echo("Interrupted.", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
