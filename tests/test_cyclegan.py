"""The cyclegan app: the synthetic pair, data sources and batches, networks, losses and the history pool by hand,
1-vs-2-replica equality, and every command on tiny runs (synthetic, a folder pair, a mocked tfds set)."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from cli_helpers import invoke, main_error
from ganapps.apps.cyclegan import data as D
from ganapps.apps.cyclegan import lab, models
from ganapps.apps.cyclegan.app import APP, Translator
from PIL import Image

from ganapps.core import metrics, runs
from ganapps.core.errors import GanappsError, ParameterError
from ganapps.core.export import ServingFunction
from ganapps.core.gan import Batch
from ganapps.core.strategy import resolve_strategy

SIZE = 32
# One replica: tracing the step is most of a tiny run's cost, and two replicas double it (conftest splits the CPU,
# so `auto` would pick mirrored); test_two_replicas_match_one covers the step on two.
TINY = ["--image-size", SIZE, "--width", 4, "--blocks", 1, "--batch-size", 2, "--epochs", 1, "--steps", 2,
        "--strategy", "default"]


def write_images(folder, count, size=(40, 36), seed=0):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for k in range(count):
        Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(folder / f"{k:02d}.png")
    return folder


# ---------------------------------------------------------------------------------------------- data


def test_synthetic_pair_has_a_known_mapping_and_is_trained_unpaired():
    training = D.synthetic(20, SIZE)
    held_out = D.synthetic(20, SIZE, held_out=True)
    assert training.a.shape == training.b.shape == (20, SIZE, SIZE, 3) and training.a.dtype == np.uint8
    assert held_out.paired and not training.paired
    # The truth: held-out B is exactly the B rendering of the scene shown in A.
    scenes = D.scenes(20, seed=2)
    assert np.array_equal(held_out.b[3], D.render(scenes[3], D.OUTLINED, SIZE))
    assert np.array_equal(held_out.a[3], D.render(scenes[3], D.FLAT, SIZE))
    # Training A and B show different scenes: where A has background, B need not.
    background_a = np.all(training.a == D.FLAT.background, axis=-1)
    background_b = np.all(training.b == D.OUTLINED.background, axis=-1)
    assert (background_a != background_b).mean() > 0.1
    # The styles differ everywhere: the identity baseline is far from the truth.
    unit = lambda x: x.astype(np.float32) / 255.0
    assert metrics.psnr(unit(held_out.a), unit(held_out.b)) < 6.0
    # Style B is style A's scene recoloured and outlined: where A shows a kind's fill, B shows that kind's fill or
    # the outline (nearest of B's colours).
    palette = np.array([D.OUTLINED.background, *D.OUTLINED.fills, D.OUTLINED.outline], np.float32)
    a, b = D.synthetic(20, 64, held_out=True).a, D.synthetic(20, 64, held_out=True).b
    nearest = np.argmin(((b[..., None, :].astype(np.float32) - palette) ** 2).sum(-1), axis=-1)
    for kind, fill_a in enumerate(D.FLAT.fills):
        inside = np.all(a == fill_a, axis=-1)
        assert inside.sum() > 100 and np.isin(nearest[inside], [1 + kind, len(palette) - 1]).mean() > 0.99


def test_tfds_names_cover_both_directions():
    import tensorflow_datasets as tfds

    stored = {config.name for config in tfds.builder_cls("cycle_gan").BUILDER_CONFIGS}
    assert set(D.TFDS_CONFIGS) == stored
    source = D.resolve("photos2monet")
    assert (source.tfds_name, source.swap, source.names) == ("cycle_gan/monet2photo", True, ("photo", "monet"))
    assert (D.resolve("photo2monet").tfds_name, D.resolve("photo2monet").swap) == ("cycle_gan/monet2photo", True)
    assert D.resolve("tfds:cycle_gan/horse2zebra").names == ("horse", "zebra")
    zebra = D.resolve("zebra2horse")
    assert (zebra.tfds_name, zebra.swap, zebra.names) == ("cycle_gan/horse2zebra", True, ("zebra", "horse"))
    assert D.resolve("winter2summer_yosemite").tfds_name == "cycle_gan/summer2winter_yosemite"
    assert D.resolve("maps").swap is False
    with pytest.raises(GanappsError, match="no_such2thing: unknown dataset"):
        D.resolve("no_such2thing")


def test_tfds_under_mock_data_trains_and_evaluates(tmp_path):
    import tensorflow_datasets as tfds

    inputs = keras.Input((SIZE, SIZE, 3))
    features = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(8, 3, strides=2)(inputs))
    keras.Model(inputs, features, name="features").save(tmp_path / "features.keras")
    with tfds.testing.mock_data(num_examples=5):
        domains = D.load(D.resolve("zebra2horse"), SIZE, held_out=True)
        config = lab.Config(data="zebra2horse", image_size=SIZE, width=4, blocks=1)
        options = APP.options(out=tmp_path / "run", epochs=1, steps=2, batch_size=2, verbose=0, strategy="default")
        run = lab.train(config, options)
        evaluation = lab.evaluate(tmp_path / "run", num=5, extractor=str(tmp_path / "features.keras"))
    assert domains.a.shape == (5, SIZE, SIZE, 3) and domains.names == ("zebra", "horse")
    assert run.names == ("zebra", "horse") and run.samples.is_file()
    saved = json.loads((tmp_path / "run" / "config.json").read_text())["config"]
    assert saved["data"] == "zebra2horse" and saved["jitter"] is True
    assert runs.read_run(tmp_path / "run", APP).config == run.result.config
    rows = evaluation.as_dicts()
    assert {(r["direction"], r["model"]) for r in rows[:-1]} == {(d, m) for d in ("a2b", "b2a")
                                                                for m in ("cyclegan", "identity")}
    assert all(r["fid"] >= 0 and np.isfinite(r["kid"]) for r in rows[:-1])
    assert rows[-1]["extractor"] == "features" and rows[-1]["images"] == 5


def test_offline_tfds_names_what_to_pass_instead(tmp_path):
    with pytest.raises(GanappsError, match=r"not in the local TensorFlow Datasets folder .*two folders \(domain_a and"):
        D.load(D.resolve("horse2zebra"), SIZE, download=False, data_dir=str(tmp_path))


def test_config_and_sources_name_the_parameter(tmp_path):
    with pytest.raises(ParameterError, match="^image_size must be a multiple of 4 and at least 32, got 30"):
        lab.Config(image_size=30)
    for bad, message in ((dict(blocks=0), "blocks must be at least 1, got 0"),
                         (dict(pool_size=-1), "pool_size must be at least 0, got -1"),
                         (dict(cycle_weight=-1.0), "cycle_weight must be at least 0"),
                         (dict(scenes=0), "scenes must be at least 1")):
        with pytest.raises(ParameterError, match=f"^{message}"):
            lab.Config(**bad)
    with pytest.raises(ParameterError, match="^domain_a is missing"):
        D.resolve(None, None, tmp_path)
    with pytest.raises(ParameterError, match="^domain_b .*: no such folder"):
        D.resolve(None, tmp_path, tmp_path / "missing")


def test_folder_layout_and_held_out_share(tmp_path):
    write_images(tmp_path / "set" / "trainA", 3)
    write_images(tmp_path / "set" / "trainB", 4)
    source = D.resolve(str(tmp_path / "set"))
    assert source.kind == "folders" and source.folders[2] is None
    train, test = D.load(source, SIZE), D.load(source, SIZE, held_out=True)
    assert (len(train.a), len(test.a), len(train.b), len(test.b)) == (2, 1, 3, 1)
    write_images(tmp_path / "set" / "testA", 2)
    write_images(tmp_path / "set" / "testB", 2)
    assert D.load(D.resolve(str(tmp_path / "set")), SIZE, held_out=True).a.shape == (2, SIZE, SIZE, 3)
    with pytest.raises(GanappsError, match="missing trainB"):
        write_images(tmp_path / "half" / "trainA", 2)
        D.resolve(str(tmp_path / "half"))


def test_batches_are_unpaired_resumable_and_mirrored_or_jittered():
    domains = D.Domains(np.arange(6)[:, None, None, None] * np.ones((1, SIZE, SIZE, 3), np.uint8) * 40,
                        np.arange(6)[:, None, None, None] * np.ones((1, SIZE, SIZE, 3), np.uint8) * 40 + 1,
                        ("a", "b"), "test")
    stream = D.unpaired_batches(domains, 3, seed=5)
    batches = [tuple(x.numpy() for x in batch) for batch in stream.take(4)]
    again = [tuple(x.numpy() for x in batch) for batch in D.unpaired_batches(domains, 3, seed=5, start_step=2).take(2)]
    for (a1, b1), (a2, b2) in zip(batches[2:], again):
        np.testing.assert_array_equal(a1, a2)
        np.testing.assert_array_equal(b1, b2)
    ids = lambda x: np.round((x[:, 0, 0, 0] + 1) * 127.5).astype(int) // 40
    assert any(not np.array_equal(ids(a), ids(b)) for a, b in batches)  # each domain shuffled on its own
    # Mirroring only: every image is its source or its source flipped left-right.
    gradient = np.tile(np.arange(SIZE, dtype=np.uint8)[None, :, None] * 8, (SIZE, 1, 3))
    ramp = D.Domains(np.stack([gradient] * 8), np.stack([gradient] * 8), ("a", "b"), "ramp")
    a, _ = next(iter(D.unpaired_batches(ramp, 8, seed=0)))
    source = D.to_float(gradient).numpy()
    flipped = [np.array_equal(x, source[:, ::-1]) for x in a.numpy()]
    assert all(f or np.array_equal(x, source) for f, x in zip(flipped, a.numpy())) and 0 < sum(flipped) < 8
    # Jitter: resized by 286/256 and cropped back, so neighbouring columns of the ramp move less than 8 levels.
    a, _ = next(iter(D.unpaired_batches(ramp, 8, seed=0, jitter=True)))
    steps = np.abs(np.diff((a.numpy() + 1) * 127.5, axis=2))[:, :, 2:-2]
    assert a.shape == (8, SIZE, SIZE, 3) and 5.0 < steps.mean() < 7.9


# ---------------------------------------------------------------------------------------------- networks


def test_network_shapes_and_the_70_pixel_patch():
    g = models.generator(SIZE, blocks=2, width=4)
    x = tf.random.uniform((2, SIZE, SIZE, 3), -1, 1)
    y = g(x)
    assert y.shape == x.shape and float(tf.reduce_max(tf.abs(y))) <= 1.0
    norms = [layer for layer in g.layers if isinstance(layer, keras.layers.GroupNormalization)]
    assert len(norms) == 2 + 2 + 2 * 2 + 1  # every convolution but the last
    assert models.discriminator(64, width=4)(tf.zeros((1, 64, 64, 3))).shape == (1, 6, 6, 1)
    # The receptive field of one patch logit, from the layers' kernels and strides: 70x70 pixels. (Instance norm
    # lets global statistics through, so gradients cannot show it.)
    field, jump = 1, 1
    for layer in models.discriminator(128, width=2).layers:
        if isinstance(layer, keras.layers.Conv2D):
            field, jump = field + (layer.kernel_size[0] - 1) * jump, jump * layer.strides[0]
    assert field == 70


def test_reflection_padding_and_instance_norm_match_numpy():
    x = np.random.default_rng(0).normal(size=(2, 5, 6, 3)).astype(np.float32) * 3 + 1
    np.testing.assert_array_equal(models.ReflectionPad2D(2)(x).numpy(),
                                  np.pad(x, [(0, 0), (2, 2), (2, 2), (0, 0)], mode="reflect"))
    expected = (x - x.mean(axis=(1, 2), keepdims=True)) / np.sqrt(x.var(axis=(1, 2), keepdims=True) + 1e-5)
    np.testing.assert_allclose(models.instance_norm()(x).numpy(), expected, atol=1e-5)


def one_conv(name, filters, strides=1, activation=None):
    images = keras.Input((SIZE, SIZE, 3))
    layer = keras.layers.Conv2D(filters, 3, strides=strides, padding="same", activation=activation)
    return keras.Model(images, layer(images), name=name)


def tiny_gan(pool_size=0, minimal=False, **kwargs):
    """The paper's networks at their smallest, or (`minimal`) one convolution per network, for the replica test:
    the networks treat every image on its own, so only the step can tell replicas apart, and tracing one step of
    the full networks on two replicas would be most of this file's time."""
    keras.utils.set_random_seed(1)
    if minimal:
        networks = (models.pair(one_conv("a2b", 3, activation="tanh"), one_conv("b2a", 3, activation="tanh"),
                                "generators"),
                    models.pair(one_conv("d_a", 1, strides=2), one_conv("d_b", 1, strides=2), "discriminators"))
    else:
        networks = models.cycle_networks(SIZE, blocks=1, width=2)
    gan = models.CycleGAN(*networks, pool_size=pool_size, seed=3, **kwargs)
    gan.compile(keras.optimizers.SGD(0.01), keras.optimizers.SGD(0.01), loss="least-squares", adversarial_weight=2.0)
    return gan


