"""The dcgan app: networks, data sources, and every command on one tiny run trained through the CLI."""

import json
import os
import re
import shutil
import urllib.error
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from cli_helpers import invoke, main_error
from conftest import run_cli
from ganapps.core import imagesets as D
from ganapps.apps.dcgan import lab, models
from ganapps.apps.dcgan.app import APP, build, prepare
from ganapps.apps.dcgan.recipe import Config
from PIL import Image

from ganapps.core import runs
from ganapps.core.errors import GanappsError, ParameterError
from ganapps.core.export import KerasFunction, ServingFunction
from ganapps.core.glyphs import GLYPH_COUNT, render_glyphs
from ganapps.core.images import to_uint8
from ganapps.core.metrics import compute_features, frechet_distance

TINY = ["--width", "4", "--latent-dim", "8", "--batch-size", "16"]
FIRST_RECIPE = ["--loss", "non-saturating", "--r1-weight", 0, "--ema", 0, "--no-minibatch-std", "--g-lr", 4e-4,
                "--d-lr", 4e-4, "--lr-decay-start", 1]


# ---------------------------------------------------------------------------------------------------- networks


@pytest.mark.parametrize("size, channels", [(32, 1), (32, 3), (64, 1), (64, 3)])
def test_network_shapes(size, channels):
    g = models.generator(size, channels, latent_dim=8, width=4)
    images = g(np.random.default_rng(0).standard_normal((3, 8)).astype(np.float32))
    assert images.shape == (3, size, size, channels)
    assert float(tf.reduce_min(images)) >= -1.0 and float(tf.reduce_max(images)) <= 1.0
    d = models.discriminator(size, channels, width=4)
    assert d(images).shape == (3, 1)
    convs = [layer for layer in g.layers if isinstance(layer, keras.layers.Conv2DTranspose)]
    assert len(convs) == models.stages(size) == {32: 3, 64: 4}[size]
    assert not [layer for layer in d.layers if isinstance(layer, keras.layers.Dense) and layer.name != "logit"]
    packed = models.discriminator(size, channels, width=4, pack=2, features=True)
    logits, features = packed(tf.concat([images, images], axis=-1))
    # Features: the last 4x4 map, of width * 2 ** (stages - 1) filters.
    assert logits.shape == (3, 1) and features.shape == (3, 4 * 4 * 4 * 2 ** (models.stages(size) - 1))


def test_odd_sizes_are_refused():
    with pytest.raises(ParameterError, match="^image_size 28: .*resized to 32"):
        models.generator(28)
    with pytest.raises(ParameterError, match="^channels 2: choose one of 1, 3"):
        models.discriminator(32, channels=2)
    with pytest.raises(ParameterError, match="^image_size 48"):
        Config(image_size=48)
    with pytest.raises(ParameterError, match="^latent_dim must be at least 1"):
        Config(latent_dim=0)
    assert Config().channels is None  # decided by the data when training starts


