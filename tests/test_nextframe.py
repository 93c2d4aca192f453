"""The nextframe app: Moving MNIST physics, sequence pipelines, networks and losses, and every command on one
tiny run trained through the CLI."""

import json
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf
from cli_helpers import invoke, main_error
from conftest import run_cli
from ganapps.apps.nextframe import data as D
from ganapps.apps.nextframe import lab, models
from ganapps.apps.nextframe.app import APP, Predictor
from ganapps.apps.nextframe.recipe import Config
from PIL import Image

from ganapps.core import runs
from ganapps.core.errors import GanappsError, ParameterError

SIZE, CONTEXT, FUTURE = 16, 3, 2
TINY = ["--image-size", SIZE, "--context", CONTEXT, "--future", FUTURE, "--width", 4, "--sequences", 8,
        "--batch-size", 4]


def write_frames(folder, sizes):
    folder.mkdir(parents=True)
    for k, (width, height) in enumerate(sizes):
        Image.fromarray(np.full((height, width), 40 * k, np.uint8)).save(folder / f"{k:03d}.png")
    return folder


# ---------------------------------------------------------------------------------------------- Moving MNIST


def test_digits_keep_their_speed_and_reflect_at_the_borders():
    paths = D.trajectories(np.random.default_rng(0), count=300)
    speed = np.linalg.norm(paths.velocities, axis=-1)
    np.testing.assert_allclose(speed, 1.0, atol=1e-12)  # |v| never changes, bounces included
    assert paths.positions.min() >= 0.0 and paths.positions.max() <= 1.0
    corners = paths.pixels()
    assert corners.min() >= 0 and corners.max() + D.DIGIT <= D.CANVAS  # the whole digit stays on the canvas

    previous, current = paths.velocities[:, :-1], paths.velocities[:, 1:]
    at_wall = (paths.positions[:, 1:] == 0.0) | (paths.positions[:, 1:] == 1.0)
    assert at_wall.sum() > 50
    np.testing.assert_array_equal(current[at_wall], -previous[at_wall])  # the component across the wall flips
    np.testing.assert_array_equal(current[~at_wall], previous[~at_wall])
    free = ~at_wall.any(axis=-1)
    steps = np.diff(paths.positions, axis=1)[free]
    np.testing.assert_allclose(steps, D.STEP * current[free], atol=1e-12)  # away from walls: exactly v * step


def test_digits_combine_by_pixelwise_maximum():
    rng = np.random.default_rng(1)
    digits = rng.integers(0, 256, size=(2, D.DIGIT, D.DIGIT), dtype=np.uint8)
    corners = np.array([[[10, 10], [20, 30]], [[14, 16], [20, 34]]], np.int32)  # overlapping in both frames
    frames = D.render(digits, corners)
    for frame, (a, b) in zip(frames, corners.transpose(1, 0, 2)):
        first, second = np.zeros((2, D.CANVAS, D.CANVAS), np.uint8)
        first[a[0] : a[0] + D.DIGIT, a[1] : a[1] + D.DIGIT] = digits[0]
        second[b[0] : b[0] + D.DIGIT, b[1] : b[1] + D.DIGIT] = digits[1]
        np.testing.assert_array_equal(frame, np.maximum(first, second))

    clips = D.moving_mnist(digits, count=3, seed=0)
    assert clips.shape == (3, D.LENGTH, D.CANVAS, D.CANVAS, 1) and clips.dtype == np.uint8


def test_held_out_sequences_use_other_digits_and_mnist_digits_load(shared_data):
    training, held_out = D.glyph_digits(), D.glyph_digits(held_out=True)
    assert training.shape[1:] == held_out.shape[1:] == (D.DIGIT, D.DIGIT)
    assert not (training[:, None] == held_out[None, :50]).all(axis=(2, 3)).any()
    csv = str(shared_data / "mnist" / "mnist_5k.csv.gz")
    train_digits, test_digits = D.mnist_digits(csv), D.mnist_digits(csv, held_out=True)
    assert len(train_digits) + len(test_digits) == 5000
    sequences = D.load_moving_mnist(2, digits=csv)
    assert sequences.frames.shape == (2 * D.LENGTH, D.CANVAS, D.CANVAS, 1) and sequences.frames.max() > 200


