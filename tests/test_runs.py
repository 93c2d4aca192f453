"""Runs: resume after a crash gives the uninterrupted result, NaN stops cleanly, export round trip, health."""

import io
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace

import keras
import numpy as np
import pytest
import tensorflow as tf
from ganapps.apps.toy import models
from ganapps.apps.toy.data import grid

from ganapps.core.callbacks import GanHealth, RunCheckpoint
from ganapps.core.config import TrainOptions
from ganapps.core.data import array_dataset
from ganapps.core.errors import GanappsError, Interrupted, ParameterError
from ganapps.core.gan import GAN
from ganapps.apps.toy.recipe import Config
from ganapps.core import runs
from ganapps.core.app import App
from ganapps.core.export import Handle
from ganapps.core.runs import compile_gan, learning_rate

POINTS = grid().sample(2000, 0)


def build(config, options):
    gan = GAN(models.generator(width=16, depth=2), models.discriminator(options.pack, width=16, depth=1),
              ema_decay=options.ema or None, pack=options.pack, seed=options.seed)
    return compile_gan(gan, options)


def options(tmp_path, name, **kw):
    base = dict(out=tmp_path / name, epochs=3, steps=6, batch_size=16, ema=0.9, pack=2, g_lr=1e-3, d_lr=1e-3,
                strategy="default", verbose=0)
    return TrainOptions(**{**base, **kw})


def dataset(config, opts, start):
    return array_dataset(POINTS, opts.batch_size, opts.seed, start)


def train(opts, callbacks=None, build_fn=build):
    return runs.train(App("toy", Config, build_fn, dataset, Handle), Config(), opts, callbacks=callbacks)


def state(gan):
    return [v.numpy() for v in RunCheckpoint.state_variables(gan)]


class CrashAt(keras.callbacks.Callback):
    """Simulates a crash in the middle of an epoch."""

    def __init__(self, epoch, batch):
        super().__init__()
        self.epoch, self.batch, self.current = epoch, batch, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.current == self.epoch and batch >= self.batch:  # batches end in steps of steps_per_execution
            raise KeyboardInterrupt("simulated crash")


