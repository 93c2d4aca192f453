"""Optimizers the core offers beside Keras's own (`--optimizer`)."""

from __future__ import annotations

import keras
from keras import ops

from ganapps.core.errors import ParameterError


@keras.saving.register_keras_serializable("ganapps")
class OptimisticAdam(keras.optimizers.Adam):
    """Adam with an optimistic step (Daskalakis et al. 2018, "Training GANs with Optimism").

    Each update moves by twice this step's Adam update less the previous one, `w -= 2 u_t - u_(t-1)`: a step that
    anticipates the other player's reaction. On the bilinear game, where simultaneous gradient steps spiral out and
    alternating ones orbit, it converges (`ganapps toy game`). The previous update is an optimizer variable, so it
    is checkpointed and a resumed run continues exactly.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.amsgrad:
            raise ParameterError("amsgrad", "OptimisticAdam does not combine with amsgrad")

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._previous_updates = self.add_optimizer_variables(var_list, "previous_update")

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        m, v, previous = self._momentums[index], self._velocities[index], self._previous_updates[index]
        gradient = ops.cast(gradient, variable.dtype)
        step = ops.cast(self.iterations + 1, variable.dtype)
        beta_1, beta_2 = (ops.cast(beta, variable.dtype) for beta in (self.beta_1, self.beta_2))
        alpha = ops.cast(learning_rate, variable.dtype) * ops.sqrt(1 - beta_2**step) / (1 - beta_1**step)
        self.assign_add(m, ops.multiply(ops.subtract(gradient, m), 1 - self.beta_1))
        self.assign_add(v, ops.multiply(ops.subtract(ops.square(gradient), v), 1 - self.beta_2))
        update = ops.divide(ops.multiply(m, alpha), ops.add(ops.sqrt(v), self.epsilon))
        self.assign_sub(variable, ops.subtract(ops.multiply(update, 2.0), previous))
        self.assign(previous, update)


def make_optimizer(name: str, learning_rate, beta_1: float, beta_2: float) -> keras.optimizers.Optimizer:
    """The optimizer `--optimizer` names."""
    kind = {"adam": keras.optimizers.Adam, "optimistic-adam": OptimisticAdam}
    if name not in kind:
        raise ParameterError("optimizer", f"{name!r}: choose one of {', '.join(kind)}")
    return kind[name](learning_rate, beta_1=beta_1, beta_2=beta_2)
