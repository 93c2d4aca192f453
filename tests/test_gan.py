"""The adversarial step: replica correctness, EMA, k discriminator steps, packing, reported terms."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from ganapps.core.gan import GAN, _pack
from ganapps.core.strategy import resolve_strategy


def tiny_models(pack=1, features=False, batch_norm=False):
    keras.utils.set_random_seed(3)
    z = keras.Input((3,), name="latent")
    h = keras.layers.Dense(8, activation="relu")(z)
    if batch_norm:
        h = keras.layers.BatchNormalization(synchronized=True)(h)
    g = keras.Model(z, keras.layers.Dense(2)(h))
    x = keras.Input((2 * pack,))
    f = keras.layers.Dense(8, activation="tanh")(x)
    out = keras.layers.Dense(1)(f)
    d = keras.Model(x, [out, f] if features else out)
    return g, d


def one_fit(strategy, steps=2, batch=8, ema=None, pack=1, **compile_args):
    """Train `steps` steps of the same global batches under `strategy`; return all weights."""
    data = np.random.default_rng(0).normal(size=(steps * batch, 2)).astype(np.float32)
    with strategy.scope():
        g, d = tiny_models(pack, features=bool(compile_args.get("feature_matching")),
                           batch_norm=compile_args.pop("batch_norm", False))
        gan = GAN(g, d, ema_decay=ema, pack=pack, seed=7)
        gan.compile(keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.05), **compile_args)
    gan.fit(tf.data.Dataset.from_tensor_slices(data).batch(batch), epochs=1, verbose=0, shuffle=False)
    return [v.numpy() for v in gan.weights], gan


def mirrored():
    """The process's one MirroredStrategy over the two logical CPUs, the same instance the CLI uses (a second
    instance would reuse the first one's collective keys)."""
    return resolve_strategy("mirrored")


CONFIGS = {
    "non-saturating+gp+ema": dict(loss="non-saturating", gp_weight=1.0, ema=0.9),
    "hinge+r1+fm+2 d steps": dict(loss="hinge", r1_weight=0.5, feature_matching=1.0, d_steps=2),
    "least-squares+pack 2+sync bn": dict(loss="least-squares", pack=2, label_smoothing=0.1, batch_norm=True),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_two_replicas_match_one(name):
    config = dict(CONFIGS[name])
    ema, pack = config.pop("ema", None), config.pop("pack", 1)
    single, _ = one_fit(tf.distribute.OneDeviceStrategy("/cpu:0"), ema=ema, pack=pack, **dict(config))
    assert mirrored().num_replicas_in_sync == 2
    double, _ = one_fit(mirrored(), ema=ema, pack=pack, **dict(config))
    for a, b in zip(single, double):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_unscaled_loss_would_differ():
    """Guard on the test itself: without the replica scaling, two replicas give a different step."""
    single, _ = one_fit(tf.distribute.OneDeviceStrategy("/cpu:0"))
    original = GAN.apply_update

    def unscaled(self, tape, loss, variables, optimizer):
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables))
        return tf.constant(0.0)

    GAN.apply_update = unscaled
    try:
        double, _ = one_fit(mirrored())
    finally:
        GAN.apply_update = original
    assert max(np.abs(a - b).max() for a, b in zip(single, double)) > 1e-3


def test_step_moves_weights_and_counts_steps():
    g, d = tiny_models()
    initial = [v.numpy().copy() for v in g.weights + d.weights]
    gan = GAN(g, d)
    gan.compile(keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.1), d_steps=3)
    data = np.random.default_rng(0).normal(size=(16, 2)).astype(np.float32)
    gan.fit(data, batch_size=8, epochs=1, verbose=0)
    assert int(gan.d_optimizer.iterations.numpy()) == 6
    assert int(gan.g_optimizer.iterations.numpy()) == 2
    assert int(gan.step_counter.numpy()) == 2
    moved = [np.abs(a - v.numpy()).max() for a, v in zip(initial, g.weights + d.weights)]
    assert min(moved) > 0


