"""The 2-D lab's data and PacGAN's mode-coverage metrics against hand-computed values."""

import numpy as np
import pytest
from ganapps.apps.toy.data import grid, mode_coverage, ring


def test_mixtures_match_pacgan():
    r, g = ring(), grid()
    assert r.means.shape == (8, 2) and r.std == 0.01
    np.testing.assert_allclose(np.linalg.norm(r.means, axis=1), 1.0)
    assert g.means.shape == (25, 2) and g.std == 0.05
    assert sorted(set(g.means[:, 0])) == [-4, -2, 0, 2, 4]


def test_real_samples_score_as_expected():
    data = grid()
    coverage = mode_coverage(data.sample(20000, 1), data)
    assert coverage.modes_captured == 25
    # For a 2-D isotropic Gaussian, P(r <= 3 sigma) = 1 - exp(-9/2).
    assert coverage.high_quality == pytest.approx(1 - np.exp(-4.5), abs=0.003)
    assert coverage.reverse_kl < 0.01
    # E[r^2 | r < 3] for a 2-D standard normal (r^2 is exponential with mean 2), per coordinate.
    truncated_mean = 2 - 9 * np.exp(-4.5) / (1 - np.exp(-4.5))
    assert coverage.spread == pytest.approx(np.sqrt(truncated_mean / 2), abs=0.01)


def test_collapsed_and_off_mode_samples():
    data = ring()
    one_mode = np.tile(data.means[:1], (100, 1))
    collapsed = mode_coverage(one_mode, data)
    assert collapsed.modes_captured == 1 and collapsed.high_quality == 1.0
    assert collapsed.reverse_kl == pytest.approx(np.log(8))
    half = np.concatenate([data.means[:2], np.zeros((2, 2))])  # two on modes, two at the centre
    mixed = mode_coverage(half, data)
    assert mixed.modes_captured == 2 and mixed.high_quality == 0.5
    assert mixed.reverse_kl == pytest.approx(np.log(4))
