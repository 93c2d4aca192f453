"""A new app through the `App` spec, in under 80 lines: a 1-D two-mode mixture that trains, resumes, opens, exports
and gets its command-line flags from its Config, as ARCHITECTURE.md's "Adding an app" says."""

import json
from dataclasses import dataclass

import keras
import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from ganapps.core import runs
from ganapps.core.app import App
from ganapps.core.config import setting
from ganapps.core.data import array_dataset
from ganapps.core.errors import GanappsError
from ganapps.core.export import Handle
from ganapps.core.gan import GAN
from ganapps.options import config_options, train_options


@dataclass(frozen=True)
class Config:
    separation: float = setting(4.0, "Distance between the two modes.")
    width: int = setting(16, "Hidden units of both networks.")


def build(config: Config, options) -> GAN:
    z = keras.Input((2,), name="latent")
    generator = keras.Model(z, keras.layers.Dense(1)(keras.layers.Dense(config.width, activation="relu")(z)))
    x = keras.Input((1,))
    discriminator = keras.Model(x, keras.layers.Dense(1)(keras.layers.Dense(config.width, activation="relu")(x)))
    return runs.compile_gan(GAN(generator, discriminator, seed=options.seed), options)


def dataset(config: Config, options, start_step: int):
    rng = np.random.default_rng(options.seed)
    modes = rng.choice([-0.5, 0.5], 4096) * config.separation
    return array_dataset((modes + 0.1 * rng.standard_normal(4096)).astype("float32")[:, None], options.batch_size,
                         options.seed, start_step)


class Sampler(Handle):
    def sample(self, num: int, seed: int = 0) -> np.ndarray:
        return np.asarray(self(np.random.default_rng(seed).standard_normal((num, 2)).astype("float32")))


APP = App("mixture1d", Config, build, dataset, Sampler,
          defaults=dict(epochs=2, steps=10, batch_size=32, strategy="default", verbose=0))
# ---- 40 lines above define the app; what follows checks it.


def weights(gan):
    return [v.numpy() for v in gan.weights]


def test_a_new_app_trains_resumes_opens_and_exports(tmp_path):
    whole = runs.train(APP, Config(separation=3.0), APP.options(out=tmp_path / "whole"))
    runs.train(APP, Config(separation=3.0), APP.options(out=tmp_path / "part", epochs=1))
    resumed = runs.resume(APP, tmp_path / "part", epochs=2)
    assert resumed.initial_epoch == 1 and resumed.config == Config(separation=3.0)
    for a, b in zip(weights(whole.gan), weights(resumed.gan)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)

    saved = json.loads((tmp_path / "whole" / "config.json").read_text())
    assert saved["app"] == "mixture1d" and saved["config"] == {"separation": 3.0, "width": 16}
    assert "extra" not in saved["options"]

    expected = whole.gan.sampling_generator(np.random.default_rng(5).standard_normal((7, 2)), training=False)
    exported = runs.export(APP, tmp_path / "whole", tmp_path / "served", version=3)
    assert exported == tmp_path / "served" / "3"
    for model in (tmp_path / "whole", tmp_path / "served", exported, runs.open_model(APP, tmp_path / "whole")):
        sampler = runs.open_model(APP, model)
        assert isinstance(sampler, Sampler)
        np.testing.assert_allclose(sampler.sample(7, seed=5), expected, atol=1e-5)
    np.testing.assert_allclose(Sampler.from_gan(runs.load(APP, tmp_path / "whole"), None, "ckpt").sample(7, 5),
                               expected, atol=1e-5)

    other = App("other", Config, build, dataset, Sampler)
    with pytest.raises(GanappsError, match="a 'mixture1d' run, not a other run"):
        runs.open_model(other, tmp_path / "whole")


def test_runs_written_before_the_spec_still_open(tmp_path):
    """The previous layout kept the app's config in options.extra[APP]; such a run rebuilds the same networks."""
    run = runs.train(APP, Config(width=8), APP.options(out=tmp_path / "old", epochs=1))
    path = tmp_path / "old" / "config.json"
    saved = json.loads(path.read_text())
    saved["options"]["extra"] = {"mixture1d": saved.pop("config")}
    path.write_text(json.dumps(saved))
    assert runs.read_run(tmp_path / "old", APP).config == Config(width=8)
    for a, b in zip(weights(run.gan), weights(runs.load(APP, tmp_path / "old"))):
        np.testing.assert_array_equal(a, b)
    path.write_text("{not json")
    with pytest.raises(GanappsError, match="unreadable run configuration"):
        runs.load(APP, tmp_path / "old")


def test_flags_come_from_the_config_fields():
    cli = typer.Typer()
    seen = {}

    @cli.command()
    @config_options(Config)
    @train_options(epochs=2, steps=10)
    def train(config=None, options=None) -> None:
        seen.update(config=config, options=options)

    result = CliRunner().invoke(cli, ["--separation", "2.5", "--epochs", "3"])
    assert result.exit_code == 0, result.output
    assert seen["config"] == Config(separation=2.5, width=16) and seen["options"].epochs == 3
    shown = CliRunner().invoke(cli, ["--help"], env={"COLUMNS": "200"}).output
    assert "Distance between the two modes." in shown and "--width" in shown