def test_losses_by_hand():
    gan = tiny_gan()
    rng = np.random.default_rng(0)
    a, b = (tf.constant(rng.uniform(-1, 1, (2, SIZE, SIZE, 3)), tf.float32) for _ in range(2))
    batch = Batch((a, b))
    g_terms, _ = gan.generator_terms(batch)
    g, f = (lambda x: gan.g_ab(x).numpy()), (lambda x: gan.g_ba(x).numpy())
    an, bn = a.numpy(), b.numpy()
    cycle = np.abs(f(g(an)) - an).mean() + np.abs(g(f(bn)) - bn).mean()
    identity = np.abs(g(bn) - bn).mean() + np.abs(f(an) - an).mean()
    adversarial = np.mean((gan.d_a(f(bn)).numpy() - 1) ** 2) + np.mean((gan.d_b(g(an)).numpy() - 1) ** 2)
    assert float(g_terms["cycle"]) == pytest.approx(10 * cycle, rel=1e-5)
    assert float(g_terms["identity"]) == pytest.approx(5 * identity, rel=1e-5)
    assert float(g_terms["g_adv"]) == pytest.approx(adversarial, rel=1e-5)  # the paper's E[(D(G(x)) - 1)^2]
    d_terms = gan.discriminator_terms(batch)  # no pool: the current translations
    expected = sum(0.5 * np.mean((d(real).numpy() - 1) ** 2) + 0.5 * np.mean(d(fake).numpy() ** 2)
                   for d, real, fake in ((gan.d_a, an, f(bn)), (gan.d_b, bn, g(an))))
    assert float(d_terms["d_adv"]) == pytest.approx(expected, rel=1e-5)


