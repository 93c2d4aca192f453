"""CLI helpers shared by the app tests: in-process commands, their one-line errors, exported models run elsewhere."""

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


_RUN_EXPORT = """
import sys, numpy as np
folder, format, inputs, output = sys.argv[1], sys.argv[2], dict(np.load(sys.argv[3])), sys.argv[4]
if format == "litert":
    from ai_edge_litert.interpreter import Interpreter
    runner = Interpreter(folder + "/model.tflite").get_signature_runner("serving_default")
    result = next(iter(runner(**inputs).values()))
else:
    import onnxruntime
    result = onnxruntime.InferenceSession(folder + "/model.onnx").run(None, inputs)[0]
np.save(output, result)
"""


def run_in_fresh_process(folder, format: str, inputs: dict, tmp_path):
    """The output of an exported `model.tflite` (LiteRT interpreter) or `model.onnx` (onnxruntime) in `folder`,
    computed in a new Python process that imports neither TensorFlow nor Keras."""
    import subprocess

    import numpy as np

    np.savez(tmp_path / "inputs.npz", **inputs)
    subprocess.run([sys.executable, "-c", _RUN_EXPORT, str(folder), format, str(tmp_path / "inputs.npz"),
                    str(tmp_path / "output.npy")], check=True, capture_output=True)
    return np.load(tmp_path / "output.npy")
