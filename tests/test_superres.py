"""The superres app: networks, aligned patches, tiled upscaling of every image kind, evaluation, export, errors."""

import json
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from cli_helpers import invoke, main_error, run_in_fresh_process
from ganapps.apps.superres import data as D
from ganapps.apps.superres import degradations, lab, models
from ganapps.apps.superres.recipe import DEFAULTS, Config, stage_options
from PIL import Image

from ganapps.core import runs
from ganapps.core.config import TrainOptions
from ganapps.core.errors import GanappsError, ParameterError
from ganapps.core.config import shipped_model_path
from ganapps.core.images import load_image, output_path, png_bit_depth
from ganapps.core.metrics import psnr_y, sharpness_y

TINY = ["--blocks", "1", "--filters", "8", "--patch", "8", "--batch-size", "4", "--mixed-precision", "off"]


def nearest_upscaler(scale: int = 4) -> lab.Upscaler:
    """An oracle whose output is known exactly: nearest-neighbour upsampling."""
    image = keras.Input((None, None, 3))
    return lab.Upscaler.from_keras(keras.Model(image, keras.layers.UpSampling2D(scale)(image)), "nearest")


def nearest(image: np.ndarray, scale: int = 4) -> np.ndarray:
    return np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("hr")
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:72, 0:96] / 24.0
    for i in range(3):
        smooth = 0.5 + 0.4 * np.sin(x * (i + 1) + y)[..., None] * np.array([1.0, 0.6, -0.8])
        noisy = np.clip(smooth + 0.05 * rng.standard_normal(smooth.shape), 0, 1)
        Image.fromarray((noisy * 255).astype(np.uint8)).save(folder / f"hr{i}.png")
    return folder


