"""The command line: help, info, a short real run, and one-line errors for bad input."""

import json

import pytest
from conftest import run_cli


def assert_one_line_error(done, *fragments):
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "Error" in line]
    assert errors, done.stderr
    for fragment in fragments:
        assert fragment in done.stderr, done.stderr


def test_help_lists_apps_and_info_reports_strategy():
    done = run_cli("--help")
    assert done.returncode == 0 and "toy" in done.stdout and "info" in done.stdout
    # Command lists show a whole first sentence: "et al." does not end it (Click's own short help stopped there).
    assert "DCGAN (Radford et al. 2016): train on" in done.stdout
    assert "CycleGAN (Zhu et al. 2017): unpaired" in done.stdout
    assert "Semi-supervised learning (Salimans et al. 2016): a" in run_cli("cgan", "--help").stdout
    info = run_cli("info", "--json")
    assert info.returncode == 0, info.stderr
    details = json.loads(info.stdout)
    assert details["keras_backend"] == "tensorflow"
    assert details["auto_strategy"] == "default" and details["auto_jit"] is False


def test_short_toy_run_writes_a_whole_run_directory(tmp_path):
    out = tmp_path / "toy"
    done = run_cli("toy", "train", "--dataset", "ring", "--epochs", "1", "--steps", "30", "--out", out)
    assert done.returncode == 0, done.stderr
    assert "modes" in done.stdout
    for path in ("config.json", "checkpoints/checkpoint.npz", "samples/epoch_0001.png", "history.csv",
                 "metrics.json", "export/toy/1/saved_model.pb"):
        assert (out / path).exists(), path
    assert (out / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert any((out / "logs").rglob("events.out.tfevents*"))
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["modes_total"] == 8
    again = run_cli("toy", "train", "--dataset", "ring", "--epochs", "1", "--steps", "30", "--out", out)
    assert_one_line_error(again, "--resume")


@pytest.mark.parametrize("args, fragments", [
    (["toy", "train", "--batch-size", "0"], ["--batch-size must be at least 1"]),
    (["toy", "train", "--batch-size", "255", "--pack", "2"], ["--batch-size 255 must be a multiple of pack 2"]),
    (["toy", "train", "--ema", "1.5"], ["--ema"]),
    (["toy", "train", "--strategy", "multi-worker"], ["TF_CONFIG"]),
    (["toy", "train", "--dataset", "moon"], ["--dataset"]),
    (["toy", "train", "--loss", "magic"], ["--loss"]),
    (["toy", "benchmark", "--runs", "0"], ["--runs"]),
    (["nosuchapp"], ["nosuchapp"]),
])
def test_bad_input_gives_a_clear_error(tmp_path, args, fragments):
    done = run_cli(*args, "--out", tmp_path / "x") if args[0] == "toy" else run_cli(*args)
    assert_one_line_error(done, *fragments)