def test_ema_follows_the_formula():
    g, d = tiny_models()
    gan = GAN(g, d, ema_decay=0.75)
    gan.compile(keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.1))
    # The decay warms up as min(decay, (1 + step) / (10 + step)): 0.1 at step 0, the full 0.75 from step 26 on.
    for step, rate in ((0, 0.1), (100, 0.75)):
        gan.step_counter.assign(step)
        start = [v.numpy().copy() for v in gan.ema_generator.weights]
        gan.train_step(tf.constant(np.ones((4, 2), np.float32)))
        for e0, ema, w in zip(start, gan.ema_generator.weights, g.weights):
            np.testing.assert_allclose(ema.numpy(), rate * e0 + (1 - rate) * w.numpy(), rtol=1e-6, atol=1e-7)
    # Sampling and call() use the averaged generator.
    z = np.zeros((2, 3), np.float32)
    np.testing.assert_allclose(gan(z).numpy(), gan.ema_generator(z).numpy())


def test_every_term_is_reported():
    g, d = tiny_models(features=True)
    gan = GAN(g, d)
    gan.compile(loss="wasserstein", gp_weight=10.0, r1_weight=1.0, feature_matching=1.0)
    logs = gan.train_step(tf.constant(np.ones((4, 2), np.float32)))
    for name in ("d_loss", "g_loss", "d_adv", "g_adv", "gp", "r1", "feature_matching", "d_real", "d_fake",
                 "g_grad_norm", "diversity"):
        assert name in logs and np.isfinite(float(logs[name]))
    assert float(logs["d_loss"]) == pytest.approx(float(logs["d_adv"]) + float(logs["gp"]) + float(logs["r1"]),
                                                  rel=1e-5)


def test_pack_merges_consecutive_samples():
    x = np.arange(24, dtype=np.float32).reshape(6, 2, 2)
    packed = _pack(tf.constant(x), 3).numpy()
    assert packed.shape == (2, 2, 6)
    np.testing.assert_array_equal(packed[0, 1], np.concatenate([x[0, 1], x[1, 1], x[2, 1]]))
    np.testing.assert_array_equal(packed[1, 0], np.concatenate([x[3, 0], x[4, 0], x[5, 0]]))


@pytest.mark.parametrize("policy, scaled", [("mixed_float16", True), ("mixed_bfloat16", False)])
def test_mixed_precision_step(policy, scaled):
    keras.mixed_precision.set_global_policy(policy)
    g, d = tiny_models()
    gan = GAN(g, d)
    gan.compile(loss="hinge", gp_weight=1.0, mixed_precision=scaled)
    assert isinstance(gan.g_optimizer, keras.optimizers.LossScaleOptimizer) == scaled
    before = [v.numpy().copy() for v in g.trainable_weights]
    logs = gan.train_step(tf.constant(np.ones((4, 2), np.float32)))
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert g.layers[1].compute_dtype != "float32"
    assert any(np.abs(b - v.numpy()).max() > 0 for b, v in zip(before, g.trainable_weights))


def test_xla_compiled_steps_are_deterministic_and_train():
    results = []
    for _ in range(2):
        g, d = tiny_models()
        before = [v.numpy().copy() for v in g.weights]
        gan = GAN(g, d, seed=1)
        gan.compile(keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.1), jit_compile=True)
        gan.fit(np.random.default_rng(0).normal(size=(16, 2)).astype(np.float32), batch_size=8, verbose=0,
                shuffle=False)
        results.append([v.numpy() for v in gan.weights])
        assert any(np.abs(b - v.numpy()).max() > 1e-4 for b, v in zip(before, g.weights))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_several_steps_per_execution_under_mirrored_match_one_device():
    """Keras's multi-step loop aborted under MirroredStrategy (TF 2.21 / Keras 3.15: an unfed placeholder); the GAN's
    own loop trains 8 steps, 4 per call, on 2 replicas to the weights of 8 single steps on one device."""

    def fit(strategy, steps_per_execution):
        data = np.random.default_rng(0).normal(size=(64, 2)).astype(np.float32)
        with strategy.scope():
            g, d = tiny_models()
            gan = GAN(g, d, ema_decay=0.9, seed=7)
            gan.compile(keras.optimizers.Adam(1e-2), keras.optimizers.Adam(1e-2), steps_per_execution=steps_per_execution)
        gan.fit(tf.data.Dataset.from_tensor_slices(data).batch(8).repeat(), epochs=2, steps_per_epoch=4, verbose=0)
        return [v.numpy() for v in gan.weights], int(gan.step_counter.numpy())

    single, steps = fit(tf.distribute.OneDeviceStrategy("/cpu:0"), 1)
    double, double_steps = fit(mirrored(), 4)
    assert steps == double_steps == 8
    for a, b in zip(single, double):
        np.testing.assert_allclose(a, b, atol=1e-5)
