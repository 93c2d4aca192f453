"""The command line: help, info, a short real run, and one-line errors for bad input."""

import json

import numpy as np
import pytest
from cli_helpers import invoke, main_error
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


# Each app's quality figure during training (--eval-every) is what its own `evaluate` reports for the export that
# --keep-best wrote: the same measure on the same held-out data, on the best epoch's generator.
QUALITY_RUNS = {
    "dcgan": (["--width", "4", "--latent-dim", "8", "--batch-size", "16"],
              lambda lab, export, run: lab.evaluate(export, data="glyphs", num=500).fid),
    "cyclegan": (["--image-size", "32", "--width", "4", "--blocks", "1", "--batch-size", "2"],
                 lambda lab, export, run: np.mean([s.psnr for s in lab.evaluate(export, "synthetic", num=50).scores
                                                   if s.model != "identity"])),
    "superres": (["--blocks", "1", "--filters", "8", "--patch", "8", "--batch-size", "4"],
                 lambda lab, export, run: lab.evaluate(export).summary["psnr"]),
    "nextframe": (["--image-size", "32", "--context", "2", "--width", "4", "--sequences", "8", "--batch-size", "4"],
                  lambda lab, export, run: np.mean([s.mse_per_frame for s in lab.evaluate(
                      export, data=run["data"], digits=run["digits"], sequences=50).of("model")])),
    "cgan": (["--latent-dim", "8", "--width", "4", "--batch-size", "8"],
             lambda lab, export, run: next(r["generated"] for r in lab.evaluate(export, num=500).rows
                                           if r["scope"] == "all")),
}


@pytest.mark.slow
@pytest.mark.parametrize("app", sorted(QUALITY_RUNS))
def test_eval_every_figure_is_the_apps_evaluate_of_the_kept_export(app, tmp_path):
    import importlib

    flags, evaluate = QUALITY_RUNS[app]
    out = tmp_path / "run"
    result = invoke(app, "train", *flags, "--epochs", "2", "--steps", "2", "--eval-every", "1", "--keep-best",
                    "--strategy", "default", "--out", out)
    best = json.loads((out / "best.json").read_text())
    assert f"(epoch {best['epoch']}, the best {best['key']}" in result.stdout
    rows = (out / "history.csv").read_text().splitlines()
    assert len(rows) == 3 and f"quality_{best['key']}" in rows[0].split(",")
    lab = importlib.import_module(f"ganapps.apps.{app}.lab")
    run = json.loads((out / "config.json").read_text())["config"]
    assert evaluate(lab, out / "export" / app, run) == pytest.approx(best["value"], rel=1e-3, abs=1e-4)


def test_eval_every_on_toy_and_the_refusals(tmp_path, monkeypatch, capsys):
    from PIL import Image

    out = tmp_path / "toy"
    result = invoke("toy", "train", "--dataset", "ring", "--epochs", "3", "--steps", "2", "--eval-every", "2",
                    "--strategy", "default", "--out", out)
    header, *rows = (out / "history.csv").read_text().splitlines()
    modes = header.split(",").index("quality_modes")
    assert [row.split(",")[modes] == "nan" for row in rows] == [True, False, False]  # epoch 2 and the last
    assert "the best" not in result.stdout and not (out / "best.json").exists()
    assert "--keep-best needs eval_every" in main_error(monkeypatch, capsys, "toy", "train", "--keep-best", "--out",
                                                        tmp_path / "x")
    for domain in "AB":
        (tmp_path / domain).mkdir()
        for k in range(2):
            Image.new("RGB", (32, 32), (40 * k, 0, 0)).save(tmp_path / domain / f"{k}.png")
    error = main_error(monkeypatch, capsys, "cyclegan", "train", "--domain-a", tmp_path / "A", "--domain-b",
                       tmp_path / "B", "--image-size", 32, "--eval-every", 1, "--out", tmp_path / "y")
    assert "--eval-every" in error and "no aligned held-out pairs" in error