def reference_pool(images, draws, size):
    """The paper's ImagePool.query, one image at a time, with the given draws."""
    pool, shown = [], []
    for image, (coin, slot) in zip(images, draws):
        if len(pool) < size:
            pool.append(image)
            shown.append(image)
        elif coin < 0.5:
            k = int(slot * size)
            shown.append(pool[k])
            pool[k] = image
        else:
            shown.append(image)
    return np.stack(shown), pool


def test_history_pool_matches_the_paper():
    rng = np.random.default_rng(0)
    images = rng.normal(size=(9, 2, 2, 1)).astype(np.float32)
    draws = rng.uniform(size=(9, 2)).astype(np.float32)
    draws[5:, 1] = 0.6  # two swaps in one batch hitting one slot: the second sees the first's image
    shown, buffer, filled = models.pool_step(tf.constant(images), tf.constant(draws), tf.zeros((3, 2, 2, 1)),
                                             tf.constant(0), 3)
    expected, pool = reference_pool(images, draws, 3)
    np.testing.assert_array_equal(shown.numpy(), expected)
    np.testing.assert_array_equal(buffer.numpy(), np.stack(pool))
    assert int(filled) == 3 and not np.array_equal(expected, images)


def fit_weights(strategy):
    """Two steps of global batch 4 with a pool of 2 (both filling and swapping), under `strategy`."""
    rng = np.random.default_rng(0)
    a, b = (rng.uniform(-1, 1, (8, SIZE, SIZE, 3)).astype(np.float32) for _ in range(2))
    with strategy.scope():
        gan = tiny_gan(pool_size=2, minimal=True, ema_decay=0.9)
    gan.fit(tf.data.Dataset.from_tensor_slices((a, b)).batch(4), epochs=1, verbose=0, shuffle=False)
    return [v.numpy() for v in gan.weights], gan