# ---------------------------------------------------------------------------------------------- pipelines


def test_pairs_take_consecutive_frames_within_one_sequence():
    frames = np.arange(9, dtype=np.uint8)[:, None, None, None] * np.ones((1, 4, 4, 1), np.uint8)
    sequences = D.Sequences(frames, np.array([5, 4]), "test")  # frames 0-4 and 5-8
    np.testing.assert_array_equal(sequences.windows(3), [0, 1, 2, 5, 6])
    context, target = next(iter(D.pairs(sequences, 2, batch_size=5, seed=0)))
    assert context.shape == (5, 4, 4, 2) and target.shape == (5, 1, 4, 4, 1)
    first = np.round((context.numpy()[:, 0, 0] + 1.0) * 127.5)
    last = np.round((target.numpy()[:, 0, 0, 0, 0] + 1.0) * 127.5)
    np.testing.assert_array_equal(first[:, 1], first[:, 0] + 1)  # oldest frame first on the channels
    np.testing.assert_array_equal(last, first[:, 0] + 2)
    assert sorted(first[:, 0]) == [0, 1, 2, 5, 6]
    # A roll-out of 2 steps trains on 2 + 2 consecutive frames: windows 0, 1 and 5 only.
    context, future = next(iter(D.pairs(sequences, 2, batch_size=3, seed=0, future=2)))
    assert context.shape == (3, 4, 4, 2) and future.shape == (3, 2, 4, 4, 1)
    first = np.round((context.numpy()[:, 0, 0, 0] + 1.0) * 127.5)
    np.testing.assert_array_equal(np.round((future.numpy()[:, :, 0, 0, 0] + 1.0) * 127.5),
                                  first[:, None] + [2, 3])
    assert sorted(first) == [0, 1, 5]
    clip = np.random.default_rng(0).normal(size=(2, 3, 4, 4, 3)).astype(np.float32)  # [N, K, S, S, C]
    stacked = D.stack_context(clip).numpy()
    assert stacked.shape == (2, 4, 4, 9)
    for k in range(3):
        np.testing.assert_array_equal(stacked[..., 3 * k : 3 * k + 3], clip[:, k])


def test_the_training_stream_is_fresh_deterministic_and_resumes_exactly():
    stream = D.moving_mnist_stream(D.GLYPHS, context=3, future=2, batch_size=2, seed=5, size=32)
    batches = [tuple(t.numpy() for t in batch) for batch in stream.take(4)]
    context, future = batches[0]
    assert context.shape == (2, 32, 32, 3) and future.shape == (2, 2, 32, 32, 1)
    resumed = next(iter(D.moving_mnist_stream(D.GLYPHS, 3, 2, 2, seed=5, start_step=3, size=32)))
    for a, b in zip(batches[3], resumed):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(batches[0][0], batches[1][0])  # every batch new
    # Batch k is Moving MNIST of the training digits seeded [seed, k], fitted to the size, in [-1, 1].
    clips = D.moving_mnist(D.digit_pool(D.GLYPHS), 2, [5, 1], length=5)
    expected = np.stack([D.fit_frames(clip, 32, 1) for clip in clips]).astype(np.float32) / 127.5 - 1.0
    np.testing.assert_allclose(batches[1][1], expected[:, 3:], atol=1e-6)
    np.testing.assert_allclose(batches[1][0], D.stack_context(expected[:, :3]), atol=1e-6)


def test_longer_held_out_sequences_continue_the_same_ones():
    short, long = D.load_moving_mnist(2, held_out=True), D.load_moving_mnist(2, held_out=True, length=30)
    assert list(long.lengths) == [30, 30]
    np.testing.assert_array_equal(long.clips(30)[:, :20], short.clips(20))


