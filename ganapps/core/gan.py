"""The adversarial `keras.Model`: one `train_step` for every app, extended through small hooks.

A step runs `d_steps` discriminator updates and then one generator update. Apps add loss terms by
overriding `generator_extra_losses` / `discriminator_extra_losses`, change how a batch is read with
`unpack_batch`, or how fakes are made with `generate`; they never copy the step.

Replica correctness (see ARCHITECTURE.md): Keras 3 sums gradients over replicas and does not rescale a
loss computed in a custom `train_step`, so `apply_update` scales every gradient by 1 / replicas once. Random draws are made for the *global* batch from a stateless seed and sliced per replica, so a step
on N replicas sees exactly the noise that one replica would for the same global batch, and a resumed run
draws what an uninterrupted one would.
"""

from __future__ import annotations

import threading
from typing import Any, NamedTuple

import keras
import tensorflow as tf

from ganapps.core import losses as L
from ganapps.core.augment import diff_augment
from ganapps.core.config import augment_policy
from ganapps.core.errors import ParameterError

# Counts random draws within one traced step. MirroredStrategy traces each replica's step in its own
# thread, so the counter must be per thread for every replica to key its draws alike.
_draws = threading.local()


class Batch(NamedTuple):
    """What one step trains on: real samples and an optional condition seen by both networks."""

    real: Any
    condition: Any = None


class Judgement(NamedTuple):
    """What the discriminator says of a batch: the adversarial logits (float32), the features that feature matching
    compares (or None), and any auxiliary heads by name (a class or attribute predictor ...), so that a subclass's
    extra terms read the same pass instead of running the discriminator again."""

    logits: tf.Tensor
    features: Any = None
    heads: dict = {}