def test_two_replicas_match_one():
    single, gan = fit_weights(tf.distribute.OneDeviceStrategy("/cpu:0"))
    double, _ = fit_weights(resolve_strategy("mirrored"))
    assert [int(filled.numpy()) for _, filled in gan.pools] == [2, 2]
    initial = [v.numpy() for v in tiny_gan(pool_size=2, minimal=True, ema_decay=0.9).weights]
    assert sum(not np.allclose(x, y) for x, y in zip(single, initial)) >= 8  # both steps changed every network
    assert len(single) == len(double)
    for x, y in zip(single, double):
        np.testing.assert_allclose(x, y, atol=1e-5)


# ---------------------------------------------------------------------------------------------- the commands


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One epoch of a tiny CycleGAN on the synthetic pair, through the command line."""
    out = tmp_path_factory.mktemp("cyclegan") / "run"
    invoke("cyclegan", "train", "--out", out, "--scenes", 8, *TINY)
    return out


def test_training_writes_a_run_directory(run):
    for path in ("config.json", "checkpoints/checkpoint.npz", "samples/epoch_0001.png", "history.csv",
                 "export/cyclegan/a2b/1/saved_model.pb", "export/cyclegan/b2a/1/saved_model.pb"):
        assert (run / path).exists(), path
    with Image.open(run / "samples" / "epoch_0001.png") as grid:  # 4 rows of 6 images with a 2-pixel gutter
        assert grid.size == (6 * (SIZE + 2) + 2, 4 * (SIZE + 2) + 2)
    saved = json.loads((run / "config.json").read_text())
    assert saved["config"]["blocks"] == 1 and saved["config"]["jitter"] is False and saved["config"]["width"] == 4
    assert saved["options"]["loss"] == "least-squares" and saved["options"]["lr_decay_start"] == 0.5


def test_export_round_trip(run, tmp_path):
    gan = runs.load(APP, run)
    images = np.random.default_rng(0).uniform(-1, 1, (3, SIZE, SIZE, 3)).astype(np.float32)
    invoke("cyclegan", "export", run, "--out", tmp_path / "served", "--version", 2)
    for direction in ("a2b", "b2a"):
        expected = gan.translator(direction)(images).numpy()
        for folder in (run / "export" / "cyclegan", tmp_path / "served"):
            version = "1" if folder.name == "cyclegan" else "2"
            assert (folder / direction / version / "saved_model.pb").exists()
            served = ServingFunction(folder / direction)
            assert (served.input_names, served.output_name) == (["image"], "translation")
            np.testing.assert_allclose(served(images).numpy(), expected, atol=1e-5)
        # The handle over the export folder, over the checkpoint, and the same handle passed back in.
        for translator in (runs.open_model(APP, tmp_path / "served"),
                           Translator.from_gan(gan, None, str(run))):
            assert isinstance(translator, Translator) and translator.image_shape == (SIZE, SIZE, 3)
            assert runs.open_model(APP, translator) is translator
            np.testing.assert_allclose(lab.translate_images(translator, images, direction), expected, atol=1e-5)


def test_translate_a_file_and_a_folder(run, tmp_path):
    scenes = D.synthetic(3, SIZE, held_out=True)
    (tmp_path / "in" / "sub").mkdir(parents=True)
    for k, image in enumerate(scenes.b):
        Image.fromarray(image).save(tmp_path / "in" / ("sub" if k else "") / f"{k}.png")
    invoke("cyclegan", "translate", tmp_path / "in" / "0.png", run, "--direction", "b2a", "--out", tmp_path / "one.png")
    expected = lab.translate_images(run, D.to_float(scenes.b).numpy(), "b2a")
    with Image.open(tmp_path / "one.png") as image:
        np.testing.assert_allclose(np.asarray(image) / 127.5 - 1, expected[0], atol=1 / 127.5 + 1e-6)
    invoke("cyclegan", "translate", tmp_path / "in", run, "--direction", "b2a", "--out", tmp_path / "many")
    assert sorted(p.relative_to(tmp_path / "many").as_posix() for p in (tmp_path / "many").rglob("*.png")) == [
        "0_b2a.png", "sub/1_b2a.png", "sub/2_b2a.png"]


def test_translate_writes_beside_the_input_and_keeps_its_whole_frame(run, tmp_path, monkeypatch):
    """Not into the current directory, and not centre-cropped: a 100x80 photo comes back 100x80, with a note."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "photos").mkdir()
    rng = np.random.default_rng(0)
    photo = np.repeat(np.repeat(rng.integers(0, 256, (10, 8, 3), dtype=np.uint8), 10, 0), 10, 1)  # 100 x 80
    Image.fromarray(photo).save(tmp_path / "photos" / "wide.png")
    result = invoke("cyclegan", "translate", tmp_path / "photos" / "wide.png", run)
    target = tmp_path / "photos" / "wide_a2b.png"
    assert result.stdout.strip() == f"{tmp_path / 'photos' / 'wide.png'} -> {target}"
    assert f"1 of 1 images translated at the model's {SIZE}x{SIZE} and resized back" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos"]  # nothing in the working directory
    with Image.open(target) as image:
        assert image.size == (80, 100)
        shrunk = np.asarray(image.resize((SIZE, SIZE), Image.Resampling.BOX), np.float32) / 127.5 - 1
    square = np.asarray(Image.fromarray(photo).resize((SIZE, SIZE), Image.Resampling.BOX), np.float32) / 127.5 - 1
    expected = lab.translate_images(run, square[None], "a2b")[0]  # the whole frame, seen at the model's size
    assert np.abs(shrunk - expected).mean() < 0.1 < np.abs(shrunk - np.roll(expected, SIZE // 2, axis=1)).mean()


def test_evaluate_json_on_the_synthetic_pair(run):
    result = invoke("cyclegan", "evaluate", run, "--num", 6, "--json")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    scores, summary = rows[:-1], rows[-1]
    held_out = D.synthetic(6, SIZE, held_out=True)
    identity = metrics.psnr(held_out.a / 255.0, held_out.b / 255.0)
    for row in scores:
        if row["model"] == "identity":
            assert row["psnr"] == pytest.approx(identity, abs=1e-4)
    fake_b = lab.translate_images(run, D.to_float(held_out.a).numpy(), "a2b")
    a2b = next(r for r in scores if r["direction"] == "a2b" and r["model"] == "cyclegan")
    assert a2b["psnr"] == pytest.approx(metrics.psnr((fake_b + 1) / 2, held_out.b / 255.0), abs=1e-4)
    assert summary["images"] == 6 and summary["psnr_gain_a2b"] == pytest.approx(a2b["psnr"] - identity, abs=1e-4)


def test_folder_pair_trains_from_the_command_line(tmp_path):
    write_images(tmp_path / "horses", 4, seed=1)
    write_images(tmp_path / "zebras", 3, size=(30, 50), seed=2)
    out = tmp_path / "run"
    invoke("cyclegan", "train", "--domain-a", tmp_path / "horses", "--domain-b", tmp_path / "zebras", "--out", out,
           *TINY, "--no-jitter")
    saved = json.loads((out / "config.json").read_text())["config"]
    assert saved["data"] is None and saved["domain_a"] == str((tmp_path / "horses").resolve())
    assert (out / "export" / "cyclegan" / "b2a" / "1" / "saved_model.pb").exists()


def test_bad_inputs_are_one_line_errors(run, tmp_path, monkeypatch, capsys):
    (tmp_path / "empty").mkdir()
    write_images(tmp_path / "ok", 2)
    train = ["cyclegan", "train", "--out", tmp_path / "bad", *TINY]
    cases = {
        (*train, "--domain-a", tmp_path / "missing", "--domain-b", tmp_path / "ok"): "--domain-a",
        (*train, "--domain-a", tmp_path / "empty", "--domain-b", tmp_path / "ok"): "no image files",
        (*train, "--domain-a", tmp_path / "ok"): "--domain-b is missing: domain_a and domain_b go together",
        (*train, "--image-size", 30): "--image-size must be a multiple of 4",
        (*train, "--pack", 2): "--pack must be 1",
        (*train, "horse2cow"): "horse2cow: unknown dataset",
        (*train, str(tmp_path / "nowhere" / "x")): "no such folder",
        (*train, "--gp-weight", 1): "--gp-weight is not supported by cyclegan",
        ("cyclegan", "translate", tmp_path / "missing.png", run): "missing.png: no such file or folder",
        ("cyclegan", "translate", tmp_path / "ok", tmp_path / "no-model"): "no such run directory, SavedModel",
        ("cyclegan", "evaluate", run / "export" / "cyclegan"): "--data is needed",
        ("cyclegan", "evaluate", run, "--num", 1): "--num must be at least 2, got 1",
    }
    for args, message in cases.items():
        assert message in main_error(monkeypatch, capsys, *args)
    error = main_error(monkeypatch, capsys, "cyclegan", "translate", tmp_path / "ok", run, "--direction", "a2c")
    assert "--direction" in error and "a2c" in error


# ---------------------------------------------------------------------------------------------- paired (pix2pix)


def write_side_by_side(folder, count, seed=0, height=24):
    """Images whose right half is the left half's negative: A|B pairs with a known mapping."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for k in range(count):
        left = rng.integers(0, 256, (height, height, 3), dtype=np.uint8)
        Image.fromarray(np.concatenate([left, 255 - left], axis=1)).save(folder / f"{k:02d}.png")
    return folder


def test_paired_sources_keep_pairs_aligned(tmp_path):
    paired = D.synthetic(6, SIZE, paired=True)
    assert paired.paired and np.array_equal(paired.b[2], D.render(D.scenes(6, seed=0)[2], D.OUTLINED, SIZE))
    assert np.array_equal(paired.a, D.synthetic(6, SIZE).a)  # the A side is the unpaired run's
    # Side-by-side images, directly in a folder (a tenth held out) or in train/ with test/ beside it.
    write_side_by_side(tmp_path / "flat", 10)
    source = D.resolve(str(tmp_path / "flat"))
    train, test = D.load(source, SIZE, paired=True), D.load(source, SIZE, held_out=True)
    assert source.kind == "side_by_side" and (len(train.a), len(test.a)) == (9, 1) and test.paired
    np.testing.assert_allclose(train.a.astype(int) + train.b.astype(int), 255, atol=3)  # bicubic rounding
    write_side_by_side(tmp_path / "sets" / "train", 4)
    write_side_by_side(tmp_path / "sets" / "val", 2, seed=1)
    source = D.resolve(str(tmp_path / "sets"))
    assert source.folders[2].endswith("val") and D.load(source, SIZE, held_out=True).a.shape[0] == 2
    # Two folders pair by file name, whatever the order on disk; an image without a partner is named.
    images = write_images(tmp_path / "A", 3)
    (tmp_path / "B").mkdir()
    for k, name in enumerate(("02", "00", "01")):
        Image.open(images / f"{name}.png").transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(tmp_path / "B" / f"{name}.png")
    both = D.load(D.resolve(None, tmp_path / "A", tmp_path / "B"), 36, paired=True, held_out=False)
    assert (len(both.a), both.paired) == (2, True)  # a tenth (one) held out
    np.testing.assert_allclose(both.a[:, :, ::-1].astype(int), both.b.astype(int), atol=2)
    Image.open(images / "00.png").save(tmp_path / "B" / "extra.png")
    with pytest.raises(GanappsError, match=r"B/extra: has no partner of the same name .*\(1 unmatched\)"):
        D.load(D.resolve(None, tmp_path / "A", tmp_path / "B"), SIZE, paired=True)
    with pytest.raises(ParameterError, match="^paired horse2zebra: TensorFlow Datasets' cycle_gan sets are unpaired"):
        D.load(D.resolve("horse2zebra"), SIZE, paired=True)
    with pytest.raises(ParameterError, match="^image_size must be a power of two for the paired U-Net"):
        lab.Config(paired=True, image_size=48)


def test_paired_batches_give_both_images_one_crop_and_mirror():
    ramp = np.tile(np.arange(SIZE, dtype=np.uint8)[None, :, None] * 8, (SIZE, 1, 3))
    a = np.stack([ramp + k for k in range(8)])
    domains = D.Domains(a, 255 - a, ("a", "b"), "ramp", paired=True)
    for jitter in (False, True):
        batches = list(D.paired_batches(domains, 4, seed=3, jitter=jitter).take(3))
        for x, y in batches:
            np.testing.assert_allclose(x.numpy(), -y.numpy(), atol=1e-5)  # B = negative of A, after augmenting
        flips = [x[:, 0, 0, 0].numpy() > x[:, 0, -1, 0].numpy() for x, _ in batches]
        assert 0 < np.concatenate(flips).sum() < 12
        again = next(iter(D.paired_batches(domains, 4, seed=3, start_step=2, jitter=jitter)))
        np.testing.assert_array_equal(again[0].numpy(), batches[2][0].numpy())  # resumable
    with pytest.raises(GanappsError, match="not aligned pairs"):
        D.paired_batches(D.Domains(a, a[:3], ("a", "b"), "x"), 2, 0)


def test_unet_shapes_and_skips():
    g = models.unet_generator(SIZE, width=4)
    x = tf.random.uniform((2, SIZE, SIZE, 3), -1, 1)
    assert g(x).shape == x.shape
    downs = [layer for layer in g.layers if type(layer) is keras.layers.Conv2D]
    assert [layer.output.shape[1] for layer in downs] == [16, 8, 4, 2, 1]  # halved down to 1x1
    assert sum(isinstance(layer, keras.layers.Concatenate) for layer in g.layers) == 4  # a skip per level above 1x1
    # The critic sees input and output stacked: 6 channels.
    _, critics = models.paired_networks(SIZE, width=4)
    assert critics.get_layer("d_b").inputs[0].shape[-1] == 6


def tiny_pix2pix(**kwargs):
    keras.utils.set_random_seed(1)
    gan = models.Pix2Pix(*models.paired_networks(SIZE, width=2), seed=3, **kwargs)
    gan.compile(keras.optimizers.SGD(0.01), keras.optimizers.SGD(0.01), loss="least-squares", adversarial_weight=2.0)
    return gan


def test_pix2pix_losses_by_hand():
    gan = tiny_pix2pix()
    rng = np.random.default_rng(0)
    a, b = (rng.uniform(-1, 1, (2, SIZE, SIZE, 3)).astype(np.float32) for _ in range(2))
    batch = Batch((tf.constant(a), tf.constant(b)))
    g, f = gan.g_ab(a).numpy(), gan.g_ba(b).numpy()
    d_a = lambda condition, image: gan.d_a(np.concatenate([condition, image], -1)).numpy()
    d_b = lambda condition, image: gan.d_b(np.concatenate([condition, image], -1)).numpy()
    g_terms, _ = gan.generator_terms(batch)
    assert float(g_terms["l1"]) == pytest.approx(100 * (np.abs(g - b).mean() + np.abs(f - a).mean()), rel=1e-5)
    adversarial = np.mean((d_a(b, f) - 1) ** 2) + np.mean((d_b(a, g) - 1) ** 2)
    assert float(g_terms["g_adv"]) == pytest.approx(adversarial, rel=1e-5)
    # Each critic judges the true pair against the translated one, under the same condition.
    expected = (0.5 * np.mean((d_a(b, a) - 1) ** 2) + 0.5 * np.mean(d_a(b, f) ** 2)
                + 0.5 * np.mean((d_b(a, b) - 1) ** 2) + 0.5 * np.mean(d_b(a, g) ** 2))
    assert float(gan.discriminator_terms(batch)["d_adv"]) == pytest.approx(expected, rel=1e-5)
    # Swapping the condition changes the judgement: the critic is conditional.
    assert not np.allclose(d_b(a, b), d_b(b, b))


def test_pix2pix_download_is_cached_and_fails_offline_in_one_line(tmp_path, monkeypatch):
    import keras.utils

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    source = D.resolve("pix2pix:facades")
    assert (source.kind, source.names) == ("pix2pix", ("photo", "labels"))
    with pytest.raises(GanappsError, match="^pix2pix:facades: not in the Keras cache .* pass a folder"):
        D.load(source, SIZE, download=False)

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    with pytest.raises(GanappsError, match=r"could not download http://efrosgans.*facades.tar.gz \(Exception\)"):
        D.load(source, SIZE)

    def unpacked(name, url, extract, cache_dir):  # what get_file leaves in the cache, without the network
        folder = tmp_path / "keras" / "datasets" / f"{name}_extracted"
        write_side_by_side(folder / "facades" / "train", 3)
        write_side_by_side(folder / "facades" / "test", 2, seed=1)
        assert url == D.PIX2PIX_URL.format(name="facades") and extract
        return str(folder)

    monkeypatch.setattr(keras.utils, "get_file", unpacked)
    train = D.load(source, SIZE)
    assert train.paired and train.a.shape == (3, SIZE, SIZE, 3) and train.names == ("photo", "labels")
    monkeypatch.setattr(keras.utils, "get_file", offline)  # now cached: no second download
    assert D.load(source, SIZE, held_out=True, download=False).a.shape[0] == 2
    with pytest.raises(GanappsError, match="unknown pix2pix set"):
        D.resolve("pix2pix:nope")


@pytest.mark.slow
def test_pix2pix_beats_cyclegan_on_the_synthetic_truth(tmp_path):
    """The pairs are what pix2pix adds: each app default (64 px; CycleGAN's 3 blocks of width 16, pix2pix's U-Net
    of width 32) for a quarter of the default 1,600 steps lands far closer to the true mapping with pairs (here:
    22.3 / 25.6 against 16.5 / 18.4 dB). At 32 px and width 8 the two are within 2 dB: the outline is 1 px wide."""
    common = ["--epochs", 1, "--steps", 400, "--strategy", "default"]
    invoke("cyclegan", "train", "--out", tmp_path / "unpaired", *common)
    invoke("cyclegan", "train", "--out", tmp_path / "paired", "--paired", *common)
    result = invoke("cyclegan", "evaluate", tmp_path / "paired", "--versus", tmp_path / "unpaired", "--num", 50,
                    "--json")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    psnr = {(r["direction"], r["model"]): r["psnr"] for r in rows if "psnr" in r}
    assert set(psnr) == {(d, m) for d in ("a2b", "b2a") for m in ("pix2pix", "cyclegan", "identity")}
    for direction in ("a2b", "b2a"):
        assert psnr[direction, "pix2pix"] > psnr[direction, "cyclegan"] + 3.0, psnr
    assert rows[-1]["psnr_gain_a2b"] == pytest.approx(psnr["a2b", "pix2pix"] - psnr["a2b", "identity"])


def test_paired_run_is_scored_beside_the_unpaired_one(run, tmp_path):
    out = tmp_path / "paired"
    invoke("cyclegan", "train", "--paired", "--out", out, "--scenes", 8, *TINY)
    config = json.loads((out / "config.json").read_text())["config"]
    assert config["paired"] is True and config["l1_weight"] == 100.0
    assert (out / "export" / "cyclegan" / "b2a" / "1" / "saved_model.pb").exists()
    rows = [json.loads(line) for line in
            invoke("cyclegan", "evaluate", out, "--versus", run, "--versus", run / "export" / "cyclegan",
                   "--num", 4, "--json").stdout.splitlines()]
    assert [r["model"] for r in rows if r.get("direction") == "a2b"] == ["pix2pix", "cyclegan", "model", "identity"]
    # The unpaired run's checkpoint and its export translate alike.
    by = {(r["direction"], r["model"]): r["psnr"] for r in rows[:-1]}
    assert by["b2a", "cyclegan"] == pytest.approx(by["b2a", "model"], abs=1e-3)
    table = invoke("cyclegan", "evaluate", out, "--versus", run, "--num", 4).stdout
    assert "pix2pix" in table and "cyclegan" in table
