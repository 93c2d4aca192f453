"""The bilinear game (`ganapps toy game`) and the optimistic optimizer it motivates (`--optimizer`)."""

import json

import keras
import numpy as np
import pytest
from cli_helpers import invoke

from ganapps.apps.toy import game, lab
from ganapps.core.callbacks import RunCheckpoint
from ganapps.core.optimizers import OptimisticAdam


def test_each_method_moves_as_its_update_matrix_says():
    """Simultaneous steps multiply the distance from (0, 0) by sqrt(1 + lr^2) per step, extragradient by
    sqrt(1 - lr^2 + lr^4); alternating steps keep it bounded; optimistic descent closes in."""
    lr, steps = 0.1, 200
    radius = {m: game.Outcome(m, game.play(m, steps=steps, lr=lr)).radius for m in game.GRADIENT_METHODS}
    start = np.sqrt(2)
    assert radius["simultaneous"][-1] == pytest.approx(start * (1 + lr**2) ** (steps / 2), rel=1e-9)
    assert radius["extragradient"][-1] == pytest.approx(start * (1 - lr**2 + lr**4) ** (steps / 2), rel=1e-9)
    assert 0.9 * start < radius["alternating"].min() and radius["alternating"].max() < 1.1 * start
    assert radius["optimistic"][-1] < 0.5 * start and radius["optimistic"][-1] < radius["optimistic"][steps // 2]


def test_optimistic_adam_steps_twice_the_adam_update_less_the_last_one():
    b1, b2, eps, lr = 0.5, 0.9, 1e-7, 0.01
    optimizer = OptimisticAdam(lr, beta_1=b1, beta_2=b2, epsilon=eps)
    variable = keras.Variable(np.array([1.0, -2.0, 0.5], np.float32))
    gradients = np.array([[0.3, -1.0, 2.0], [-0.5, -0.2, 1.0], [0.1, 0.4, -3.0]], np.float32)
    w, m, v, last = variable.numpy().astype(np.float64), np.zeros(3), np.zeros(3), np.zeros(3)
    for t, g in enumerate(gradients, start=1):
        optimizer.apply_gradients([(g, variable)])
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g**2
        update = lr * np.sqrt(1 - b2**t) / (1 - b1**t) * m / (np.sqrt(v) + eps)
        w, last = w - (2 * update - last), update
        np.testing.assert_allclose(variable.numpy(), w, rtol=1e-5, atol=1e-7)


def test_on_the_game_optimistic_adam_ends_nearer_the_equilibrium_than_adam():
    ends = {m: game.Outcome(m, game.play(m, steps=600)).radius[-1] for m in game.TRAINING_OPTIMIZERS}
    assert ends["optimistic-adam"] < 0.5 * ends["adam"]


def test_game_command_writes_the_plot_and_a_row_per_method(tmp_path):
    result = invoke("toy", "game", "--steps", 300, "--out", tmp_path, "--json")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["method"] for r in rows] == list(game.METHODS)
    verdicts = {r["method"]: r["verdict"] for r in rows}
    assert verdicts["simultaneous"] == "spirals out" and verdicts["alternating"] == "orbits"
    assert verdicts["extragradient"] == verdicts["optimistic"] == "converges"
    assert (tmp_path / "game.png").stat().st_size > 10_000


def test_optimistic_adam_trains_a_gan_and_resumes_exactly(tmp_path):
    """Its previous update is optimizer state: checkpointed, so a resumed run ends with the uninterrupted weights
    (constant learning rates, so that a 1-epoch run is the first half of the 2-epoch one)."""
    def options(out, epochs, resume=False):
        return lab.APP.options(out=out, epochs=epochs, steps=4, batch_size=32, optimizer="optimistic-adam",
                               resume=resume, verbose=0, lr_decay_start=1.0, d_stop=1.0)

    config = lab.Config(dataset="ring", model="mlp")
    whole = lab.train(config, options(tmp_path / "whole", 2))
    assert isinstance(whole.result.gan.g_optimizer, OptimisticAdam)
    assert json.loads((tmp_path / "whole" / "config.json").read_text())["options"]["optimizer"] == "optimistic-adam"
    lab.train(config, options(tmp_path / "split", 1))
    lab.train(config, options(tmp_path / "split", 2, resume=True))
    with np.load(RunCheckpoint(tmp_path / "whole" / "checkpoints").path) as a, \
            np.load(RunCheckpoint(tmp_path / "split" / "checkpoints").path) as b:
        assert sorted(a) == sorted(b)
        for key in a:
            np.testing.assert_allclose(b[key], a[key], atol=1e-6, err_msg=key)