def _pack(x: tf.Tensor, pack: int) -> tf.Tensor:
    """PacGAN packing: merge groups of `pack` consecutive samples along the last axis."""
    if pack == 1:
        return x
    shape = tf.shape(x)
    grouped = tf.reshape(x, tf.concat([[shape[0] // pack, pack], shape[1:]], axis=0))
    rank = len(x.shape)
    # (B/p, p, ..., C) -> (B/p, ..., p, C) -> (B/p, ..., p*C)
    perm = [0] + list(range(2, rank)) + [1, rank]
    moved = tf.transpose(grouped, perm)
    new_shape = tf.concat([[shape[0] // pack], shape[1:-1], [pack * shape[-1]]], axis=0)
    return tf.reshape(moved, new_shape)


def judgement(out) -> Judgement:
    """A discriminator's output as a `Judgement`: logits, `(logits, features)`, or a dict with `logit`, optional
    `features` and any other heads."""
    if isinstance(out, dict):
        heads = {k: v for k, v in out.items() if k not in ("logit", "features")}
        return Judgement(tf.cast(out["logit"], tf.float32), out.get("features"), heads)
    if isinstance(out, (tuple, list)):
        return Judgement(tf.cast(out[0], tf.float32), out[1])
    return Judgement(tf.cast(out, tf.float32))


class GAN(keras.Model):
    """Generator + discriminator trained adversarially with any core loss family.

    Subclasses whose samples must stay aligned with something else the discriminator sees (a pyramid of scales,
    an input image) set `augmentable = False`, and `compile(augment=...)` then fails naming the parameter.

    Args:
        generator: maps a latent batch (or `[latent, condition]`) to samples.
        discriminator: maps samples (or `[samples, condition]`) to logits, to `(logits, features)` when feature
            matching is used, or to a dict with `logit`, `features` and auxiliary heads (see `Judgement`).
        ema_decay: keep an exponential moving average of the generator weights (e.g. 0.999; warmed up as
            min(decay, (1 + step) / (10 + step))); sampling, `call()` and export then use the averaged generator.
        pack: PacGAN packing degree; the discriminator's input has `pack` times the channels.
        seed: seed of every random draw inside the step.
    """

    augmentable = True

    def __init__(
        self,
        generator: keras.Model,
        discriminator: keras.Model,
        ema_decay: float | None = None,
        pack: int = 1,
        seed: int = 0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.pack = int(pack)
        self.seed = int(seed)
        self.ema_decay = ema_decay
        self.ema_generator = None
        if ema_decay:
            self.ema_generator = keras.models.clone_model(generator)
            self.ema_generator.set_weights(generator.get_weights())
            self.ema_generator.trainable = False
        # One counter per train step keys every random draw; it is saved with the weights.
        self.step_counter = self.add_weight(
            shape=(), dtype="int64", initializer="zeros", trainable=False,
            aggregation="only_first_replica", name="step_counter",
        )
        # Both networks arrive built; marking the GAN built stops Keras from calling it on data to build it.
        self.built = True

    # ------------------------------------------------------------------ configuration
    def compile(
        self,
        g_optimizer: keras.optimizers.Optimizer | None = None,
        d_optimizer: keras.optimizers.Optimizer | None = None,
        loss: str = "non-saturating",
        d_steps: int = 1,
        gp_weight: float = 0.0,
        r1_weight: float = 0.0,
        label_smoothing: float = 0.0,
        feature_matching: float = 0.0,
        adversarial_weight: float = 1.0,
        augment: str = "",
        mixed_precision: bool = False,
        jit_compile: bool = False,
        **kwargs,
    ) -> None:
        """Set optimizers (separate learning rates give TTUR), loss family and regularisers.

        `adversarial_weight` 0 trains the generator on its extra losses alone, with no discriminator pass or
        update: the same network as a plain regression baseline (e.g. next-frame prediction's Lp-only model).
        `augment` is a DiffAugment policy ('color,translation,cutout' or part of it, `augment.py`) applied to every
        sample the discriminator judges in training, real and generated.
        Call inside the strategy scope: optimizer variables are built here, before `fit`, as tf.distribute
        requires.
        """
        super().compile(jit_compile=jit_compile, **kwargs)
        self.loss_family = L.check_family(loss)
        if d_steps < 1:
            raise ValueError("d_steps must be at least 1")
        self.d_steps = int(d_steps)
        self.gp_weight = float(gp_weight)
        self.r1_weight = float(r1_weight)
        self.label_smoothing = float(label_smoothing)
        self.feature_matching = float(feature_matching)
        self.adversarial_weight = float(adversarial_weight)
        self.augment_policy = augment_policy(augment)
        if self.augment_policy and not self.augmentable:
            raise ParameterError("augment", f"{type(self).__name__}'s discriminator judges samples aligned with "
                                            "something else: augmenting them alone would misalign them")
        if not self.adversarial and (self.gp_weight or self.r1_weight or self.feature_matching):
            raise ValueError("gradient penalties and feature matching need the discriminator: adversarial_weight is 0")
        g_optimizer = g_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5)
        d_optimizer = d_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5)
        if mixed_precision:
            g_optimizer = keras.optimizers.LossScaleOptimizer(g_optimizer)
            d_optimizer = keras.optimizers.LossScaleOptimizer(d_optimizer)
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer
        self.g_optimizer.build(self.generator_variables())
        self.d_optimizer.build(self.discriminator_variables())
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.metric_names()}

    def generator_variables(self) -> list:
        """Variables the generator update trains (apps with two generators return both)."""
        return self.generator.trainable_variables

    def discriminator_variables(self) -> list:
        return self.discriminator.trainable_variables

    @property
    def adversarial(self) -> bool:
        """Whether the discriminator takes part in training (`adversarial_weight` is not 0)."""
        return self.adversarial_weight != 0.0

    def metric_names(self) -> list[str]:
        """Every value a step reports; subclasses append the names of their extra terms."""
        if not self.adversarial:
            return ["g_loss", "g_grad_norm", "diversity"]
        names = ["d_loss", "g_loss", "d_adv", "g_adv", "d_real", "d_fake", "g_grad_norm", "diversity"]
        if self.gp_weight:
            names.append("gp")
        if self.r1_weight:
            names.append("r1")
        if self.feature_matching:
            names.append("feature_matching")
        return names

    @property
    def metrics(self) -> list:
        return list(getattr(self, "trackers", {}).values())

    @property
    def sampling_generator(self) -> keras.Model:
        """The generator used for samples and export: the EMA copy when there is one."""
        return self.ema_generator or self.generator

    def call(self, inputs, training: bool = False):
        return self.sampling_generator(inputs, training=training)

    def make_train_function(self, force: bool = False):
        """Run `steps_per_execution` steps per call in a plain graph loop over the iterator.

        Keras's own multi-step loop (a while loop around a cond on an optional input) fails under
        MirroredStrategy in TensorFlow 2.21 / Keras 3.15, even for a built-in model ("You must feed a value for
        placeholder tensor 'while/body/_1/while/cond/...'"). Our data streams are endless and an epoch is a
        multiple of the steps per execution (`runs.compile_gan`), so no step needs the optional's check.
        """
        if self.train_function is not None and not force:
            return self.train_function
        if self.steps_per_execution == 1:
            return super().make_train_function(force)
        from keras.src.backend.tensorflow.trainer import reduce_per_replica

        strategy = self.distribute_strategy

        @tf.function(reduce_retracing=True, jit_compile=self.jit_compile)
        def one_step(data):
            return reduce_per_replica(strategy.run(self.train_step, args=(data,)), strategy, reduction="auto")

        @tf.function(reduce_retracing=True)
        def multi_step(iterator):
            outputs = one_step(next(iterator))
            for _ in tf.range(self.steps_per_execution - 1):
                outputs = one_step(next(iterator))
            return outputs

        self.train_function = multi_step
        return multi_step

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        """Skip Keras's build from a first batch once networks and optimizers are built (`compile` builds them).

        Under a strategy, Keras 3.15 all-reduces that batch with `strategy.reduce`, which takes one tensor, not a
        tuple: MultiWorkerMirroredStrategy then fails in `fit` for every app whose batches are tuples ("Attempt to
        convert a value (PerReplica ...) to a Tensor"). A built GAN has nothing to learn from that batch.
        """
        optimizers = [getattr(self, name, None) for name in ("g_optimizer", "d_optimizer")]
        if self.built and all(o is not None and o.built for o in optimizers):
            return
        super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    # ------------------------------------------------------------------ replica-correct helpers
    def _replica(self) -> tuple[int, Any]:
        strategy = tf.distribute.get_strategy()
        context = tf.distribute.get_replica_context()
        replica_id = context.replica_id_in_sync_group if context is not None else 0
        return strategy.num_replicas_in_sync, replica_id

    def _global_draw(self, kind: str, local_shape, dtype=tf.float32) -> tf.Tensor:
        """Draw for the global batch from a stateless seed, return this replica's slice."""
        replicas, replica_id = self._replica()
        local_batch = local_shape[0]
        global_shape = tf.stack([local_batch * replicas, *local_shape[1:]])
        _draws.count = getattr(_draws, "count", 0) + 1
        step = getattr(_draws, "step", None)
        step = self.step_counter.value if step is None else step
        seed = tf.stack([tf.constant(self.seed, tf.int64), step * 1009 + _draws.count])
        # Philox pinned, so draws do not depend on the device's default generator. (XLA lays the stream out
        # differently: a run resumes with the same --jit it started with.)
        draw = tf.random.stateless_normal if kind == "normal" else tf.random.stateless_uniform
        full = draw(global_shape, seed=seed, dtype=dtype, alg="philox")
        start = tf.cast(replica_id, tf.int32) * local_batch
        return full[start : start + local_batch]

    def random_normal(self, local_shape, dtype=tf.float32) -> tf.Tensor:
        """Standard normal draw of `local_shape` (batch first), consistent across replica counts."""
        return self._global_draw("normal", local_shape, dtype)

    def random_uniform(self, local_shape, dtype=tf.float32) -> tf.Tensor:
        return self._global_draw("uniform", local_shape, dtype)

    def cross_replica_mean(self, value: tf.Tensor) -> tf.Tensor:
        """Mean over replicas of a per-replica mean (differentiable); the identity on one replica."""
        context = tf.distribute.get_replica_context()
        if context is None or tf.distribute.get_strategy().num_replicas_in_sync == 1:
            return value
        return context.all_reduce(tf.distribute.ReduceOp.MEAN, value)

    def apply_update(self, tape: tf.GradientTape, loss: tf.Tensor, variables: list, optimizer) -> tf.Tensor:
        """The one place where a loss becomes an update: its gradient scaled once for the replicas (Keras sums
        replica gradients) and for float16 loss scaling. Call it after the tape's context. Returns the global norm
        of this replica's unscaled gradients, for health monitoring."""
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        scale = tf.cast(optimizer.scale_loss(tf.constant(1.0, loss.dtype)), loss.dtype)
        grads = tape.gradient(loss, variables, output_gradients=scale / replicas)
        optimizer.apply_gradients(zip(grads, variables))
        norm = tf.linalg.global_norm([g for g in grads if g is not None]) * replicas
        return norm / tf.cast(scale, norm.dtype)

    # ------------------------------------------------------------------ hooks
    def unpack_batch(self, data) -> Batch:
        """Read a dataset element: `real` or `(real, condition)`."""
        if isinstance(data, (tuple, list)):
            return Batch(data[0], data[1] if len(data) > 1 else None)
        return Batch(data)

    def latent_batch(self, batch: Batch) -> tf.Tensor:
        latent_shape = self.generator.inputs[0].shape[1:]
        batch_size = tf.shape(tf.nest.flatten(batch.real)[0])[0]
        return self.random_normal([batch_size, *latent_shape])

    def generate(self, batch: Batch, training: bool = True):
        """Fake samples for this batch: G(z) or G([z, condition])."""
        z = self.latent_batch(batch)
        inputs = z if batch.condition is None else [z, batch.condition]
        return self.generator(inputs, training=training)

    def discriminate(self, samples, batch: Batch, training: bool = True) -> Judgement:
        """The discriminator's `Judgement` of `samples` under the batch's condition, with PacGAN packing applied."""
        samples = _pack(samples, self.pack)
        if batch.condition is None:
            inputs = samples
        else:
            inputs = [samples, tf.nest.map_structure(lambda c: _pack(c, self.pack), batch.condition)]
        return judgement(self.discriminator(inputs, training=training))

    def generator_extra_losses(self, batch: Batch, fake, scores: Judgement | None,
                               training: bool = True) -> dict[str, tf.Tensor]:
        """Weighted extra generator terms (content, cycle, identity ...); each is reported as a metric. `scores` is
        the discriminator's judgement of `fake` in this update (None when training without the discriminator)."""
        return {}

    def discriminator_extra_losses(self, batch: Batch, fake, real: Judgement, fake_scores: Judgement
                                   ) -> dict[str, tf.Tensor]:
        """Weighted extra discriminator terms (auxiliary classifier ...); each is reported as a metric. `real` and
        `fake_scores` are this update's judgements of the real and generated batch."""
        return {}

    # ------------------------------------------------------------------ the step
    def judge(self, samples, batch: Batch) -> Judgement:
        """The discriminator's training-time judgement: of the samples augmented by the policy, when there is one
        (real and fake alike, so it cannot tell them apart by the augmentation)."""
        if self.augment_policy:
            samples = tf.nest.map_structure(lambda x: diff_augment(x, self.augment_policy, self.random_uniform),
                                            samples)
        return self.discriminate(samples, batch)

    def discriminator_terms(self, batch: Batch) -> dict[str, tf.Tensor]:
        fake = tf.nest.map_structure(tf.stop_gradient, self.generate(batch, training=True))
        real = self.judge(batch.real, batch)
        fake_scores = self.judge(fake, batch)
        terms = {"d_adv": L.discriminator_loss(self.loss_family, real.logits, fake_scores.logits,
                                               self.label_smoothing)}
        critic = lambda x: self.judge(x, batch).logits  # noqa: E731
        if self.gp_weight:
            eps_shape = [tf.shape(batch.real)[0]] + [1] * (len(batch.real.shape) - 1)
            epsilon = self.random_uniform(eps_shape)
            terms["gp"] = self.gp_weight * L.gradient_penalty(critic, batch.real, fake, epsilon)
        if self.r1_weight:
            terms["r1"] = self.r1_weight * L.r1_penalty(critic, batch.real)
        terms.update(self.discriminator_extra_losses(batch, fake, real, fake_scores))
        terms["d_real"] = tf.reduce_mean(real.logits)
        terms["d_fake"] = tf.reduce_mean(fake_scores.logits)
        return terms

    def generator_terms(self, batch: Batch) -> tuple[dict[str, tf.Tensor], Any]:
        fake = self.generate(batch, training=True)
        if not self.adversarial:
            return self.generator_extra_losses(batch, fake, None, training=True), fake
        scores = self.judge(fake, batch)
        terms = {"g_adv": self.adversarial_weight * L.generator_loss(self.loss_family, scores.logits)}
        if self.feature_matching:
            real_features = self.judge(batch.real, batch).features
            real_mean = self.cross_replica_mean(tf.reduce_mean(tf.cast(real_features, tf.float32), axis=0))
            fake_mean = self.cross_replica_mean(tf.reduce_mean(tf.cast(scores.features, tf.float32), axis=0))
            terms["feature_matching"] = self.feature_matching * tf.reduce_mean(tf.square(real_mean - fake_mean))
        terms.update(self.generator_extra_losses(batch, fake, scores, training=True))
        return terms, fake

    @staticmethod
    def _total(terms: dict[str, tf.Tensor]) -> tf.Tensor:
        return tf.add_n([v for k, v in terms.items() if k not in ("d_real", "d_fake")])

    def train_step(self, data):
        _draws.count = 0
        _draws.step = tf.identity(self.step_counter.value)
        batch = self.unpack_batch(data)
        d_terms = {}
        for _ in range(self.d_steps if self.adversarial else 0):
            with tf.GradientTape() as tape:
                d_terms = self.discriminator_terms(batch)
                d_loss = self._total(d_terms)
            self.apply_update(tape, d_loss, self.discriminator_variables(), self.d_optimizer)
            d_terms["d_loss"] = d_loss
        with tf.GradientTape() as tape:
            g_terms, fake = self.generator_terms(batch)
            g_loss = self._total(g_terms)
        g_norm = self.apply_update(tape, g_loss, self.generator_variables(), self.g_optimizer)
        self.update_ema()
        with tf.control_dependencies([g_norm, _draws.step]):
            self.step_counter.assign_add(1)
        _draws.step = None
        logs = {**d_terms, **g_terms, "g_loss": g_loss, "g_grad_norm": g_norm}
        logs["diversity"] = self.diversity_ratio(batch.real, fake)
        return self.record(logs)

    def record(self, logs: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        """Update the trackers with cross-replica means; report running averages. A term that `metric_names` does not
        list fails the first step (at tracing) instead of going unreported."""
        unlisted = sorted(set(logs) - set(self.trackers))
        if unlisted:
            raise ValueError(f"{type(self).__name__}: terms {unlisted} are not in metric_names(); add them there")
        for name, tracker in self.trackers.items():
            if name in logs:
                tracker.update_state(self.cross_replica_mean(tf.cast(logs[name], tf.float32)))
        results = {name: tracker.result() for name, tracker in self.trackers.items()}
        if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
            # Keras reduces multi-worker step outputs with a mean over axis 0, which scalars lack.
            results = {name: tf.reshape(value, [1]) for name, value in results.items()}
        return results

    def diversity_ratio(self, real, fake) -> tf.Tensor:
        """Spread of the fake batch over the spread of the real one; near 0 means collapse."""
        real = tf.cast(tf.nest.flatten(real)[0], tf.float32)
        fake = tf.cast(tf.nest.flatten(fake)[0], tf.float32)
        real_std = tf.reduce_mean(tf.math.reduce_std(tf.reshape(real, [tf.shape(real)[0], -1]), axis=0))
        fake_std = tf.reduce_mean(tf.math.reduce_std(tf.reshape(fake, [tf.shape(fake)[0], -1]), axis=0))
        return fake_std / (real_std + 1e-8)

    def update_ema(self) -> None:
        """Move the EMA generator towards the trained one, on every replica alike."""
        if self.ema_generator is None:
            return
        # Warm-up as tf.train.ExponentialMovingAverage(num_updates=step): early on the average forgets faster,
        # so a short run's average is not a fixed share of the random initial weights (0.999 ** 1800 = 17%).
        step = tf.cast(self.step_counter.value, tf.float32)
        decay = tf.minimum(self.ema_decay, (1.0 + step) / (10.0 + step))
        pairs = list(zip(self.ema_generator.weights, self.generator.weights))

        trainable = [v.trainable for v in self.generator.weights]

        def update(strategy, pairs):
            # Trainable weights are averaged; statistics such as batch-norm moving moments are copied.
            for (ema_var, var), averaged in zip(pairs, trainable):
                rate = decay if averaged else 0.0
                strategy.extended.update(
                    ema_var.value, lambda e, w, r=rate: e.assign(r * e + (1.0 - r) * w),
                    args=(var.value,), group=False,
                )

        context = tf.distribute.get_replica_context()
        if context is None:
            update(tf.distribute.get_strategy(), pairs)
        else:
            context.merge_call(update, args=(pairs,))

    # ------------------------------------------------------------------ notebook helpers
    def sample(self, num: int, condition=None, seed: int = 0, batch_size: int = 256):
        """Generate `num` samples as a NumPy array with the sampling generator (EMA when present)."""
        import numpy as np

        latent_shape = self.generator.inputs[0].shape[1:]
        z = np.random.default_rng(seed).standard_normal((num, *latent_shape)).astype("float32")
        inputs = z if condition is None else [z, condition]
        return np.asarray(self.sampling_generator.predict(inputs, batch_size=batch_size, verbose=0))
