"""The models in saved_models/: every inference command works with no model named, from any folder; each export
describes itself in assets.extra/serving.json; together they stay small enough to ship in the wheel."""

import json

import numpy as np
import pytest
from cli_helpers import invoke
from conftest import run_cli
from PIL import Image

from ganapps.core.config import shipped_model_path

SHIPPED = ["dcgan_glyphs", "cgan_label", "cgan_text", "cyclegan_synthetic/a2b", "cyclegan_synthetic/b2a",
           "nextframe_mmnist", "nextframe_mmnist_lp", "superres_x4", "superres_x4_real"]


def test_the_shipped_models_stay_under_60_mb_and_describe_their_inputs():
    root = shipped_model_path("")
    assert sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) < 60e6
    for name in SHIPPED:
        assert (root / name / "1" / "saved_model.pb").is_file(), name
        info = json.loads((root / name / "1" / "assets.extra" / "serving.json").read_text())
        assert info["format"] == "saved_model" and info["output"]["range"], name
    assert json.loads((root / "cgan_label/1/assets.extra/serving.json").read_text())["classes"] == list("0123456789")
    assert len(json.loads((root / "cgan_text/1/assets.extra/serving.json").read_text())["vocabulary"]) > 20


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):
    """A folder with no runs in it, as after a fresh install."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_cgan_generates_a_label_and_a_caption_with_no_model_named(elsewhere):
    assert "16 images: sevens.png" in invoke("cgan", "generate", "--label", "7", "--out", "sevens.png").stdout
    assert np.asarray(Image.open("sevens.png")).shape == (4 * 34 + 2, 4 * 34 + 2, 3)
    invoke("cgan", "generate", "--text", "a large green 3", "--num", "4", "--out", "green.png")  # cgan_text
    green = np.asarray(Image.open("green.png"), np.float32)
    inked = green[(green.max(axis=-1) > 100) & (green.min(axis=-1) < 150)]  # glyph pixels, not the white lines
    assert inked.size and (inked[:, 1] > inked[:, 0]).mean() > 0.8 and (inked[:, 1] > inked[:, 2]).mean() > 0.8


def test_dcgan_samples_and_cyclegan_translates_with_no_model_named(elsewhere):
    invoke("dcgan", "sample", "--num", "4", "--out", "g.png")
    assert Image.open("g.png").size[0] > 64
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 80, 3), np.uint8)).save("scene.png")
    assert "scene.png -> scene_a2b.png" in invoke("cyclegan", "translate", "scene.png").stdout
    assert Image.open("scene_a2b.png").size == (80, 48)  # translated at 64 px and resized back


def test_nextframe_predicts_a_clip_with_no_model_named(elsewhere):
    frames = []
    for t in range(12):
        frame = np.zeros((64, 64), np.uint8)
        frame[10 + 2 * t:20 + 2 * t, 8 + 3 * t:18 + 3 * t] = 255
        frames.append(Image.fromarray(frame))
    frames[0].save("clip.gif", save_all=True, append_images=frames[1:], duration=100)
    assert "5 predicted frames after 10 context frames (frames 3-12 of 12)" in invoke(
        "nextframe", "predict", "clip.gif", "--steps", "5").stdout
    predicted = np.asarray(Image.open(elsewhere / "prediction" / "frame_01.png"))
    assert predicted.shape[:2] == (64, 64) and predicted.max() > 100  # the square is still drawn


def test_nextframe_shipped_models_beat_blank_in_a_fresh_process(elsewhere):
    """The shipped model and its Lp-only twin load in a new process (`evaluate` with no model named); the model
    scores below a blank frame at every horizon of a few held-out sequences, and is the sharper of the two."""
    done = run_cli("nextframe", "evaluate", "--sequences", 8, "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.splitlines()[-1])
    assert summary["baseline"] == "lp-only" and summary["beats_blank_at_every_horizon"]
    assert summary["mse_per_frame"] < 0.8 * np.mean(summary["blank_mse_per_frame_by_horizon"])
    assert summary["sharpness"] > summary["baseline_sharpness"]

def test_superres_shipped_models_load_in_a_fresh_process_and_the_real_one_restores_photos(elsewhere, shared_data):
    """`upscale` with no model named uses the real model; on realistically degraded Set5 it beats bicubic and the
    psnr model beside it (README's table), in a new process."""
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (20, 24, 3), np.uint8)).save("photo.png")
    assert "photo.png -> photo_x4.png" in invoke("superres", "upscale", "photo.png").stdout
    assert Image.open("photo_x4.png").size == (96, 80)
    done = run_cli("superres", "evaluate", "real", "--degradation", "realistic", "--beside", "psnr", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.splitlines()[-1])
    assert summary["model"].endswith("superres_x4_real") and summary["beside"].endswith("superres_x4")
    assert summary["psnr"] > summary["bicubic_psnr"] + 0.3 and summary["psnr"] > summary["beside_psnr"] + 0.3
    assert summary["ssim"] > summary["bicubic_ssim"] and summary["ssim"] > summary["beside_ssim"]
