"""The bilinear game, the seeds' example of GAN training that does not converge.

The discriminator holds `y` and minimises L_D = x*y; the generator holds `x` and minimises L_G = -x*y. The only
equilibrium is (0, 0). Simultaneous gradient steps multiply the distance from it by sqrt(1 + lr^2) each step
(an outward spiral); alternating steps keep it on a closed orbit; the extragradient method (Korpelevich 1976) and
optimistic gradient descent (Daskalakis et al. 2018) take the other player's reaction into account and
converge. Adam and the core's `OptimisticAdam` play it too, as `--optimizer` trains real GANs with them.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

GRADIENT_METHODS = ("simultaneous", "alternating", "extragradient", "optimistic")
TRAINING_OPTIMIZERS = ("adam", "optimistic-adam")  # --optimizer's choices, each player with its own optimizer
METHODS = GRADIENT_METHODS + TRAINING_OPTIMIZERS


def gradients(x: float, y: float) -> tuple[float, float]:
    """(dL_G/dx, dL_D/dy) at (x, y)."""
    return -y, x


def _gradient_steps(method: str, start: tuple[float, float], steps: int, lr: float) -> np.ndarray:
    x, y = start
    path = [(x, y)]
    last = gradients(x, y)
    for _ in range(steps):
        gx, gy = gradients(x, y)
        if method == "simultaneous":
            x, y = x - lr * gx, y - lr * gy
        elif method == "alternating":  # the discriminator first, then the generator against the new y
            y = y - lr * gy
            x = x - lr * gradients(x, y)[0]
        elif method == "extragradient":  # step to a look-ahead point, then step from here with its gradients
            ax, ay = gradients(x - lr * gx, y - lr * gy)
            x, y = x - lr * ax, y - lr * ay
        else:  # optimistic: twice this step's gradient less the last one's
            x, y = x - lr * (2 * gx - last[0]), y - lr * (2 * gy - last[1])
        last = (gx, gy)
        path.append((x, y))
    return np.array(path)


def _optimizer_steps(method: str, start: tuple[float, float], steps: int, lr: float, beta_1: float,
                     beta_2: float) -> np.ndarray:
    import keras
    import tensorflow as tf

    from ganapps.core.optimizers import make_optimizer

    x, y = keras.Variable(start[0], dtype="float32"), keras.Variable(start[1], dtype="float32")
    g_optimizer, d_optimizer = (make_optimizer(method, lr, beta_1, beta_2) for _ in range(2))

    @tf.function
    def step():  # both gradients from the same point: the players move simultaneously, as in a GAN's step
        gx, gy = gradients(tf.identity(x.value), tf.identity(y.value))
        g_optimizer.apply_gradients([(gx, x)])
        d_optimizer.apply_gradients([(gy, y)])
        return tf.stack([x.value, y.value])

    return np.array([start] + [step().numpy() for _ in range(steps)])


def play(method: str, start: tuple[float, float] = (1.0, 1.0), steps: int = 1000, lr: float = 0.05,
         beta_1: float = 0.0, beta_2: float = 0.9) -> np.ndarray:
    """The `[steps + 1, 2]` path of (x, y) under `method` from `start`."""
    from ganapps.core.errors import check_at_least, check_choice

    check_choice("method", method, METHODS)
    check_at_least("steps", steps, 1)
    if method in GRADIENT_METHODS:
        return _gradient_steps(method, start, steps, lr)
    return _optimizer_steps(method, start, steps, lr, beta_1, beta_2)


@dataclass
class Outcome:
    method: str
    path: np.ndarray  # [steps + 1, 2]: (x, y) from the start

    @property
    def radius(self) -> np.ndarray:
        """Distance from the equilibrium (0, 0) at each step."""
        return np.hypot(self.path[:, 0], self.path[:, 1])

    @property
    def verdict(self) -> str:
        """spirals out (ends farther than it started), converges (still closing in over the second half), or
        orbits (circles at a distance it no longer reduces: Adam's normalised steps keep their size near 0)."""
        radius = self.radius
        if radius[-1] > 1.1 * radius[0]:
            return "spirals out"
        if radius[-1] < 0.9 * radius[len(radius) // 2]:
            return "converges"
        return "orbits"

    def as_dict(self) -> dict:
        radius = self.radius
        return {"method": self.method, "start_radius": round(float(radius[0]), 4),
                "final_radius": round(float(radius[-1]), 4), "max_radius": round(float(radius.max()), 4),
                "verdict": self.verdict}


def plot_png(outcomes: list[Outcome], title: str) -> bytes:
    """Each method's path in the (x, y) plane beside its distance from the equilibrium per step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (plane, radius) = plt.subplots(1, 2, figsize=(10, 4.6), dpi=100)
    for outcome in outcomes:
        line, = plane.plot(outcome.path[:, 0], outcome.path[:, 1], lw=0.9, label=outcome.method)
        plane.plot(*outcome.path[0], "o", color=line.get_color(), ms=4)
        radius.plot(outcome.radius, lw=1.2, color=line.get_color(), label=f"{outcome.method}: {outcome.verdict}")
    plane.plot(0, 0, "k*", ms=10)
    plane.set(xlabel="x (generator)", ylabel="y (discriminator)", aspect="equal", title=title)
    radius.set(xlabel="step", ylabel="distance from (0, 0)", yscale="log", title="distance from the equilibrium")
    radius.legend(fontsize=8)
    plane.legend(fontsize=8, loc="upper left")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()
