"""The PacGAN 2-D mixtures and their mode-coverage metrics (Lin et al. 2018, section 5.1)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ganapps.core.errors import GanappsError


@dataclass(frozen=True)
class Mixture:
    """An equal-weight mixture of isotropic Gaussians in the plane."""

    name: str
    means: np.ndarray
    std: float

    @property
    def scale(self) -> float:
        """The root-mean-square coordinate of the mixture: the unit the models standardise by."""
        return float(np.sqrt((self.means**2).mean() + self.std**2))

    def sample(self, count: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        modes = rng.integers(0, len(self.means), size=count)
        return (self.means[modes] + self.std * rng.standard_normal((count, 2))).astype(np.float32)


def ring(modes: int = 8, radius: float = 1.0, std: float = 0.01) -> Mixture:
    """8 modes equally spaced on the unit circle, std 0.01."""
    angles = 2.0 * np.pi * np.arange(modes) / modes
    return Mixture("ring", np.stack([radius * np.cos(angles), radius * np.sin(angles)], axis=1), std)


def grid(std: float = 0.05) -> Mixture:
    """25 modes at {-4, -2, 0, 2, 4}^2, std 0.05."""
    axis = np.arange(-4.0, 5.0, 2.0)
    return Mixture("grid", np.array([(x, y) for x in axis for y in axis], dtype=np.float64), std)


MIXTURES = {"ring": ring, "grid": grid}


def mixture(name: str) -> Mixture:
    if name not in MIXTURES:
        raise GanappsError(f"--dataset {name!r}: choose one of {', '.join(MIXTURES)}")
    return MIXTURES[name]()


@dataclass(frozen=True)
class ModeCoverage:
    modes_captured: int
    modes_total: int
    high_quality: float
    reverse_kl: float
    spread: float  # RMS offset of high-quality samples from their mode, per coordinate, over the mode's std

    def as_dict(self) -> dict:
        return {"modes": self.modes_captured, "modes_total": self.modes_total,
                "high_quality": self.high_quality, "reverse_kl": self.reverse_kl, "spread": self.spread}


def mode_coverage(samples: np.ndarray, data: Mixture, threshold_stds: float = 3.0) -> ModeCoverage:
    """PacGAN's metrics: a sample is high quality within 3 std of its nearest mode; a mode is captured
    if it has at least one high-quality sample; reverse KL of the high-quality samples' mode histogram
    against the uniform one. `spread` shows whether generated modes are as wide as real ones (real samples:
    0.974, the 3-std cut trims the tails) or sharpened, which the high-quality share rewards."""
    samples = np.asarray(samples, np.float64)
    distances = np.linalg.norm(samples[:, None, :] - data.means[None, :, :], axis=-1)
    nearest = distances.argmin(axis=1)
    good = distances[np.arange(len(samples)), nearest] <= threshold_stds * data.std
    counts = np.bincount(nearest[good], minlength=len(data.means)).astype(np.float64)
    captured = int((counts > 0).sum())
    if counts.sum() == 0:
        reverse_kl = float("inf")
    else:
        p = counts / counts.sum()
        nonzero = p > 0
        reverse_kl = float(np.sum(p[nonzero] * np.log(p[nonzero] * len(data.means))))
    offsets = samples[good] - data.means[nearest[good]]
    spread = float(np.sqrt((offsets**2).mean()) / data.std) if good.any() else float("nan")
    return ModeCoverage(captured, len(data.means), float(good.mean()), reverse_kl, spread)