def test_sequence_folders_and_frame_errors(tmp_path):
    write_frames(tmp_path / "seqs" / "a", [(20, 16)] * 5)
    write_frames(tmp_path / "seqs" / "b", [(20, 16)] * 4)
    sequences = D.load_folder(tmp_path / "seqs", size=16)
    assert sequences.frames.shape == (9, 16, 16, 1) and list(sequences.lengths) == [5, 4]
    write_frames(tmp_path / "odd", [(16, 16), (16, 16), (20, 16)])
    with pytest.raises(GanappsError, match="002.png: frame is 20x16, but the first frame"):
        D.read_frames(tmp_path / "odd")
    with pytest.raises(GanappsError, match="no sequence subfolders"):
        D.load_folder(tmp_path / "odd", size=16)


def test_tfds_moving_mnist_mocked_and_offline(tmp_path):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=3):
        sequences = D.load_tfds("moving_mnist")
    assert sequences.frames.shape == (3 * 20, 64, 64, 1) and list(sequences.lengths) == [20] * 3
    with pytest.raises(GanappsError, match="tfds:moving_mnist: not in the local TensorFlow Datasets folder"):
        D.load_tfds("moving_mnist", download=False, data_dir=str(tmp_path))


# ---------------------------------------------------------------------------------------------- networks and losses


@pytest.mark.parametrize("kind", ["simvp", "multiscale", "convlstm"])
def test_generators_discriminator_and_rollout_shapes(kind):
    g = models.generator(kind, image_size=32, channels=3, context=2, future=3, width=4)
    context = tf.random.uniform((5, 32, 32, 6), -1.0, 1.0)
    outputs = g(context)
    assert [tuple(o.shape) for o in outputs] == [(5, 32, 32, 9), (5, 16, 16, 9), (5, 8, 8, 9)]
    if kind != "multiscale":  # whose coarser scales are predictions of their own
        np.testing.assert_allclose(outputs[1], _pool(outputs[0].numpy(), 2), atol=1e-5)  # coarser: averages
    d = models.discriminator(32, 3, context=2, future=3, width=4)
    assert d([*outputs, context]).shape == (5, 3 + 2 * 3)  # a clip critic per scale, a frame critic per frame
    clip = tf.random.uniform((5, 2, 32, 32, 3), -1.0, 1.0)  # [N, K, S, S, C]
    predictor = models.clip_model(g, channels=3)
    once = predictor(clip)
    assert once.shape == (5, 3, 32, 32, 3)
    stacked = g(D.stack_context(clip))[0].numpy()
    for t in range(3):  # frame t of the clip model is channels 3t ... 3t + 2 of the stacked output, clipped
        np.testing.assert_allclose(once[:, t], np.clip(stacked[..., 3 * t : 3 * t + 3], -1, 1), atol=1e-5)
    frames = models.rollout(predictor, clip, steps=7)  # 3 passes, the last one cut to 1 frame
    assert frames.shape == (5, 7, 32, 32, 3)
    assert float(tf.reduce_min(frames)) >= -1.0 and float(tf.reduce_max(frames)) <= 1.0


def test_simvp_predicts_each_sample_from_its_own_frames_only():
    """Frames travel through the batch axis inside the generator: a sample's prediction must not depend on
    another sample's frames, and must depend on each of its own context frames."""
    g = models.simvp_generator(image_size=16, channels=1, context=3, future=2, width=4, blocks=1)
    context = np.random.default_rng(0).uniform(-1, 1, (2, 16, 16, 3)).astype(np.float32)
    base = g(context)[0].numpy()
    other = context.copy()
    other[1] = 0.0
    np.testing.assert_allclose(g(other)[0].numpy()[0], base[0], atol=1e-6)
    for k in range(3):
        changed = context.copy()
        changed[0, ..., k] = 0.0
        assert np.abs(g(changed)[0].numpy()[0] - base[0]).max() > 1e-4, k


def test_rollout_feeds_predictions_back():
    # A predictor of 2 frames a pass, last frame + 1 and + 2: the k-th predicted frame must be the last context
    # frame + k across passes.
    context = np.zeros((1, 2, 2, 2, 1), np.float32)
    context[:, 1] = 5.0
    step = np.array([1.0, 2.0], np.float32).reshape(1, 2, 1, 1, 1)
    frames = models.rollout(lambda x: x[:, -1:] + step, context, steps=5).numpy()
    np.testing.assert_array_equal(frames[0, :, 0, 0, 0], [6.0, 7.0, 8.0, 9.0, 10.0])


