"""In-process CLI helpers shared by the app tests."""

import sys

import pytest
from typer.testing import CliRunner

from ganapps import cli


def invoke(*args):
    """Run a command in this process (no TensorFlow start-up); user errors surface as exceptions."""
    result = CliRunner().invoke(cli.app, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def main_error(monkeypatch, capsys, *args) -> str:
    """Run the console entry point in this process; assert a one-line error and exit 2, return the line."""
    monkeypatch.setattr(sys, "argv", ["ganapps", *map(str, args)])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), err
    return lines[0]