@pytest.fixture(scope="module")
def run(images, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "sr"
    invoke("superres", "train", "--data", images, "--out", out, "--epochs", "1", "--steps", "2", *TINY)
    return out


# ---------------------------------------------------------------------------------------------------- networks


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_bicubic_base_equals_tensorflows_resize_at_any_size(scale):
    """The generator's base is built from builtin ops (for LiteRT) but must stay TensorFlow's bicubic resize."""
    for shape in [(2, 7, 11, 3), (1, 1, 1, 3), (1, 2, 5, 1)]:
        x = np.random.default_rng(sum(shape)).random(shape).astype(np.float32)
        expected = tf.image.resize(x, np.array(shape[1:3]) * scale, method="bicubic")
        np.testing.assert_allclose(models.BicubicUpsample(scale)(x), expected, atol=1e-6)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_generator_upscales_any_size_by_its_factor(scale):
    g = models.srresnet(scale, blocks=1, filters=8)
    assert g(np.zeros((2, 7, 11, 3), np.float32)).shape == (2, 7 * scale, 11 * scale, 3)
    assert [layer.factor for layer in g.layers if isinstance(layer, models.PixelShuffle)] == [scale]
    assert models.discriminator(8)(np.zeros((2, 24, 20, 3), np.float32)).shape == (2, 1)


def test_an_untrained_generator_is_bicubic_and_learns_a_residual_on_it():
    g = models.srresnet(4, blocks=1, filters=8)
    image = np.random.default_rng(1).random((1, 9, 13, 3)).astype(np.float32)
    bicubic = tf.image.resize(image, (36, 52), method="bicubic").numpy()
    np.testing.assert_allclose(g(image).numpy(), bicubic, atol=1e-6)  # float rounding of the summed taps
    tail = g.get_layer("tail")
    kernel, bias = tail.get_weights()
    tail.set_weights([kernel, np.full_like(bias, 0.2)])
    np.testing.assert_allclose(g(image).numpy(), bicubic + 0.1, atol=1e-6)  # 0.5 x the tail, on top of bicubic
    # each channel of the tail becomes one sub-pixel position of one colour: depth-to-space, channel (a s + b) 3 + c
    tail.set_weights([kernel, np.eye(48, dtype=np.float32)[(1 * 4 + 2) * 3 + 1] * 0.2])
    detail = g(image).numpy() - bicubic
    np.testing.assert_allclose(detail[0, 1::4, 2::4, 1], 0.1, atol=1e-6)
    assert np.abs(detail).sum() == pytest.approx(0.1 * 9 * 13, rel=1e-4)


def with_random_tail(generator: keras.Model) -> keras.Model:
    """A generator whose last layer is not zero, so that its network (not only its bicubic base) shows in tests."""
    tail = generator.get_layer("tail")
    kernel, bias = tail.get_weights()
    tail.set_weights([np.random.default_rng(0).normal(0, 0.05, kernel.shape).astype(np.float32), bias])
    return generator


def test_pixel_shuffle_is_depth_to_space():
    x = np.arange(2 * 3 * 3 * 8, dtype=np.float32).reshape(2, 3, 3, 8)
    y = models.PixelShuffle(2)(x).numpy()
    assert y.shape == (2, 6, 6, 2)
    # output pixel (2i + a, 2j + b), channel c = input (i, j), channel (2a + b) * 2 + c
    assert y[1, 3, 4, 1] == x[1, 1, 2, (1 * 2 + 0) * 2 + 1]


def test_unknown_scale_is_refused():
    with pytest.raises(ParameterError, match="^scale 5"):
        models.srresnet(5)
    with pytest.raises(ParameterError, match="^scale 5"):
        Config(scale=5)
    with pytest.raises(ParameterError, match="^patch must be at least 8"):
        Config(patch=6)


# ---------------------------------------------------------------------------------------------------- data


def test_patches_stay_aligned_through_flips_and_transposition():
    rng = np.random.default_rng(1)
    highs = [rng.random((40 + 8 * i, 48, 3)).astype(np.float32) for i in range(3)]
    block_mean = lambda x: x.reshape(x.shape[0] // 4, 4, x.shape[1] // 4, 4, 3).mean((1, 3))  # noqa: E731
    pairs = [D.Pair(str(i), block_mean(h), h) for i, h in enumerate(highs)]  # symmetric, as bicubic is
    low, high = (x.numpy() for x in next(iter(D.patch_dataset(pairs, 4, 6, batch_size=64, seed=3))))
    assert low.shape == (64, 6, 6, 3) and high.shape == (64, 24, 24, 3)
    np.testing.assert_allclose(np.stack([block_mean(h) for h in high]), low, atol=1.5 / 255)
    # some patches are mirrored or transposed: their top-left LR pixel is not the top-left of an image window
    windows = {tuple(np.round(p.low[y, x] * 255)) for p in pairs for y in range(p.low.shape[0] - 5)
               for x in range(p.low.shape[1] - 5)}
    assert 0 < sum(tuple(np.round(patch[0, 0] * 255)) in windows for patch in low) < len(low)


def test_patch_stream_resumes_at_any_step():
    rng = np.random.default_rng(2)
    pairs = [D.Pair("a", rng.random((10, 12, 3)).astype(np.float32), rng.random((20, 24, 3)).astype(np.float32))]
    full = list(D.patch_dataset(pairs, 2, 4, 5, seed=7).take(4))
    resumed = next(iter(D.patch_dataset(pairs, 2, 4, 5, seed=7, start_step=3)))
    np.testing.assert_array_equal(full[3][1], resumed[1])
    assert not np.array_equal(full[0][1], full[1][1])


def test_realistic_patches_are_degraded_from_their_own_high_patch_and_resume_exactly():
    rng = np.random.default_rng(3)
    pairs = [D.Pair("a", rng.random((10, 12, 3)).astype(np.float32), rng.random((40, 48, 3)).astype(np.float32))]
    degrade = lambda high, key: degradations.realistic(high, 4, key)  # noqa: E731
    full = list(D.patch_dataset(pairs, 4, 8, 3, seed=7, degrade=degrade).take(3))
    resumed = next(iter(D.patch_dataset(pairs, 4, 8, 3, seed=7, start_step=2, degrade=degrade)))
    np.testing.assert_array_equal(full[2][0], resumed[0])
    np.testing.assert_array_equal(full[2][1], resumed[1])
    low, high = full[0]
    assert low.shape == (3, 8, 8, 3) and high.shape == (3, 32, 32, 3)
    key = tf.random.experimental.stateless_split(tf.constant([7, 0], tf.int64), 4)[3]  # step 0's fourth key
    np.testing.assert_array_equal(low, degradations.realistic(high, 4, key))  # made from the flipped high patch


def test_downscaling_is_antialiased_bicubic():
    stripes = np.zeros((64, 64, 3), np.float32)
    stripes[:, ::2] = 1.0  # a pattern above the LR Nyquist frequency: an antialiased filter averages it out
    low = D.downscale(stripes, 4)
    assert low.shape == (16, 16, 3)
    np.testing.assert_allclose(low[4:-4, 4:-4], 0.5, atol=0.02)
    expected = np.asarray(Image.fromarray(stripes[..., 0], "F").resize((16, 16), Image.BICUBIC))
    np.testing.assert_allclose(low[..., 0], np.clip(expected, 0, 1), atol=1e-6)


# ---------------------------------------------------------------------------------------------------- upscaling


def test_tiled_output_equals_the_whole_image():
    keras.utils.set_random_seed(0)
    upscaler = lab.Upscaler.from_keras(with_random_tail(models.srresnet(4, blocks=2, filters=8)), "random")
    image = np.random.default_rng(3).random((45, 61, 3)).astype(np.float32)
    whole = upscaler.upscale(image, tile=0)
    tiled = upscaler.upscale(image, tile=16, overlap=16)
    assert whole.shape == (180, 244, 3)
    np.testing.assert_allclose(tiled, whole, atol=1e-4)
    assert np.abs(upscaler.upscale(image, tile=16, overlap=0) - whole).max() > 1e-3  # context matters


def test_self_ensemble_is_the_mean_over_rotations_and_mirrors_tiled_or_whole():
    keras.utils.set_random_seed(0)
    upscaler = lab.Upscaler.from_keras(with_random_tail(models.srresnet(4, blocks=2, filters=8)), "random")
    image = np.random.default_rng(4).random((21, 30, 3)).astype(np.float32)
    by_hand = []
    for turns in range(4):  # each orientation upscaled whole, then turned back, with numpy alone
        for mirror in (False, True):
            x = np.rot90(image, turns)
            x = x[:, ::-1] if mirror else x
            y = upscaler(np.ascontiguousarray(x)[None])[0]
            by_hand.append(np.rot90(y[:, ::-1] if mirror else y, -turns))
    whole = upscaler.upscale(image, tile=0, self_ensemble=True)
    np.testing.assert_allclose(whole, np.mean(by_hand, axis=0), atol=1e-5)
    assert np.abs(whole - upscaler.upscale(image, tile=0)).max() > 1e-3  # the orientations disagree
    np.testing.assert_allclose(upscaler.upscale(image, tile=8, overlap=16, self_ensemble=True), whole, atol=1e-4)
    bicubic = lab.Upscaler.from_keras(models.srresnet(4, blocks=1, filters=4), "untrained")  # bicubic: symmetric
    np.testing.assert_allclose(bicubic.upscale(image, tile=0, self_ensemble=True), bicubic.upscale(image, tile=0),
                               atol=1e-5)


@pytest.mark.parametrize("mode", ["RGB", "L", "RGBA", "P", "PA", "LA", "I;16", "JPEG"])
def test_every_image_kind_upscales(mode, tmp_path):
    rng = np.random.default_rng(4)
    rgb = rng.integers(0, 256, (10, 14, 3), dtype=np.uint8)
    if mode == "I;16":
        picture = Image.fromarray(rng.integers(0, 65536, (10, 14)).astype(np.uint16))
    elif mode == "PA":
        picture = Image.fromarray(rgb).convert("P")
        picture.info["transparency"] = 0
    elif mode == "JPEG":
        picture = Image.fromarray(rgb)
    else:
        picture = Image.fromarray(rgb).convert(mode)
    source = tmp_path / ("in.jpg" if mode == "JPEG" else "in.png")
    picture.save(source)
    target = output_path(source, "x4")
    assert lab.upscale_file(source, nearest_upscaler(), tile=4, overlap=2) == target
    with Image.open(source) as original, Image.open(target) as result:
        assert result.size == (56, 40)
        expected_mode = {"P": "RGB", "PA": "RGBA", "LA": "RGBA", "JPEG": "RGB"}.get(mode, mode)
        assert result.mode == expected_mode
        if mode == "I;16":  # 16-bit values survive (nearest upsampling of the input)
            np.testing.assert_allclose(np.asarray(result, np.float64), nearest(np.asarray(original, np.float64)),
                                       atol=1.0)
        if mode == "L":
            np.testing.assert_allclose(np.asarray(result, float), nearest(np.asarray(original, float)), atol=1.0)
        if mode == "RGBA":  # colour through the model, alpha resized on its own with bicubic
            alpha = np.asarray(original)[..., 3].astype(np.float32) / 255
            expected = np.clip(np.asarray(Image.fromarray(alpha, "F").resize((56, 40), Image.BICUBIC)), 0, 1)
            np.testing.assert_allclose(np.asarray(result)[..., 3] / 255, expected, atol=1 / 255)
            np.testing.assert_array_equal(np.asarray(result)[..., :3], nearest(np.asarray(original)[..., :3]))
    assert target.suffix == (".jpg" if mode == "JPEG" else ".png")


@pytest.mark.parametrize("channels", [3, 4])
def test_sixteen_bit_colour_stays_sixteen_bit(channels, tmp_path):
    """Pillow reads a 16-bit RGB PNG as 8-bit: the low byte must survive the loader, the model and the writer."""
    values = np.random.default_rng(5).integers(0, 65536, (6, 9, channels)).astype(np.uint16)
    source = tmp_path / "deep.png"
    source.write_bytes(tf.io.encode_png(values).numpy())
    assert png_bit_depth(source) == 16
    np.testing.assert_array_equal(np.round(load_image(source, channels=channels) * 65535), values)
    target = lab.upscale_file(source, nearest_upscaler(), tile=4, overlap=2)
    assert png_bit_depth(target) == 16
    result = tf.io.decode_png(target.read_bytes(), channels=channels, dtype=tf.uint16).numpy()
    assert result.shape == (24, 36, channels)
    np.testing.assert_allclose(result[..., :3], nearest(values[..., :3].astype(np.float64)), atol=1.0)
    assert len(np.unique(result[..., :3] % 256)) > 1  # the low byte is kept, not zero or a copy of the high byte


# ---------------------------------------------------------------------------------------------------- evaluation


def test_evaluation_scores_the_model_and_bicubic_on_the_y_channel(images):
    result = lab.evaluate(nearest_upscaler(), images, 4)
    assert result.summary["images"] == 3
    for row, path in zip(result.images, sorted(images.glob("*.png"))):
        high = D.crop_to_scale(np.asarray(Image.open(path), np.float32) / 255, 4)
        low = D.downscale(high, 4)
        assert row["psnr"] == pytest.approx(psnr_y(nearest(low), high, 4), abs=1e-3)
        assert row["bicubic_psnr"] == pytest.approx(psnr_y(D.upscale_bicubic(low, 4), high, 4), abs=1e-3)
    gain = result.summary["psnr"] - result.summary["bicubic_psnr"]
    assert result.summary["psnr_gain"] == pytest.approx(gain) and gain < 0  # nearest is worse than bicubic
    with pytest.raises(ParameterError, match="^scale 2: the model upscales x4"):
        lab.evaluate(nearest_upscaler(), images, 2)



def test_realistic_evaluation_is_fixed_by_its_seed_and_scores_a_second_model(images):
    bicubic = lab.Upscaler.from_keras(models.srresnet(4, blocks=1, filters=8), "bicubic")  # untrained: bicubic
    result = lab.evaluate(nearest_upscaler(), images, degradation="realistic", seed=3, beside=bicubic)
    assert result.summary["degradation"] == "realistic" and result.summary["seed"] == 3
    for index, (row, path) in enumerate(zip(result.images, sorted(images.glob("*.png")))):
        high = D.crop_to_scale(np.asarray(Image.open(path), np.float32) / 255, 4)
        low = degradations.degraded_image(high, 4, 3, index)
        assert low.shape == (high.shape[0] // 4, high.shape[1] // 4, 3)
        assert np.abs(low - D.downscale(high, 4)).mean() > 1 / 255  # not the clean input
        assert row["psnr"] == pytest.approx(psnr_y(nearest(low), high, 4), abs=1e-3)
        assert row["bicubic_psnr"] == pytest.approx(psnr_y(D.upscale_bicubic(low, 4), high, 4), abs=1e-3)
        assert row["sharpness"] == pytest.approx(sharpness_y(nearest(low), high, 4), rel=1e-4)
        assert row["beside_psnr"] == pytest.approx(row["bicubic_psnr"], abs=0.05)  # TF's bicubic vs Pillow's
    again = lab.evaluate(nearest_upscaler(), images, degradation="realistic", seed=3)
    assert [r["psnr"] for r in again.images] == [r["psnr"] for r in result.images]
    other = lab.evaluate(nearest_upscaler(), images, degradation="realistic", seed=4)
    assert [r["psnr"] for r in other.images] != [r["psnr"] for r in result.images]
    with pytest.raises(ParameterError, match="^degradation 'jpeg'"):
        lab.evaluate(nearest_upscaler(), images, degradation="jpeg")

# ---------------------------------------------------------------------------------------------------- runs and CLI


def test_training_run_exports_a_savedmodel_that_matches_the_checkpoint(run, tmp_path):
    assert (run / "samples" / "epoch_0001.png").exists()
    assert runs.read_run(run, lab.APP).config.data == str(Path(runs.read_run(run, lab.APP).config.data).resolve())
    from_export = runs.open_model(lab.APP, run)  # the run's export
    from_checkpoint = lab.Upscaler.from_keras(runs.load(lab.APP, run).sampling_generator, "ckpt")
    image = np.random.default_rng(5).random((1, 12, 9, 3)).astype(np.float32)
    np.testing.assert_allclose(from_export(image), from_checkpoint(image), atol=1e-5)
    invoke("superres", "export", run, "--out", tmp_path / "model")
    np.testing.assert_allclose(runs.open_model(lab.APP, tmp_path / "model")(image), from_checkpoint(image),
                               atol=1e-5)


def test_upscale_walks_a_folder_and_checks_its_arguments(images, tmp_path):
    seen = []
    written = list(lab.upscale(images, nearest_upscaler(), tmp_path / "big", tile=16,
                               progress=lambda path, done, total: seen.append((path.name, done, total))))
    assert [(a.name, b.name) for a, b in written] == [(f"hr{i}.png", f"hr{i}_x4.png") for i in range(3)]
    assert all(b.parent == tmp_path / "big" and b.is_file() for _, b in written)
    assert ("hr0.png", 30, 30) in seen  # 72 x 96 pixels in 5 x 6 tiles of 16
    with pytest.raises(ParameterError, match="^tile must be at least 0"):
        lab.upscale(images, nearest_upscaler(), tile=-1)
    with pytest.raises(ParameterError, match="^scale 2: the model upscales x4"):
        lab.upscale(images, nearest_upscaler(), scale=2)
    with pytest.raises(GanappsError, match="no such file"):
        lab.upscale(tmp_path / "nope.png", nearest_upscaler())


def test_options_left_unset_take_the_stage_recipe():
    given = stage_options("gan", TrainOptions(epochs=7, g_lr=0.5, beta1=0.1), {"epochs", "g_lr"})
    assert (given.epochs, given.g_lr, given.beta1) == (7, 0.5, DEFAULTS["gan"]["beta1"])
    assert given.steps == DEFAULTS["gan"]["steps"] and given.out == Path("runs/superres-gan")
    assert stage_options("psnr", lab.APP.options()) == lab.APP.options()
    assert lab.APP.options().out == Path("runs/superres") and lab.APP.options().g_lr == DEFAULTS["psnr"]["g_lr"]


def test_upscale_and_evaluate_commands(run, images, tmp_path):
    upscaled = invoke("superres", "upscale", images, run, "--out", tmp_path / "big", "--tile", "16")
    assert sorted(p.name for p in (tmp_path / "big").iterdir()) == ["hr0_x4.png", "hr1_x4.png", "hr2_x4.png"]
    assert upscaled.stdout.splitlines() == [f"{images / f'hr{i}.png'} -> {tmp_path / 'big' / f'hr{i}_x4.png'}"
                                            for i in range(3)]
    evaluated = invoke("superres", "evaluate", run, "--data", images, "--json")
    rows = [__import__("json").loads(line) for line in evaluated.stdout.splitlines()]  # stdout holds JSON only
    assert rows[-1]["summary"] is True and "bicubic_psnr" in rows[-1] and len(rows) == 4
    ensembled = invoke("superres", "evaluate", run, "--data", images, "--json", "--self-ensemble")
    summary = __import__("json").loads(ensembled.stdout.splitlines()[-1])
    assert summary["self_ensemble"] is True and summary["bicubic_psnr"] == rows[-1]["bicubic_psnr"]
    assert summary["psnr"] != rows[-1]["psnr"]


def test_realistic_gan_stage_trains_offline_on_pixels(run, images, tmp_path):
    out = tmp_path / "real"
    invoke("superres", "train", "--stage", "gan", "--init", run, "--degradation", "realistic", "--content", "pixel",
           "--d-width", "8", "--data", images, "--out", out, "--epochs", "1", "--steps", "2", *TINY)
    history = (out / "history.csv").read_text().splitlines()[0].split(",")
    assert "l1" in history and "d_adv" in history and "content" not in history
    assert runs.read_run(out, lab.APP).config.degradation == "realistic"
    evaluated = invoke("superres", "evaluate", out, "--data", images, "--degradation", "realistic", "--seed", "2",
                       "--beside", run, "--picture", tmp_path / "crops.png", "--json")
    summary = json.loads(evaluated.stdout.splitlines()[-1])
    assert Image.open(tmp_path / "crops.png").size == (4 * 162 + 2, 3 * 162 + 2)  # 3 images x bicubic|beside|model|hr
    assert summary["degradation"] == "realistic" and summary["beside"] == str(run / "export" / "superres")
    assert {"beside_psnr", "beside_ssim", "beside_sharpness", "sharpness"} <= set(summary)


def test_gan_stage_trains_from_a_psnr_run_with_a_local_vgg(run, images, tmp_path):
    weights = tmp_path / "vgg19_notop.weights.h5"
    keras.applications.VGG19(include_top=False, weights=None, input_shape=(None, None, 3)).save_weights(weights)
    out = tmp_path / "gan"
    invoke("superres", "train", "--stage", "gan", "--init", run, "--data", images, "--out", out, "--epochs", "1",
           "--steps", "1", "--seed", "1", "--vgg-weights", weights, *TINY)
    history = (out / "history.csv").read_text()
    assert "content" in history and "d_adv" in history
    record = runs.read_run(out, lab.APP)
    assert record.options.g_lr == DEFAULTS["gan"]["g_lr"]  # unset flags took the gan stage's defaults
    assert record.options.epochs == 1 and record.config.stage == "gan" and record.config.init == str(run)
    # another seed, yet one Adam step at 1e-4 away from the psnr run's generator: it started from it
    start, tuned = (runs.load(lab.APP, r).generator.get_weights() for r in (run, out))
    assert max(np.abs(a - b).max() for a, b in zip(start, tuned)) < 1e-3


def test_bad_inputs_are_one_line_errors(run, images, tmp_path, monkeypatch, capsys):
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    for path in (corrupt, text):
        assert str(path) in main_error(monkeypatch, capsys, "superres", "upscale", path, run)
    assert "no such file" in main_error(monkeypatch, capsys, "superres", "upscale", tmp_path / "nope.png", run)
    assert "neither a superres run" in main_error(monkeypatch, capsys, "superres", "upscale", corrupt, images)
    assert "--scale 2: the model upscales x4" in main_error(monkeypatch, capsys, "superres", "upscale", corrupt,
                                                            run, "--scale", "2")
    assert "--tile must be at least 0" in main_error(monkeypatch, capsys, "superres", "upscale", corrupt, run,
                                                     "--tile", "-1")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no image files" in main_error(monkeypatch, capsys, "superres", "upscale", empty, run)
    assert "--vgg-weights" in main_error(monkeypatch, capsys, "superres", "train", "--stage", "gan", "--data",
                                         images, "--out", tmp_path / "g", "--vgg-weights", tmp_path / "no.h5", *TINY)
    assert "--scale 5" in main_error(monkeypatch, capsys, "superres", "train", "--scale", "5", "--data", images,
                                     "--out", tmp_path / "s5", *TINY)
    assert "--stage" in main_error(monkeypatch, capsys, "superres", "train", "--stage", "srgan", *TINY)


# ------------------------------------------------------------------------------------------------ shipped model


@pytest.mark.parametrize("name, bicubic, psnr", [("set5", 28.43, 31.43),
                                                  pytest.param("set14", 26.10, 28.12, marks=pytest.mark.slow)])
def test_the_shipped_model_scores_as_published_and_beats_vdsr(name, bicubic, psnr):
    """`evaluate` uses saved_models/superres_x4 by default; it must keep beating VDSR (31.35 dB on Set5, 28.01 on
    Set14, 666k parameters) with the scores README gives, at no more than 300k parameters."""
    folder = D.default_eval_folder(name)
    if not folder.is_dir():
        pytest.skip(f"{folder} is not here")
    assert shipped_model_path("superres_x4").is_dir()
    result = lab.evaluate(data=folder)  # no model: the shipped one
    assert result.summary["images"] == {"set5": 5, "set14": 14}[name] and result.summary["scale"] == 4
    assert result.summary["bicubic_psnr"] == pytest.approx(bicubic, abs=0.01)
    assert result.summary["psnr"] == pytest.approx(psnr, abs=0.01)
    assert result.summary["psnr"] > {"set5": 31.35, "set14": 28.01}[name]
    shipped = tf.saved_model.load(str(shipped_model_path("superres_x4") / "1"))
    assert sum(int(np.prod(v.shape)) for v in shipped.variables) <= 300_000


@pytest.mark.parametrize("format", ["litert", "onnx"])
def test_litert_and_onnx_exports_match_keras_at_any_size(run, format, tmp_path):
    """`export --format`: the file runs in a process without TensorFlow (LiteRT interpreter, onnxruntime), at a
    size and batch the model never saw, and gives the Keras generator's output."""
    invoke("superres", "export", run, "--format", format, "--out", tmp_path / "model")
    folder = tmp_path / "model" / "1"
    info = json.loads((folder / "assets.extra" / "serving.json").read_text())
    assert info["format"] == format and info["scale"] == 4
    assert info["inputs"] == [{"name": "image", "shape": [None, None, None, 3], "dtype": "float32", "range": [0, 1]}]
    generator = runs.load(lab.APP, run).sampling_generator
    for shape in [(1, 12, 9, 3), (3, 20, 16, 3)]:
        image = np.random.default_rng(shape[1]).random(shape).astype(np.float32)
        exported = run_in_fresh_process(folder, format, {"image": image}, tmp_path)
        assert exported.shape == (shape[0], shape[1] * 4, shape[2] * 4, 3)
        np.testing.assert_allclose(exported, generator(image, training=False), atol=1e-4)


def test_the_savedmodel_refuses_images_out_of_range_in_its_graph(run):
    """A client sending 0-255 pixels, or NaNs, to TF Serving gets a message naming the input and its range."""
    signature = tf.saved_model.load(str(run / "export" / "superres" / "1")).signatures["serving_default"]
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"image: every value must be in \[0, 1\]"):
        signature(image=np.full((1, 8, 8, 3), 255.0, np.float32))
    with pytest.raises(tf.errors.InvalidArgumentError, match="image: NaN or infinite values"):
        signature(image=np.full((1, 8, 8, 3), np.nan, np.float32))
    assert signature(image=np.ones((1, 8, 8, 3), np.float32))["upscaled"].shape == (1, 32, 32, 3)