def test_resumed_run_equals_uninterrupted_run(tmp_path):
    whole = train(options(tmp_path, "whole"))
    crashed = options(tmp_path, "crashed")
    with pytest.raises(Interrupted, match="keeps epoch 2: continue with --resume"):
        train(crashed, callbacks=[CrashAt(epoch=2, batch=2)])
    assert RunCheckpoint(crashed.out / "checkpoints").saved_epoch() == 2
    resumed = train(replace(crashed, resume=True))
    assert resumed.initial_epoch == 2
    for a, b in zip(state(whole.gan), state(resumed.gan)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    # The check can fail: one more step gives other weights.
    assert int(resumed.gan.step_counter.numpy()) == 18


def test_existing_run_needs_resume_and_matching_options(tmp_path):
    opts = options(tmp_path, "run", epochs=1)
    train(opts)
    with pytest.raises(GanappsError, match="--resume"):
        train(opts)
    wider = lambda c, o: compile_gan(GAN(models.generator(width=32, depth=2), models.discriminator(o.pack, 16, 1),  # noqa: E731
                                      ema_decay=0.9, pack=o.pack), o)
    with pytest.raises(GanappsError, match="same options"):
        train(replace(opts, resume=True, epochs=2), build_fn=wider)
    assert not list(opts.out.rglob("*.tmp")), "no half-written files are left behind"


class NaNAfter(GAN):
    """A GAN whose generator loss turns NaN from step 8 on (epoch 2 of 6-step epochs)."""

    def generator_extra_losses(self, batch, fake, scores, training=True):
        return {"poison": tf.where(self.step_counter >= 8, np.nan, 0.0)}

    def metric_names(self):
        return super().metric_names() + ["poison"]


def test_nan_loss_stops_with_message_and_keeps_last_good_checkpoint(tmp_path):
    def build_nan(c, o):
        return compile_gan(NaNAfter(models.generator(16, 2), models.discriminator(o.pack, 16, 1), pack=o.pack), o)

    opts = options(tmp_path, "nan", ema=0.0)
    with pytest.raises(GanappsError, match="g_loss became nan at epoch 2"):
        train(opts, build_fn=build_nan)
    checkpoint = RunCheckpoint(opts.out / "checkpoints")
    assert checkpoint.saved_epoch() == 1
    with np.load(checkpoint.path) as data:
        assert all(np.isfinite(data[k]).all() for k in data.files if data[k].dtype.kind == "f")
    events = [json.loads(line) for line in (opts.out / "events.log").read_text().splitlines()]
    assert events[-1]["error"] == "non-finite loss"


def test_health_warns_on_certain_discriminator_and_collapse(tmp_path, capsys):
    health = GanHealth("non-saturating", tmp_path, patience=5)
    health.set_model(keras.Sequential())
    health.on_epoch_begin(0)
    for step in range(6):
        health.on_train_batch_end(step, {"d_loss": 0.01, "g_loss": 9.0, "d_real": 8.0, "d_fake": -8.0,
                                         "diversity": 0.02, "g_grad_norm": 1.0})
    kinds = [json.loads(line)["warning"] for line in (tmp_path / "events.log").read_text().splitlines()]
    assert kinds == ["vanishing-gradients", "mode-collapse"]
    printed = capsys.readouterr()  # on stderr: a command's --json output on stdout stays parseable
    assert printed.out == "" and printed.err.count("WARNING GAN health (epoch 1)") == 2
    quiet = GanHealth("non-saturating", None, patience=5)
    quiet.set_model(keras.Sequential())
    for step in range(20):
        quiet.on_train_batch_end(step, {"d_loss": 1.3, "g_loss": 0.7, "d_real": 0.2, "d_fake": -0.2,
                                        "diversity": 0.9, "g_grad_norm": 1.0})
    assert quiet.warnings == [] and quiet.failure is None


def test_export_round_trip_in_fresh_process(tmp_path):
    result = train(options(tmp_path, "export", epochs=1))
    export_dir = result.export_dir
    assert export_dir == tmp_path / "export" / "export" / "toy" / "1" or export_dir.name == "1"
    z = np.random.default_rng(4).normal(size=(5, 2)).astype(np.float32)
    np.save(tmp_path / "z.npy", z)
    np.save(tmp_path / "expected.npy", result.gan.sampling_generator(z, training=False).numpy())
    script = (
        "import numpy as np, sys, tensorflow as tf\n"
        "f = tf.saved_model.load(sys.argv[1]).signatures['serving_default']\n"
        "out = f(latent=tf.constant(np.load(sys.argv[2])))['samples'].numpy()\n"
        "print(float(np.abs(out - np.load(sys.argv[3])).max()))\n"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", script, str(export_dir), str(tmp_path / "z.npy"),
                           str(tmp_path / "expected.npy")], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert float(done.stdout.strip().splitlines()[-1]) < 1e-5
    shown = subprocess.run(["saved_model_cli", "show", "--all", "--dir", str(export_dir)], capture_output=True,
                           text=True, env=env, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert "serving_default" in shown.stdout and "latent" in shown.stdout and "samples" in shown.stdout


def test_killed_process_resumes_to_the_same_weights(tmp_path):
    """A real SIGKILL mid-run, then `--resume`: the checkpoint equals that of an uninterrupted run."""
    common = ["toy", "train", "--epochs", "4", "--steps", "150", "--batch-size", "64", "--strategy", "default"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    cli = [sys.executable, "-m", "ganapps.cli"]
    killed = tmp_path / "killed"
    process = subprocess.Popen(cli + common + ["--out", str(killed)], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    checkpoint = RunCheckpoint(killed / "checkpoints")
    deadline = time.time() + 240
    while not checkpoint.exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    stopped_at = checkpoint.saved_epoch()
    assert 1 <= stopped_at < 4, "the kill should land mid-run"
    resumed = subprocess.run(cli + common + ["--out", str(killed), "--resume"], env=env, capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    whole = subprocess.run(cli + common + ["--out", str(tmp_path / "whole")], env=env, capture_output=True,
                           text=True, timeout=300)
    assert whole.returncode == 0, whole.stderr
    with np.load(checkpoint.path) as a, np.load(RunCheckpoint(tmp_path / "whole" / "checkpoints").path) as b:
        assert int(a["epoch"]) == int(b["epoch"]) == 4
        for key in a.files:
            np.testing.assert_allclose(a[key], b[key], rtol=1e-5, atol=1e-6)


def test_learning_rate_schedules_hold_then_decay_to_zero():
    options = TrainOptions(epochs=2, steps=10, d_steps=3, lr_decay_start=0.5, d_stop=0.5)
    generator = learning_rate(options, 1e-3)
    assert [float(generator(s)) for s in (0, 10, 15, 20, 25)] == pytest.approx([1e-3, 1e-3, 5e-4, 0, 0])
    # The discriminator updates 3 times per step and stops at half of the 20 steps: 30 updates in all.
    discriminator = learning_rate(options, 2e-3, options.d_steps, options.d_stop)
    assert [float(discriminator(s)) for s in (0, 15, 21, 30, 60)] == pytest.approx([2e-3, 2e-3, 1.2e-3, 0, 0])
    assert learning_rate(TrainOptions(), 1e-3) == 1e-3
    with pytest.raises(GanappsError, match="d_stop"):
        TrainOptions(d_stop=1.5)


def test_sample_grids_go_to_tensorboard_beside_the_scalars(tmp_path):
    from PIL import Image
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    def samples(gan, config, opts, path):  # a picture that tells the epochs apart
        epoch = int(gan.step_counter.numpy()) // opts.steps
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((6, 10, 3), 40 * epoch, np.uint8)).save(path)

    app = App("toy", Config, build, dataset, Handle, samples=samples)
    runs.train(app, Config(), options(tmp_path, "run"))
    images, scalars = {}, set()
    for events in sorted((tmp_path / "run" / "logs" / "train").glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(events)):
            for value in event.summary.value:
                if value.tag == "samples":
                    assert value.metadata.plugin_data.plugin_name == "images"
                    images[event.step] = tf.make_ndarray(value.tensor)  # [width, height, PNG]
                else:
                    scalars.add(value.tag)
    assert sorted(images) == [1, 2, 3] and "epoch_g_loss" in scalars  # beside Keras's curves
    for step, (width, height, png) in images.items():  # each epoch's PNG, as written
        assert (int(width), int(height)) == (10, 6)
        pixels = np.asarray(Image.open(io.BytesIO(png)))
        assert np.array_equal(pixels, np.asarray(Image.open(tmp_path / "run" / "samples" / f"epoch_{step:04d}.png")))
    # TensorBoard itself reads them as images.
    accumulator = EventAccumulator(str(tmp_path / "run" / "logs" / "train"), size_guidance={"tensors": 0}).Reload()
    assert [event.step for event in accumulator.Tensors("samples")] == [1, 2, 3]


def test_eval_every_logs_quality_and_keep_best_exports_the_best_epoch(tmp_path):
    import csv

    from ganapps.core.app import Quality
    from ganapps.core.export import ServingFunction

    probe = np.random.default_rng(0).normal(size=(4, 2)).astype(np.float32)
    seen = {}  # epoch -> (the figure, the generator's output on the probe then)

    def compute(gan, config, opts):
        epoch = int(gan.step_counter.numpy()) // opts.steps
        figure = {2: 0.9, 4: 0.5, 5: 0.7}[epoch]  # evaluated at 2 and 4, and after the last (5)
        seen[epoch] = (figure, gan.sampling_generator(probe).numpy())
        return {"score": figure, "other": -figure}

    app = App("toy", Config, build, dataset, Handle, quality=Quality(compute, ("score", "other")))
    result = runs.train(app, Config(), options(tmp_path, "run", epochs=5, eval_every=2, keep_best=True))
    assert sorted(seen) == [2, 4, 5] and result.best == {"epoch": 2, "key": "score", "value": 0.9, "higher": True}
    with open(tmp_path / "run" / "history.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["quality_score"] for row in rows] == ["nan", "0.9", "nan", "0.5", "0.7"]
    assert not any(key.startswith("val_") for key in rows[0])
    scalars = {}
    for events in (tmp_path / "run" / "logs" / "train").glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(events)):
            for value in event.summary.value:
                if value.tag.startswith("quality/"):
                    scalars.setdefault(value.tag, {})[event.step] = float(tf.make_ndarray(value.tensor))
    assert scalars["quality/score"] == pytest.approx({2: 0.9, 4: 0.5, 5: 0.7})  # only where computed
    assert not any("nan" in str(v) for v in scalars["quality/other"].values())
    # The export is epoch 2's generator, not the last one's.
    exported = ServingFunction(tmp_path / "run" / "export" / "toy" / "1")(probe)
    np.testing.assert_allclose(np.asarray(exported), seen[2][1], atol=1e-5)
    assert not np.allclose(seen[2][1], seen[5][1])
    assert json.loads((tmp_path / "run" / "best.json").read_text())["epoch"] == 2
    with pytest.raises(ParameterError, match="^keep_best needs eval_every"):
        options(tmp_path, "x", keep_best=True)
    with pytest.raises(ParameterError, match="^eval_every toy has no quality figure"):
        train(options(tmp_path, "y", eval_every=1))