def test_gradient_difference_loss_by_hand():
    target = np.array([[0.0, 2.0], [1.0, 1.0]], np.float32).reshape(1, 2, 2, 1)
    prediction = np.array([[1.0, 1.0], [1.0, 0.0]], np.float32).reshape(1, 2, 2, 1)
    # Vertical |differences|: target (1, 1), prediction (0, 1) -> |1 - 0|, |1 - 1| = 1, 0.
    # Horizontal: target (2, 0), prediction (0, 1) -> 2, 1.
    assert float(models.gradient_difference_loss(prediction, target, alpha=1.0)) == pytest.approx((1 + 0) / 2 + (2 + 1) / 2)
    assert float(models.gradient_difference_loss(prediction, target, alpha=2.0)) == pytest.approx((1 + 0) / 2 + (4 + 1) / 2)
    assert float(models.lp_loss(prediction, target, 1)) == pytest.approx((1 + 1 + 0 + 1) / 4)
    assert float(models.lp_loss(prediction, target, 2)) == pytest.approx((1 + 1 + 0 + 1) / 4)
    assert float(models.gradient_difference_loss(target, target)) == 0.0


def _pool(frames, factor):
    """NumPy average pooling of `[N, S, S, C]` by `factor`: the pyramid, computed independently."""
    n, size, _, c = frames.shape
    return frames.reshape(n, size // factor, factor, size // factor, factor, c).mean(axis=(2, 4))


def _gdl(prediction, target):
    def grads(x):
        return np.abs(np.diff(x, axis=1)), np.abs(np.diff(x, axis=2))

    (pi, pj), (ti, tj) = grads(prediction), grads(target)
    return np.abs(ti - pi).mean() + np.abs(tj - pj).mean()


def _last_frame_plus_bias(size, context, bias):
    """A generator that predicts its last context frame plus a trainable constant, as a pyramid."""
    frames = keras.Input((size, size, context))
    last = frames[..., -1:]
    frame = keras.layers.Dense(1, kernel_initializer="zeros", bias_initializer=keras.initializers.Constant(bias))(last)
    frame = frame + last
    return keras.Model(frames, [frame, *(keras.layers.AveragePooling2D(f)(frame) for f in models.SCALES[1:])])


def test_rollout_training_scores_every_step_by_hand():
    """rollout 2: step 1 predicts from the true context, step 2 from [context[1:], clipped step 1]; the Lp and GDL
    terms average both steps over the three scales, the discriminator judges both steps beside their true
    contexts, and the gradient flows through the fed-back prediction."""
    size, k, bias = 16, 2, 0.25
    rng = np.random.default_rng(0)
    clip = rng.uniform(-1.0, 1.0, (3, k + 2, size, size, 1)).astype(np.float32)  # [N, K + R, S, S, C]
    clip[:, k - 1, :2] = 0.9  # some pixels the bias pushes past 1: step 2 must read them clipped
    context, future = D.stack_context(clip[:, :k]), tf.constant(clip[:, k:])
    gan = models.NextFrameGAN(_last_frame_plus_bias(size, k, bias),
                              models.discriminator(size, 1, k, future=1, width=4), rollout=2)
    batch = gan.unpack_batch((context, future))
    for step in range(2):
        np.testing.assert_array_equal(batch.condition[step], D.stack_context(clip[:, step : step + k]))
    fake = gan.generate(batch)
    step1 = clip[:, k - 1] + bias
    step2 = np.clip(step1, -1.0, 1.0) + bias
    for predicted, expected in zip(fake, (step1, step2)):
        for factor, scale in zip(models.SCALES, predicted):
            np.testing.assert_allclose(scale, _pool(expected, factor), atol=1e-6)
    assert gan.discriminate(fake, batch).logits.shape == (2 * 3, 3 + 2)

    terms = [(_pool(p, f), _pool(clip[:, k + r], f)) for r, p in enumerate((step1, step2)) for f in models.SCALES]
    lp = np.mean([np.abs(p - t).mean() for p, t in terms])
    gdl = np.mean([_gdl(p, t) for p, t in terms])
    variables = gan.generator.trainable_variables
    with tf.GradientTape() as tape:
        losses = gan.generator_extra_losses(batch, gan.generate(batch), None)
    assert float(losses["lp"]) == pytest.approx(lp, rel=1e-5)
    assert float(losses["gdl"]) == pytest.approx(gdl, rel=1e-5)
    # d lp / d bias: step 1 moves by 1 per unit bias, step 2 by 2 where step 1 was not clipped (and by 1 where it
    # was), each scale's mean of sign(prediction - truth) times that.
    slope = [np.ones_like(step1), np.where(np.abs(step1) < 1.0, 2.0, 1.0)]
    expected = np.mean([(np.sign(_pool(p, f) - _pool(clip[:, k + r], f)) * _pool(slope[r], f)).mean()
                        for r, p in enumerate((step1, step2)) for f in models.SCALES])
    gradient = tape.gradient(losses["lp"], variables[-1])  # the bias
    assert float(gradient[0]) == pytest.approx(expected, rel=1e-4)


def test_passes_of_several_frames_read_their_own_windows():
    """rollout 2 of a generator predicting T = 2 frames: pass 2's true context is frames 2 ... K + 1 of the clip
    and its truth frames K + 2, K + 3, each a pyramid of the frames stacked on channels."""
    size, k = 16, 3
    clip = np.random.default_rng(1).uniform(-1, 1, (2, k + 4, size, size, 1)).astype(np.float32)
    g = models.generator("multiscale", size, 1, k, future=2, width=4)
    gan = models.NextFrameGAN(g, models.discriminator(size, 1, k, future=2, width=4), rollout=2)
    batch = gan.unpack_batch((D.stack_context(clip[:, :k]), tf.constant(clip[:, k:])))
    for r in range(2):
        np.testing.assert_array_equal(batch.condition[r], D.stack_context(clip[:, 2 * r : 2 * r + k]))
        truth = D.stack_context(clip[:, k + 2 * r : k + 2 * r + 2]).numpy()
        for factor, scale in zip(models.SCALES, batch.real[r]):
            np.testing.assert_allclose(scale, _pool(truth, factor), atol=1e-6)
    with pytest.raises(ValueError, match="rollout 2 of 2 frames needs 4"):
        gan.unpack_batch((D.stack_context(clip[:, :k]), tf.constant(clip[:, k : k + 3])))


@pytest.mark.parametrize("adversarial_weight", [0.05, 0.0])
def test_lp_only_model_never_touches_the_discriminator(adversarial_weight):
    config = Config(image_size=SIZE, context=CONTEXT, future=FUTURE, width=4, channels=1,
                    adversarial_weight=adversarial_weight)
    gan = APP.build(config, APP.options(steps=2))
    before = [w.numpy() for w in gan.discriminator.weights]
    g_before = [w.numpy() for w in gan.generator.weights]
    sequences = D.load_moving_mnist(2)
    sequences = D.Sequences(D.fit_frames(sequences.frames, SIZE, 1), sequences.lengths, sequences.source)
    history = gan.fit(D.pairs(sequences, CONTEXT, 4, seed=0, future=FUTURE), steps_per_epoch=2, epochs=1,
                      verbose=0, shuffle=False).history
    d_changed = any(not np.array_equal(a, w.numpy()) for a, w in zip(before, gan.discriminator.weights))
    assert d_changed == (adversarial_weight > 0)
    assert any(not np.array_equal(a, w.numpy()) for a, w in zip(g_before, gan.generator.weights))
    assert {"lp", "gdl", "g_loss"} <= set(history)
    assert ("d_loss" in history) == (adversarial_weight > 0)


# ---------------------------------------------------------------------------------------------- the commands


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """One epoch of a tiny GAN trained through the console entry point in a fresh process."""
    out = tmp_path_factory.mktemp("nextframe") / "run"
    done = run_cli("nextframe", "train", "--out", out, "--epochs", 1, "--steps", 3, *TINY)
    assert done.returncode == 0, done.stderr
    return out


def test_cli_training_writes_a_run_directory(tiny_run):
    for path in ("config.json", "checkpoints/checkpoint.npz", "samples/epoch_0001.png", "history.csv",
                 "export/nextframe/1/saved_model.pb"):
        assert (tiny_run / path).exists(), path
    config = runs.read_run(tiny_run, APP).config
    assert config.context == CONTEXT and config.future == FUTURE and config.channels == 1  # channels resolved
    assert config.generator == "simvp" and config.rollout == 1 and config.data == "moving-mnist"


def test_a_run_from_before_future_frames_still_opens(tmp_path):
    """Runs written before `--future` predicted one frame a pass (their config.json has no `future`)."""
    old = tmp_path / "old"
    done = run_cli("nextframe", "train", "--out", old, "--epochs", 1, "--steps", 1, *TINY, "--future", 1,
                   "--generator", "multiscale")
    assert done.returncode == 0, done.stderr
    shutil.rmtree(old / "export")
    record = json.loads((old / "config.json").read_text())
    del record["config"]["future"]
    (old / "config.json").write_text(json.dumps(record))
    assert runs.read_run(old, APP).config.future == 1
    assert Predictor.from_gan(runs.load(APP, old), runs.read_run(old, APP).config, "old").future == 1


def test_export_round_trip(tiny_run, tmp_path):
    keras_model = models.clip_model(runs.load(APP, tiny_run).sampling_generator, channels=1)
    frames = np.random.default_rng(0).uniform(-1, 1, (3, CONTEXT, SIZE, SIZE, 1)).astype(np.float32)
    expected = keras_model(frames).numpy()
    assert expected.shape == (3, FUTURE, SIZE, SIZE, 1)
    invoke("nextframe", "export", tiny_run, "--out", tmp_path / "again")
    for folder in (tiny_run / "export" / "nextframe", tmp_path / "again"):  # written by training, by `export`
        served = Predictor.from_saved_model(folder)
        assert served.function.input_names == ["frames"] and served.function.output_name == "predicted"
        assert (served.context, served.future, served.frame_shape) == (CONTEXT, FUTURE, (SIZE, SIZE, 1))
        np.testing.assert_allclose(served(frames).numpy(), expected, atol=1e-5)
        info = json.loads((folder / "1" / "assets.extra" / "serving.json").read_text())
        assert info["context_frames"] == CONTEXT and info["predicted_frames"] == FUTURE
        assert info["adversarial_weight"] == Config().adversarial_weight


def test_predict_writes_a_gif_and_frames_and_names_its_context(tiny_run, tmp_path):
    frames = [Image.fromarray(f[..., 0]) for f in D.load_moving_mnist(1, held_out=True).frames[:5]]
    frames[0].save(tmp_path / "clip.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    done = invoke("nextframe", "predict", tmp_path / "clip.gif", tiny_run, "--steps", 4, "--out", tmp_path / "out")
    assert f"4 predicted frames after {CONTEXT} context frames (frames 3-5 of 5)" in done.stdout
    with Image.open(tmp_path / "out" / "prediction.gif") as gif:
        assert gif.n_frames == CONTEXT + 4 and gif.size == (SIZE, SIZE)
    assert sorted(p.name for p in (tmp_path / "out").glob("frame_*.png")) == [f"frame_{k:02d}.png" for k in range(1, 5)]


def test_evaluate_json_reports_every_horizon(tiny_run):
    result = invoke("nextframe", "evaluate", tiny_run, "--baseline", tiny_run / "export" / "nextframe",
                    "--sequences", 4, "--json")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    scores, summary = rows[:-1], rows[-1]
    assert {(r["model"], r["horizon"]) for r in scores} == {
        (m, h) for m in ("model", "baseline", "copy-last", "blank") for h in range(1, 11)}
    fields = ("mse_per_frame", "mae_per_frame", "psnr", "ssim", "sharpness", "gradient")
    assert all(np.isfinite([r[f] for f in fields]).all() for r in scores)
    same = {(r["horizon"], r["mse_per_frame"]) for r in scores if r["model"] == "model"}
    assert same == {(r["horizon"], r["mse_per_frame"]) for r in scores if r["model"] == "baseline"}
    model = sorted((r for r in scores if r["model"] == "model"), key=lambda r: r["horizon"])
    assert summary["mse_per_frame_by_horizon"] == [r["mse_per_frame"] for r in model]
    assert summary["mse_per_frame"] == pytest.approx(np.mean([r["mse_per_frame"] for r in model]))
    assert summary["ssim"] == pytest.approx(np.mean([r["ssim"] for r in model]))
    assert summary["sharpness"] == pytest.approx(np.mean([r["sharpness"] for r in model]))
    assert len(summary["blank_mse_per_frame_by_horizon"]) == 10
    assert summary["sequences"] == 4 and summary["sharper_than_baseline"] is False
    assert summary["baseline"] == "baseline" and summary["baseline_differs"] is None  # a SavedModel has no run
    assert ("ConvLSTM", 103.3) in {(r["method"], r["mse_per_frame"]) for r in summary["published"]}


def _scaled_last_frame(size, context, future, factor):
    """A predictor of `future` frames, each the last context frame times `factor` (clipped as every model)."""
    frames = keras.Input((context, size, size, 1))
    last = frames[:, -1:] * factor
    return Predictor.from_keras(keras.Model(frames, keras.ops.repeat(last, future, axis=1)), "scaled by hand")


def test_the_protocol_against_numpy():
    """MSE and MAE per frame (sums over the 64x64 frame in [0, 1], means over sequences), the copy-last and blank
    rows, sharpness and the roll-out, all recomputed here from the same generated held-out sequences."""
    k, horizons, count = 10, 4, 3
    evaluation = lab.evaluate(_scaled_last_frame(64, k, 2, 0.5), sequences=count, horizons=horizons, seed=2)
    clips = D.load_moving_mnist(count, held_out=True, seed=2, length=k + horizons).clips(k + horizons)
    clips = clips.astype(np.float64) / 255.0  # [N, K + H, 64, 64, 1] in [0, 1]
    last, truth = clips[:, k - 1], clips[:, k:]
    # In [-1, 1], pass 1 is 0.5 * last, pass 2 reads it back: 0.25 * last. Mapped to [0, 1]: (1 + f (2x - 1)) / 2.
    model = [(1 + f * (2 * last - 1)) / 2 for f in (0.5, 0.5, 0.25, 0.25)]
    blank = np.median(clips[:, :k], axis=(1, 2, 3, 4))[:, None, None, None]
    expected = {"model": model, "copy-last": [last] * horizons, "blank": [np.broadcast_to(blank, last.shape)] * 4}
    for name, predictions in expected.items():
        for s, prediction, target in zip(evaluation.of(name), predictions, truth.transpose(1, 0, 2, 3, 4)):
            error = prediction - target
            assert s.mse_per_frame == pytest.approx((error ** 2).sum(axis=(1, 2, 3)).mean(), rel=1e-4), name
            assert s.mae_per_frame == pytest.approx(np.abs(error).sum(axis=(1, 2, 3)).mean(), rel=1e-4), name
            grad = lambda x: (np.abs(np.diff(x, axis=1))[:, :, 1:] + np.abs(np.diff(x, axis=2))[:, 1:]).mean()  # noqa: E731
            assert s.sharpness == pytest.approx(grad(prediction) / grad(target), rel=1e-4), name
    assert [s.horizon for s in evaluation.of("model")] == [1, 2, 3, 4]
    assert evaluation.mean("blank", "mse_per_frame") > 50  # two digits missed: about 150 per frame
    assert evaluation.beats_blank is False and evaluation.baseline is None
    assert "tfds:moving_mnist" in evaluation.note and "seed 2" in evaluation.note


def test_evaluate_scores_every_model_on_the_same_frames():
    """A model that copies its last context frame scores exactly as the copy-last row: same context, same truth."""
    copy_last = _scaled_last_frame(SIZE, CONTEXT, FUTURE, 1.0)
    evaluation = lab.evaluate(copy_last, sequences=3, horizons=4)
    assert [s.mse_per_frame for s in evaluation.of("model")] == [s.mse_per_frame for s in evaluation.of("copy-last")]
    assert evaluation.of("blank")[0].mse_per_frame > 0 and evaluation.of("blank")[0].gradient == 0


def test_evaluate_on_the_tfds_test_set_mocked():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=2):
        evaluation = lab.evaluate(_scaled_last_frame(64, 10, 10, 1.0), data="tfds:moving_mnist", horizons=10)
    assert evaluation.sequences == 2 and evaluation.data == "tfds:moving_mnist" and evaluation.note == ""
    assert [s.mse_per_frame for s in evaluation.of("model")] == [s.mse_per_frame for s in evaluation.of("copy-last")]


def test_evaluate_names_the_lp_only_run_and_what_differs(tiny_run, tmp_path):
    lp_only = tmp_path / "lp-only"
    shutil.copytree(tiny_run, lp_only)
    config = json.loads((lp_only / "config.json").read_text())
    config["config"]["adversarial_weight"] = 0
    config["options"]["steps"] = 7
    (lp_only / "config.json").write_text(json.dumps(config))
    evaluation = lab.evaluate(tiny_run, lp_only, sequences=2, horizons=2)
    assert {s.model for s in evaluation.scores} == {"model", "lp-only", "copy-last", "blank"}
    assert evaluation.baseline == "lp-only" and evaluation.baseline_differs == ["steps 3 vs 7"]
    assert lab.evaluate(tiny_run, tiny_run, sequences=2, horizons=1).baseline_differs == []


def test_bad_inputs_are_one_line_errors(tiny_run, tmp_path, monkeypatch, capsys):
    write_frames(tmp_path / "short", [(16, 16)] * 2)
    write_frames(tmp_path / "mixed", [(16, 16), (16, 16), (24, 16), (16, 16)])
    (tmp_path / "not.gif").write_bytes(b"GIF89a garbage")
    cases = {
        (tmp_path / "missing", tiny_run): "missing: no such file or folder",
        (tmp_path / "short", tiny_run): f"2 frame(s), but the model predicts from {CONTEXT} past frames",
        (tmp_path / "mixed", tiny_run): "002.png: frame is 24x16",
        (tmp_path / "not.gif", tiny_run): "not a readable GIF",
        (tmp_path / "short", tmp_path / "no-model"): "no such run directory, SavedModel",
    }
    for (clip, model), message in cases.items():
        assert message in main_error(monkeypatch, capsys, "nextframe", "predict", clip, model)
    assert "--image-size must be a multiple of 16" in main_error(monkeypatch, capsys, "nextframe", "train",
                                                                 "--image-size", 40, "--out", tmp_path / "bad")
    for flag in ("--rollout", "--future"):
        assert f"{flag} must be at least 1, got 0" in main_error(monkeypatch, capsys, "nextframe", "train", *TINY,
                                                                 flag, 0, "--out", tmp_path / "bad")
    assert "--gp-weight is not supported by nextframe" in main_error(monkeypatch, capsys, "nextframe", "train",
                                                                   "--gp-weight", 1, "--out", tmp_path / "bad")
    with pytest.raises(ParameterError, match="^steps must be at least 1, got 0"):  # the library names its parameter
        lab.predict(tiny_run, tmp_path / "short", steps=0)
    with pytest.raises(ParameterError, match=rf"^clip must be \({CONTEXT}, {SIZE}, {SIZE}, 1\) frames"):
        lab.predict(tiny_run, np.zeros((CONTEXT, 32, 32, 1), np.float32))  # a wrong frame size
    # The same through a fresh process: non-zero exit, no traceback.
    done = run_cli("nextframe", "predict", tmp_path / "short", tiny_run)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert [line for line in done.stderr.splitlines() if line.startswith("Error")] == [
        f"Error: {tmp_path / 'short'}: 2 frame(s), but the model predicts from {CONTEXT} past frames"]