@pytest.mark.parametrize("penalty", [{}, {"gp_weight": 10.0}, {"r1_weight": 1.0}])
def test_batch_norm_leaves_the_discriminator_under_a_gradient_penalty(penalty):
    options = APP.options(loss="wasserstein", steps_per_execution=1, **{"r1_weight": 0.0, **penalty})
    gan = build(Config(channels=1, width=4, latent_dim=8), options)
    norms = [layer for layer in gan.discriminator.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(norms) == (0 if penalty else models.stages(32) - 1)
    assert all(layer.synchronized for layer in gan.generator.layers
               if isinstance(layer, keras.layers.BatchNormalization))
    if penalty.get("gp_weight"):  # one WGAN-GP step trains and reports the penalty
        batch = tf.constant(np.random.default_rng(0).uniform(-1, 1, (8, 32, 32, 1)), tf.float32)
        logs = gan.train_on_batch(batch, return_dict=True)
        assert np.isfinite(logs["gp"]) and logs["gp"] >= 0


# ---------------------------------------------------------------------------------------------------- data


def test_glyphs_are_balanced_labelled_and_repeatable():
    images, labels = render_glyphs(count=500, seed=3)
    assert images.shape == (500, 32, 32, 1) and images.dtype == np.uint8
    assert np.array_equal(np.bincount(labels), np.full(10, 50))
    assert images.max() == 255 and images.mean() < 60  # white strokes on black
    assert (images.reshape(500, -1) > 128).sum(1).min() > 10  # every image has a glyph
    again, _ = render_glyphs.__wrapped__(500, 3)
    assert np.array_equal(images, again)
    assert not np.array_equal(images, render_glyphs(count=500, seed=4)[0])
    # Same digit, different draws: the augmentation varies them.
    assert np.abs(images[0].astype(int) - images[10].astype(int)).mean() > 5
    full = D.load()
    train, held_out = D.split(full)
    assert len(full) == GLYPH_COUNT and (len(train), len(held_out)) == (10_000, 2_000)
    assert full.channels == 1 and D.load("glyphs", 64, 3).images.shape[1:] == (64, 64, 3)


def write_images(folder: Path, count: int, grey: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for k in range(count):
        shape = (40 + k, 30 + 2 * k) if grey else (40 + k, 30 + 2 * k, 3)
        Image.fromarray(rng.integers(0, 255, shape, dtype=np.uint8)).save(folder / f"img{k}.png")
    return folder


def test_folders_crop_resize_and_keep_colour(tmp_path, monkeypatch):
    colour = D.load(str(write_images(tmp_path / "rgb", 4)), 16)
    assert colour.images.shape == (4, 16, 16, 3) and colour.labels is None
    grey = D.load(str(write_images(tmp_path / "grey", 3, grey=True)), 32)
    assert grey.images.shape == (3, 32, 32, 1)
    assert D.load(str(tmp_path / "grey"), 32, channels=3).images.shape == (3, 32, 32, 3)
    monkeypatch.chdir(tmp_path)  # a run records the folder's absolute path and the channels the data decided
    assert prepare(Config(data="grey", image_size=16)) == Config(str(tmp_path / "grey"), 16, 1)
    assert prepare(Config(data="rgb", image_size=16)).channels == 3


def test_bad_folders_name_the_problem(tmp_path):
    with pytest.raises(GanappsError, match="no such folder"):
        D.load(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(GanappsError, match="no image files"):
        D.load(str(tmp_path / "empty"))
    bad = write_images(tmp_path / "bad", 2) / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(GanappsError, match="broken.png: not a readable image"):
        D.load(str(tmp_path / "bad"))


def test_tfds_mock_and_offline_failure(tmp_path, monkeypatch):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=12):
        mnist = D.load("tfds:mnist", 32)
    assert mnist.images.shape == (12, 32, 32, 1) and mnist.images.dtype == np.uint8
    assert mnist.labels.shape == (12,) and mnist.source == "tfds:mnist"
    with pytest.raises(GanappsError, match=r"not in the local TensorFlow Datasets folder .*glyphs"):
        D.load("tfds:mnist", download=False, data_dir=str(tmp_path))

    def offline(*args, **kwargs):
        raise ConnectionError("Name or service not known\nsecond line")

    monkeypatch.setattr(tfds, "load", offline)
    with pytest.raises(GanappsError, match="could not be downloaded") as caught:
        D.load("tfds:celeb_a", 64, data_dir=str(tmp_path))
    assert "\n" not in str(caught.value) and "image folder" in str(caught.value)
    monkeypatch.undo()
    with pytest.raises(GanappsError, match="no such TensorFlow Datasets name"):
        D.load("tfds:no_such_set_at_all")


# ---------------------------------------------------------------------------------------------------- a tiny run


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """Two short epochs of a tiny DCGAN on the glyphs, through the real command line (enough steps for the
    batch-norm moving statistics to leave their initial values, so that images vary with the latent)."""
    out = tmp_path_factory.mktemp("dcgan") / "run"
    # The first recipe's loss and rates: in 80 steps they give a generator whose images follow the latent closely,
    # which the inversion and editing tests need (the default recipe's R1 and EMA need its 12,000 steps for that).
    done = run_cli("dcgan", "train", "--epochs", "2", "--steps", "40", *TINY, *FIRST_RECIPE, "--out", out)
    assert done.returncode == 0, done.stderr
    return out


def test_the_run_records_the_precision_the_recipe_s_auto_chose(run):
    """The recipe trains with --mixed-precision auto; config.json keeps what it resolved to on this machine, so a
    resume elsewhere (`runs.resume`) trains in the same precision."""
    from ganapps.core.strategy import cpu_has_native_bfloat16

    options = json.loads((run / "config.json").read_text())["options"]
    assert options["mixed_precision"] == ("bfloat16" if cpu_has_native_bfloat16() else "off")


@pytest.fixture(scope="module", autouse=True)
def private_cache(tmp_path_factory):
    """The digit classifier is trained once for this module, in a cache of its own."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
        yield


def test_training_writes_samples_checkpoint_and_export(run):
    for path in ("config.json", "checkpoints/checkpoint.npz", "samples/epoch_0001.png", "samples/epoch_0002.png",
                 "history.csv", "export/dcgan/1/saved_model.pb"):
        assert (run / path).exists(), path
    config = json.loads((run / "config.json").read_text())
    assert config["config"] == dict(data="glyphs", image_size=32, channels=1, latent_dim=8, width=4,
                                    minibatch_std=False)
    assert "extra" not in config["options"]
    assert runs.read_run(run, APP).config == Config("glyphs", 32, 1, 8, 4, minibatch_std=False)
    grid = np.asarray(Image.open(run / "samples/epoch_0002.png"))
    assert grid.shape == (8 * 34 + 2, 8 * 34 + 2)  # 64 fixed latents, 8 x 8 tiles of 32 px and 2 px gutters
    # The export and the checkpoint hold the same generator.
    from_checkpoint = lab.Generator.from_keras(runs.load(APP, run).sampling_generator, "checkpoint")
    from_export = runs.open_model(APP, run)
    assert isinstance(from_export.function, ServingFunction) and from_export.image_shape == (32, 32, 1)
    assert from_export.latent_dim == from_checkpoint.latent_dim == 8
    np.testing.assert_allclose(lab.sample(from_export, 8, seed=5), lab.sample(from_checkpoint, 8, seed=5),
                               atol=1e-5)


def test_a_run_killed_while_exporting_opens_from_its_checkpoint(run, tmp_path):
    """An interrupted export leaves only a dot-named staging folder: the run is then opened from its checkpoint."""
    killed = tmp_path / "killed"
    shutil.copytree(run, killed, ignore=shutil.ignore_patterns("export"))
    (killed / "export" / "dcgan" / ".1.staging.x" / "variables").mkdir(parents=True)
    (killed / "export" / "dcgan" / ".1.staging.x" / "saved_model.pb").write_bytes(b"half")
    generator = runs.open_model(APP, killed)
    assert generator.source == str(killed) and isinstance(generator.function, KerasFunction)  # not the export
    assert isinstance(runs.open_model(APP, run).function, ServingFunction)  # the intact run opens its export
    np.testing.assert_allclose(lab.sample(generator, 4, seed=1), lab.sample(run, 4, seed=1), atol=1e-5)


def test_sample_writes_a_grid(run, tmp_path):
    out = tmp_path / "grid.png"
    result = invoke("dcgan", "sample", run, "--num", "16", "--out", out)
    assert "16 samples" in result.stdout
    assert np.asarray(Image.open(out)).shape == (4 * 34 + 2, 4 * 34 + 2)
    invoke("dcgan", "sample", run / "export" / "dcgan", "--num", "3", "--out", tmp_path / "from_export.png")
    assert (tmp_path / "from_export.png").exists()
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # readable by others as the umask allows, not 0o600


@pytest.mark.parametrize("mode", ["linear", "slerp"])
def test_interpolation_is_smooth_and_ends_on_its_end_points(run, mode):
    generator = runs.open_model(APP, run)
    path = lab.interpolate(generator, steps=16, mode=mode, rows=2, seed=7)
    assert path.frames.shape == (2, 16, 32, 32, 1)
    ends = generator.latents(4, seed=7)
    np.testing.assert_allclose(path.frames[:, 0], generator.generate(ends[0::2]), atol=1e-5)
    np.testing.assert_allclose(path.frames[:, -1], generator.generate(ends[1::2]), atol=1e-5)
    for row in path.frames:
        steps = np.sqrt(((row[1:] - row[:-1]) ** 2).sum(axis=(1, 2, 3)))
        assert steps.max() <= 3 * steps.mean(), steps
        assert steps.min() > 0
    if mode == "slerp":  # the great circle keeps latent norms between the end points' norms
        norms = np.linalg.norm(path.latents[0], axis=1)
        assert norms.min() >= min(norms[0], norms[-1]) - 1e-4


def test_interpolate_command_writes_strip_and_gif(run, tmp_path):
    out = tmp_path / "walk.png"
    invoke("dcgan", "interpolate", run, "--steps", "5", "--mode", "slerp", "--rows", "2", "--out", out)
    assert np.asarray(Image.open(out)).shape == (2 * 34 + 2, 5 * 34 + 2)
    with Image.open(tmp_path / "walk.gif") as gif:
        assert gif.format == "GIF" and gif.size == (4 * 36, 4 * (2 * 34 + 2))  # one column of rows, 4x
    # Distinct frames play forth and back (Pillow merges identical neighbours, as a barely trained model makes).
    ramp = np.linspace(-1, 1, 6)[None, :, None, None, None] * np.ones((1, 6, 8, 8, 1))
    lab.write_interpolation(ramp, tmp_path / "ramp.png", tmp_path / "ramp.gif", scale=1)
    with Image.open(tmp_path / "ramp.gif") as gif:
        shades = []
        for k in range(gif.n_frames):
            gif.seek(k)
            shades.append(int(np.asarray(gif.convert("L"))[4, 4]))
    assert shades == [0, 51, 102, 153, 204, 255, 204, 153, 102, 51]


def test_invert_recovers_a_generated_image(run):
    generator = runs.open_model(APP, run)
    target = generator.generate(generator.latents(1, seed=42))[0]
    result = lab.invert(run, target, features="discriminator", steps=150, restarts=2, seed=0)
    assert result.distance < 0.1 * result.initial_distance, result
    assert result.reconstruction.shape == (32, 32, 1)


def test_invert_command_reads_a_png_and_prints_the_distance(run, tmp_path):
    target = tmp_path / "target.png"
    invoke("dcgan", "sample", run, "--num", "1", "--seed", "42", "--out", target)
    assert np.asarray(Image.open(target)).shape == (32, 32)  # one sample is saved bare, without a grid gutter
    out = tmp_path / "reconstruction.png"
    result = invoke("dcgan", "invert", target, run, "--features", "pixels", "--steps", "60", "--out", out)
    distance, start = map(float, re.search(r"distance ([\d.]+) .*at the start ([\d.]+)", result.stdout,
                                           re.S).groups())
    assert distance < start
    assert np.asarray(Image.open(out)).shape == (36, 2 * 34 + 2)


def test_evaluate_json_and_extractors(run, tmp_path):
    result = invoke("dcgan", "evaluate", run, "--json", "--num", "60")
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    scores = json.loads(lines[0])
    assert scores["num_samples"] == 60 and scores["extractor"] == "digits" and scores["data"] == "glyphs"
    assert scores["fid"] > 0 and np.isfinite(scores["kid"])
    assert lab.digit_classifier_path().is_file()  # cached for the next evaluation
    # Held-out glyphs score far better than this barely trained generator on the same features.
    extractor = lab.digit_extractor()
    _, held_out = D.split(D.load())
    real = held_out.images.astype(np.float32) / 127.5 - 1
    half_a, half_b, fake = (compute_features(extractor, x, value_range=(-1, 1))[0]
                            for x in (real[:300], real[1000:1300], lab.sample(run, 300)))
    assert frechet_distance(half_a, half_b) < 0.2 * frechet_distance(half_a, fake)


def test_a_run_from_before_the_app_spec_still_opens_and_evaluates(run, tmp_path):
    """Runs written before the App spec kept their config in options.extra: they sample and evaluate on their data."""
    old = tmp_path / "old"
    shutil.copytree(run, old, ignore=shutil.ignore_patterns("export"))
    config = json.loads((old / "config.json").read_text())
    values = config.pop("config")
    assert values.pop("minibatch_std") is False  # an old run has no such field: upgrade fills in its behaviour
    config["options"]["extra"] = {"dcgan": {**values, "data": "tfds:no_such_set_at_all"}}
    (old / "config.json").write_text(json.dumps(config))
    assert runs.read_run(old, APP).config == Config("tfds:no_such_set_at_all", 32, 1, 8, 4, minibatch_std=False)
    np.testing.assert_allclose(lab.sample(old, 4, seed=1), lab.sample(run, 4, seed=1), atol=1e-5)
    with pytest.raises(GanappsError, match="no such TensorFlow Datasets name"):  # it reads the run's data
        lab.evaluate(old, num=20)
    assert lab.evaluate(old, data="glyphs", num=20).data == "glyphs"


def test_export_command(run, tmp_path):
    result = invoke("dcgan", "export", run, "--out", tmp_path / "served", "--version", "3")
    assert (tmp_path / "served" / "3" / "saved_model.pb").exists() and "exported" in result.stdout
    np.testing.assert_allclose(lab.sample(tmp_path / "served", 4), lab.sample(run, 4), atol=1e-5)


# ---------------------------------------------------------------------------------------------------- errors


def test_bad_input_is_one_line(run, tmp_path, monkeypatch, capsys):
    assert "no such folder" in main_error(monkeypatch, capsys, "dcgan", "train", "--data", tmp_path / "missing",
                                          "--out", tmp_path / "a")
    (tmp_path / "empty").mkdir()
    assert "no image files" in main_error(monkeypatch, capsys, "dcgan", "train", "--data", tmp_path / "empty",
                                          "--out", tmp_path / "b")
    assert "--image-size 28" in main_error(monkeypatch, capsys, "dcgan", "train", "--image-size", "28",
                                           "--out", tmp_path / "c")
    assert "neither a dcgan run directory" in main_error(monkeypatch, capsys, "dcgan", "sample", tmp_path)
    assert "no such run directory" in main_error(monkeypatch, capsys, "dcgan", "sample", tmp_path / "nope")
    assert "--data must be given" in main_error(monkeypatch, capsys, "dcgan", "evaluate", run / "export" / "dcgan")
    assert "--columns must be at least 1" in main_error(monkeypatch, capsys, "dcgan", "sample", run, "--columns", "0")
    assert "--num must be at least 1" in main_error(monkeypatch, capsys, "dcgan", "sample", run, "--num", "0")
    assert "--learning-rate" in invoke("dcgan", "invert", "--help").stdout
    assert "is a folder" in main_error(monkeypatch, capsys, "dcgan", "sample", run, "--out", tmp_path / "empty")
    assert "unknown image type '.xyz'" in main_error(monkeypatch, capsys, "dcgan", "sample", run, "--out",
                                                     tmp_path / "grid.xyz")
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    assert "corrupt.png: not a readable image" in main_error(monkeypatch, capsys, "dcgan", "invert", corrupt, run,
                                                             "--features", "pixels")
    # Offline: no InceptionV3 weights in the Keras cache and no network.
    import keras.src.utils.file_utils as file_utils

    def refuse(*args, **kwargs):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(file_utils, "urlretrieve", refuse)
    line = main_error(monkeypatch, capsys, "dcgan", "evaluate", run, "--extractor", "inception", "--num", "10")
    assert re.search(r"extractor '?digits", line), line  # names the offline alternative
    assert "no such Keras model file" in main_error(monkeypatch, capsys, "dcgan", "evaluate", run, "--extractor",
                                                    tmp_path / "none.keras")


def test_library_errors_name_the_parameter(run):
    z = np.zeros(8, np.float32)
    with pytest.raises(ParameterError, match="^steps must be at least 2"):
        lab.path_latents(z, z, 1)
    with pytest.raises(ParameterError, match="^mode 'cubic'"):
        lab.interpolate(run, mode="cubic")
    with pytest.raises(ParameterError, match="^features 'edges'"):
        lab.invert(run, np.zeros((32, 32, 1), np.float32), features="edges")
    with pytest.raises(ParameterError, match="^target has shape"):
        lab.invert(run, np.zeros((16, 16, 1), np.float32), features="pixels")
    with pytest.raises(ParameterError, match="^data must be given"):
        lab.evaluate(runs.open_model(APP, run))


def test_corrupt_image_fails_cleanly_in_a_fresh_process(tmp_path):
    folder = write_images(tmp_path / "photos", 2)
    (folder / "zz.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    done = run_cli("dcgan", "train", "--data", folder, "--out", tmp_path / "run", "--epochs", "1", "--steps", "1")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if "Error" in line]  # TensorFlow's start-up notes aside
    assert len(errors) == 1 and "zz.jpg: not a readable image" in errors[0], done.stderr


def test_every_command_explains_itself():
    for command, words in {"train": ["--data", "--image-size", "--loss", "--gp-weight", "tfds:NAME"],
                           "sample": ["--num", "--out"], "interpolate": ["--mode", "slerp", "GIF"],
                           "invert": ["TARGET", "--features", "Adam"], "evaluate": ["--extractor", "--json", "FID"],
                           "edit": ["--strokes", "--mask", "--keep-weight", "GIF", "stroke distance"],
                           "export": ["SavedModel", "--version"]}.items():
        text = invoke("dcgan", command, "--help").stdout
        for word in words:
            assert word in text, (command, word)


# ---------------------------------------------------------------------------------------------------- arithmetic


def linear_generator(latent_dim=4, seed=0):
    """G(z) = W z + b as 8x8 images: for it A - B + C on mean latents is A - B + C on the mean images."""
    z = keras.Input((latent_dim,))
    dense = keras.layers.Dense(64, kernel_initializer=keras.initializers.RandomNormal(seed=seed),
                               bias_initializer=keras.initializers.RandomNormal(seed=seed + 1))
    return lab.Generator.from_keras(keras.Model(z, keras.layers.Reshape((8, 8, 1))(dense(z))), "linear")


def test_arithmetic_on_a_linear_generator_equals_the_hand_computation():
    generator = linear_generator()
    result = lab.arithmetic(generator, "0,1,2", "#3", "4,5", variants=2, noise=0.25, pool=10, seed=7, classify=False)
    assert [t.indices.tolist() for t in result.terms] == [[0, 1, 2], [3], [4, 5]]
    images = generator.generate(generator.latents(10, seed=7))
    by_hand = images[[0, 1, 2]].mean(0) - images[3] + images[[4, 5]].mean(0)
    np.testing.assert_allclose(result.results[0], by_hand, atol=1e-5)
    np.testing.assert_allclose(result.means[1], images[3], atol=1e-6)
    assert result.results.shape == (3, 8, 8, 1) and not np.allclose(result.results[1], result.results[0])
    grid, columns = result.grid()
    assert columns == 4 and grid.shape == (16, 8, 8, 1)  # rows A, B, C (padded), results (padded)


def test_arithmetic_terms_are_checked():
    generator = linear_generator()
    with pytest.raises(ParameterError, match="b.*indices must lie in 0..9"):
        lab.arithmetic(generator, "#1", "10,11", "#2", pool=10, classify=False)
    with pytest.raises(ParameterError, match="a.*give a digit"):
        lab.arithmetic(generator, "seven", "#1", "#2", pool=10)
    with pytest.raises(ParameterError, match="classify"):
        lab.arithmetic(generator, "7:thick", "#1", "#2", pool=10, classify=False)


def test_arithmetic_command_writes_the_grid_and_reads_the_results(run, tmp_path):
    out = tmp_path / "arith.png"
    summary = json.loads(invoke("dcgan", "arithmetic", run, "--a", "0,1", "--b", "#2", "--c", "3,4", "--variants", 4,
                                "--pool", 50, "--out", out, "--json").stdout)
    assert summary["indices"] == {"0,1": [0, 1], "#2": [2], "3,4": [3, 4]}
    assert len(summary["result_digits"]) == 5 and all(0 <= d <= 9 for d in summary["result_digits"])
    assert Image.open(out).size[0] > 5 * 32  # five results side by side
    images = lab.sample(run, 50, seed=0)
    assert summary["ink"]["b"] == pytest.approx(float(lab.ink(images[2:3])[0]), abs=1e-4)


# ---------------------------------------------------------------------------------------------------- edit


def half_of_a_sample(run) -> tuple[np.ndarray, np.ndarray]:
    """Strokes the tiny model can make: the left half of its sample of seed 42 (the image, and the half's mask)."""
    generator = runs.open_model(APP, run)
    mask = np.zeros((32, 32), np.float32)
    mask[:, :16] = 1.0
    return generator.generate(generator.latents(1, seed=42))[0], mask


def test_edit_brings_the_image_to_the_strokes(run):
    strokes, mask = half_of_a_sample(run)
    result = lab.edit(run, strokes, mask, start=3, restarts=4)
    assert result.mask.sum() == 32 * 16
    assert result.stroke_distance_after < 0.1 * result.stroke_distance_before, result
    generator = runs.open_model(APP, run)
    np.testing.assert_allclose(result.start_latent, generator.latents(1, seed=3)[0])
    assert result.frames.shape == (8, 32, 32, 1) and result.result.shape == (32, 32, 1)
    np.testing.assert_allclose(result.frames[0], result.start, atol=1e-6)
    np.testing.assert_allclose(result.frames[-1], generator.generate(result.latent[None])[0], atol=1e-5)
    moved = np.sqrt(((result.frames[1:] - result.frames[:-1]) ** 2).sum(axis=(1, 2, 3)))
    assert moved.max() <= 3 * moved.mean()  # the morph moves evenly
    again = lab.edit(generator, strokes, mask, start=result.start_latent, restarts=4)  # a latent as the start
    np.testing.assert_allclose(again.latent, result.latent, atol=1e-4)
    assert lab.edit(generator, strokes, mask, start=3, restarts=1).restart == 0


def test_edit_on_a_linear_generator_reaches_the_least_squares_optimum():
    """For G(z) = W z + b every term is quadratic in z: without the prior term the optimum is a least-squares
    solution, and with only the stroke term the drawn pixels reach strokes the generator can make."""
    generator = linear_generator()
    w = np.asarray(generator.function.model.layers[1].kernel).T  # [64, 4]
    b = np.asarray(generator.function.model.layers[1].bias)
    target_z = np.array([0.5, -0.3, 0.2, 0.1], np.float32)
    strokes = (w @ target_z + b).reshape(8, 8, 1).astype(np.float32)
    mask = np.zeros((8, 8), np.float32)
    mask[2:4] = 1.0  # 16 drawn pixels pin down the 4 latent numbers
    exact = lab.edit(generator, strokes, mask, start=1, steps=400, learning_rate=0.05, prior_weight=0.0,
                     keep_weight=0.0, start_weight=0.0, restarts=3)
    np.testing.assert_allclose(exact.latent, target_z, atol=2e-3)
    np.testing.assert_allclose(exact.result[2:4], strokes[2:4], atol=5e-3)
    assert exact.stroke_distance_after < 1e-4 < exact.stroke_distance_before
    # The stroke, keep and start terms together: a weighted least-squares problem, solved by hand.
    keep, near = 0.5, 0.1
    mixed = lab.edit(generator, strokes, mask, start=1, steps=400, learning_rate=0.05, prior_weight=0.0,
                     keep_weight=keep, start_weight=near, restarts=3)
    z0, start = mixed.start_latent, mixed.start.reshape(-1)
    drawn, free = mask.reshape(-1), 1.0 - mask.reshape(-1)
    rows = np.concatenate([np.sqrt(drawn / drawn.sum())[:, None] * w, np.sqrt(keep * free / free.sum())[:, None] * w,
                           np.sqrt(near / 4) * np.eye(4)])
    goal = np.concatenate([np.sqrt(drawn / drawn.sum()) * (strokes.reshape(-1) - b),
                           np.sqrt(keep * free / free.sum()) * (start - b), np.sqrt(near / 4) * z0])
    np.testing.assert_allclose(mixed.latent, np.linalg.lstsq(rows, goal, rcond=None)[0], atol=2e-3)


def test_strokes_masks_and_their_errors(tmp_path):
    shape = (32, 32, 1)
    canvas = np.zeros((64, 64, 4), np.uint8)
    canvas[16:20, 8:40] = (200, 200, 200, 255)  # a grey bar painted on transparency
    canvas[40:44, 8:40] = (0, 0, 0, 255)  # and a black one: erasing, drawn only because it is opaque
    Image.fromarray(canvas).save(tmp_path / "rgba.png")
    colour, weight = lab.load_strokes(tmp_path / "rgba.png", None, shape)
    assert weight.sum() == pytest.approx(2 * 2 * 16) and weight[8:10, 4:20].min() == 1.0
    np.testing.assert_allclose(colour[8:10, 4:20], 200 / 127.5 - 1, atol=1e-5)
    np.testing.assert_allclose(colour[20:22, 4:20], -1.0, atol=1e-6)
    # Without transparency only light pixels count: the black bar is background.
    Image.fromarray(canvas[..., :3]).save(tmp_path / "rgb.png")
    _, derived = lab.load_strokes(tmp_path / "rgb.png", None, shape)
    assert derived.sum() == pytest.approx(2 * 16) and derived[20:22].max() == 0.0
    # An explicit mask replaces both, and half-covered pixels weigh half (area resizing).
    mask = np.zeros((64, 64), np.uint8)
    mask[40:45, 8:40] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    _, given = lab.load_strokes(tmp_path / "rgba.png", tmp_path / "mask.png", shape)
    assert given[:20].max() == 0.0 and given[20:22, 4:20].min() == 1.0 and given[22, 4:20].max() == 0.5
    with pytest.raises(ParameterError, match="^mask is black everywhere"):
        lab.load_strokes(tmp_path / "rgba.png", np.zeros((64, 64)), shape)
    with pytest.raises(ParameterError, match="^strokes has nothing drawn"):
        lab.load_strokes(-np.ones(shape, np.float32), None, shape)
    with pytest.raises(ParameterError, match="^mask is 16x16 pixels, the strokes 64x64"):
        lab.load_strokes(tmp_path / "rgba.png", np.ones((16, 16)), shape)
    with pytest.raises(ParameterError, match="^strokes has shape"):
        lab.load_strokes(np.zeros((32, 32)), None, shape)
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(GanappsError, match="corrupt.png: not a readable image"):
        lab.load_strokes(tmp_path / "corrupt.png", None, shape)
    with pytest.raises(ParameterError, match="^start has 3 numbers"):
        lab.edit(linear_generator(), np.ones((8, 8, 1), np.float32), start=np.zeros(3))
    with pytest.raises(ParameterError, match="^restarts must be at least 1"):
        lab.edit(linear_generator(), np.ones((8, 8, 1), np.float32), restarts=0)


def test_edit_command_writes_result_strip_and_gif(run, tmp_path, monkeypatch, capsys):
    image, mask = half_of_a_sample(run)  # painted on transparency: opaque on the left half only
    strokes = tmp_path / "strokes.png"
    Image.fromarray(np.dstack([np.repeat(to_uint8(image), 3, axis=-1), (mask * 255).astype(np.uint8)])).save(strokes)
    out, strip = tmp_path / "edited.png", tmp_path / "path.png"
    result = invoke("dcgan", "edit", run, "--strokes", strokes, "--start", 3, "--frames", 6, "--out", out,
                    "--strip", strip)
    before, after = map(float, re.search(r"stroke distance ([\d.]+) \(start\) -> ([\d.]+) \(result\)",
                                         result.stdout).groups())
    assert after < 0.1 * before
    assert np.asarray(Image.open(out)).shape == (32, 32)
    assert np.asarray(Image.open(strip)).shape == (36, 6 * 34 + 2)
    with Image.open(tmp_path / "path.gif") as gif:
        assert gif.format == "GIF" and gif.size == (4 * 36, 4 * 36)
    summary = json.loads(invoke("dcgan", "edit", run, "--strokes", strokes, "--start", 3, "--out", out, "--strip",
                                strip, "--gif", tmp_path / "anim.gif", "--json").stdout)
    assert summary["stroke_distance_before"] == pytest.approx(before, abs=1e-5)
    assert summary["stroke_distance_after"] < summary["stroke_distance_before"] and summary["seconds"] > 0
    assert summary["gif"] == str(tmp_path / "anim.gif") and (tmp_path / "anim.gif").exists()
    black = tmp_path / "black.png"
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(black)
    assert "--strokes has nothing drawn" in main_error(monkeypatch, capsys, "dcgan", "edit", run, "--strokes", black)
    assert "--mask is black everywhere" in main_error(monkeypatch, capsys, "dcgan", "edit", run, "--strokes",
                                                      strokes, "--mask", black)
    small = tmp_path / "small.png"
    Image.fromarray(np.full((16, 16), 255, np.uint8)).save(small)
    assert "--mask is 16x16 pixels" in main_error(monkeypatch, capsys, "dcgan", "edit", run, "--strokes", strokes,
                                                  "--mask", small)
    assert "no such file" in main_error(monkeypatch, capsys, "dcgan", "edit", run, "--strokes", tmp_path / "nope.png")
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    assert "corrupt.png: not a readable image" in main_error(monkeypatch, capsys, "dcgan", "edit", run, "--strokes",
                                                             tmp_path / "corrupt.png")
    assert "--strokes" in invoke("dcgan", "edit", "--help").stdout


def test_the_shipped_model_works_with_no_model_named(tmp_path):
    """`saved_models/dcgan_glyphs`, the default recipe on the glyphs: what inference opens when no model is named."""
    invoke("dcgan", "sample", "--num", 4, "--out", tmp_path / "g.png")
    grid = np.asarray(Image.open(tmp_path / "g.png"))
    assert grid.ndim == 2 or grid.shape[-1] in (1, 3)
    shipped = lab.sample(None, 8, seed=3)
    assert shipped.shape == (8, 32, 32, 1) and np.array_equal(shipped, lab.sample("dcgan_glyphs", 8, seed=3))
    result = lab.evaluate(num=50, seed=1)  # against the glyphs' held-out share, the data it was trained on
    assert result.data == "glyphs" and result.fid < 100.0  # an untrained network scores about 970 (README)
    edited = invoke("dcgan", "edit", "--strokes", _bar(tmp_path / "bar.png"), "--steps", 20, "--restarts", 2,
                    "--out", tmp_path / "e.png", "--strip", tmp_path / "s.png", "--json").stdout
    assert json.loads(edited)["stroke_distance_after"] < json.loads(edited)["stroke_distance_before"]


def _bar(path):
    canvas = np.zeros((32, 32, 4), np.uint8)
    canvas[8:11, 9:23] = 255  # a white bar across the top, opaque; the rest transparent
    Image.fromarray(canvas, "RGBA").save(path)
    return path


def test_class_counts_and_class_grid_against_hand_counts():
    """Shares, readable rates and the per-digit grid rows, for probabilities whose answers are known."""
    probabilities = np.full((6, 3), 0.05)
    for i, (digit, p) in enumerate([(0, 0.95), (0, 0.5), (2, 0.99), (0, 0.92), (2, 0.6), (2, 0.91)]):
        probabilities[i, digit] = p
    counts = lab.ClassCounts.of(probabilities)
    assert counts.shares == pytest.approx([3 / 6, 0.0, 3 / 6])
    assert counts.readable == pytest.approx([2 / 3, None, 2 / 3]) and counts.readable[1] is None
    assert counts.readable_overall == pytest.approx(4 / 6) and counts.balance == 0.0
    images = np.arange(6, dtype=np.float32)[:, None, None, None] * np.ones((6, 2, 2, 1), np.float32) / 10
    rows = lab.class_grid(images, probabilities, columns=2).reshape(3, 2, 2, 2, 1)
    np.testing.assert_allclose(rows[0, :, 0, 0, 0], [0.0, 0.1])  # digit 0: samples 0 and 1, in sample order
    np.testing.assert_array_equal(rows[1], -1.0)  # no sample read as 1: blank
    np.testing.assert_allclose(rows[2, :, 0, 0, 0], [0.2, 0.4])


def test_evaluate_counts_digits_and_writes_the_class_grid(tmp_path):
    result = json.loads(invoke("dcgan", "evaluate", "--num", 60, "--grid", tmp_path / "classes.png", "--json").stdout)
    assert sum(result["classes"]["shares"]) == pytest.approx(1.0)
    assert result["real_classes"]["readable_overall"] > 0.9  # the classifier reads real glyphs
    grid = np.asarray(Image.open(tmp_path / "classes.png"))
    assert grid.shape[:2] == (10 * 34 + 2, 10 * 34 + 2)  # 10 rows of 10 images of 32 px, 2 px padding
