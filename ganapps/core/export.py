"""SavedModel export in the TF Serving layout `NAME/VERSION/` (written atomically), and the inference `Handle`
that every app's notebook API returns, over a Keras generator or an exported SavedModel alike."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any, Sequence

import keras
import tensorflow as tf

from ganapps.core.errors import GanappsError


def input_specs(model: keras.Model, names: Sequence[str] | None = None) -> list[tf.TensorSpec]:
    """Serving input specs from a functional model's inputs, any batch size, named for the signature."""
    names = list(names) if names else [i.name.split(":")[0] for i in model.inputs]
    return [
        tf.TensorSpec((None, *tensor.shape[1:]), tf.as_dtype(tensor.dtype), name=name)
        for tensor, name in zip(model.inputs, names)
    ]


def export_generator(
    model: keras.Model,
    directory: str | Path,
    version: int = 1,
    input_names: Sequence[str] | None = None,
    output_name: str = "samples",
) -> Path:
    """Export `model` to `directory/version` with a `serving_default` signature; returns that path.

    The inputs keep their (or the given) names, the output is called `output_name`, so a TF Serving
    request reads `{"instances": [{"latent": [...]}]}` and answers `{"predictions": [...]}`.
    The SavedModel is written to a temporary folder first and renamed, so a crash never leaves half of one.
    """
    specs = input_specs(model, input_names)
    target = Path(directory) / str(version)
    target.parent.mkdir(parents=True, exist_ok=True)

    if len(specs) == 1:
        def serve(x):
            return {output_name: model(x, training=False)}
    else:
        def serve(*inputs):
            return {output_name: model(list(inputs), training=False)}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", tf.function(serve, input_signature=specs))
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{version}.staging."))
    try:
        archive.write_out(str(staging), verbose=False)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def saved_model_version(path: str | Path) -> Path:
    """`path` itself when it holds saved_model.pb, else its highest numeric version folder (as TF Serving picks)."""
    path = Path(path)
    if (path / "saved_model.pb").exists():
        return path
    versions = [p for p in path.glob("*") if (p / "saved_model.pb").exists()]
    if not versions:
        raise GanappsError(f"{path}: no SavedModel here (expected saved_model.pb in it or in a version folder)")
    return max(versions, key=lambda p: (p.name.isdigit(), int(p.name) if p.name.isdigit() else 0, p.name))


class ServingFunction:
    """An exported model called like the generator it came from: positional inputs in the generator's order, the
    first output back.

    The serving signature takes keyword arguments only (sorted by name); our exports also keep the endpoint itself,
    whose positional signature has the generator's input order, so it is called when present.
    """

    def __init__(self, path: str | Path):
        self.path = saved_model_version(path)
        self.loaded = tf.saved_model.load(str(self.path))  # kept alive: the signature holds its variables weakly
        self.signature = self.loaded.signatures["serving_default"]
        endpoint = getattr(self.loaded, "serving_default", None)
        positional = endpoint.concrete_functions[0].structured_input_signature[0] if endpoint is not None and \
            getattr(endpoint, "concrete_functions", None) else ()
        keywords = self.signature.structured_input_signature[1]
        if positional and all(spec.name in keywords for spec in positional):
            self.input_names = [spec.name for spec in positional]
            self.endpoint = endpoint
        else:
            self.input_names = list(keywords)
            self.endpoint = None
        self.input_specs = [keywords[n] for n in self.input_names]
        self.output_name, self.output_spec = next(iter(self.signature.structured_outputs.items()))

    @property
    def input_shapes(self) -> list[tuple]:
        return [tuple(spec.shape) for spec in self.input_specs]

    @property
    def output_shape(self) -> tuple:
        return tuple(self.output_spec.shape)

    def __call__(self, *inputs) -> tf.Tensor:
        tensors = [tf.convert_to_tensor(x, spec.dtype) for spec, x in zip(self.input_specs, inputs)]
        if self.endpoint is not None:
            return self.endpoint(*tensors)[self.output_name]
        return self.signature(**dict(zip(self.input_names, tensors)))[self.output_name]


class KerasFunction:
    """A Keras generator behind the same interface as `ServingFunction` (inference mode)."""

    def __init__(self, model: keras.Model):
        self.model = model
        self.input_names = [i.name.split(":")[0] for i in model.inputs]
        self.input_dtypes = [tf.as_dtype(i.dtype) for i in model.inputs]

    @property
    def input_shapes(self) -> list[tuple]:
        return [tuple(i.shape) for i in self.model.inputs]

    @property
    def output_shape(self) -> tuple:
        return tuple(self.model.outputs[0].shape)

    def __call__(self, *inputs) -> tf.Tensor:
        tensors = [tf.convert_to_tensor(x, d) for x, d in zip(inputs, self.input_dtypes)]
        return self.model(tensors[0] if len(tensors) == 1 else tensors, training=False)


class Handle:
    """A trained generator to run: what `runs.open_model` returns for a run directory, an export or a shipped model.

    Apps subclass it with their verbs (sample, upscale, translate, predict ...). The function it wraps takes the
    generator's inputs positionally and returns its output, whether it came from Keras or from a SavedModel.
    """

    def __init__(self, function: ServingFunction | KerasFunction, source: str):
        self.function = function
        self.source = source

    @classmethod
    def from_keras(cls, model: keras.Model, source: str) -> Handle:
        return cls(KerasFunction(model), source)

    @classmethod
    def from_saved_model(cls, path: str | Path) -> Handle:
        return cls(ServingFunction(path), str(path))

    @classmethod
    def from_gan(cls, gan: Any, config: Any, source: str) -> Handle:
        """The handle of a trained GAN (its sampling generator); apps that need the config override it."""
        return cls.from_keras(gan.sampling_generator, source)

    @property
    def input_shapes(self) -> list[tuple]:
        return self.function.input_shapes

    @property
    def output_shape(self) -> tuple:
        return self.function.output_shape

    def __call__(self, *inputs) -> tf.Tensor:
        return self.function(*inputs)
