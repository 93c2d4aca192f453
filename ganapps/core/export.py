"""Export in the TF Serving layout `NAME/VERSION/` (SavedModel, or LiteRT / ONNX; written atomically), and the
inference `Handle` that every app's notebook API returns, over a Keras generator or an exported SavedModel alike."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any, Sequence

import keras
import tensorflow as tf

from ganapps.core.config import EXPORT_FORMATS
from ganapps.core.errors import GanappsError, ParameterError, check_choice


def input_specs(model: keras.Model, names: Sequence[str] | None = None, dynamic_size: bool = False
                ) -> list[tf.TensorSpec]:
    """Serving input specs from a functional model's inputs, any batch size (and, with `dynamic_size`, any height
    and width of image inputs), named for the signature."""
    names = list(names) if names else [i.name.split(":")[0] for i in model.inputs]
    specs = []
    for tensor, name in zip(model.inputs, names):
        shape = _open_size([None, *tensor.shape[1:]], dynamic_size)
        specs.append(tf.TensorSpec(shape, tf.as_dtype(tensor.dtype), name=name))
    return specs


_KERAS_FORMATS = {"litert": ("litert", "model.tflite"), "onnx": ("onnx", "model.onnx")}
SERVING_INFO = Path("assets.extra") / "serving.json"  # what a client needs: inputs, their ranges, the output


def export_generator(
    model: keras.Model,
    directory: str | Path,
    version: int = 1,
    input_names: Sequence[str] | None = None,
    output_name: str = "samples",
    *,
    input_ranges: dict[str, tuple[float, float]] | None = None,
    output_range: tuple[float, float] = (-1.0, 1.0),
    info: dict | None = None,
    dynamic_size: bool = False,
    format: str = "saved_model",
) -> Path:
    """Export `model` to `directory/version` (TF Serving layout) with a `serving_default` signature; returns that
    path.

    The inputs keep their (or the given) names, the output is called `output_name`, so a TF Serving request reads
    `{"instances": [{"latent": [...]}]}` and answers `{"predictions": [...]}`. The SavedModel checks its inputs in
    the graph: float inputs must be finite, and an input named in `input_ranges` must lie in its (low, high), so a
    label of 99 fails with a message naming `label` and its range instead of an opaque gather error.
    `dynamic_size` leaves the height and width of image inputs open (fully convolutional generators).
    `format` "litert" or "onnx" writes `model.tflite` or `model.onnx` there instead (Keras's `model.export`; no
    in-graph checks: those formats have no assertion ops). Every format gets `assets.extra/serving.json`: each
    input's name, shape, dtype and range, the output's, and `info` (classes, vocabulary ...).
    Everything is written to a temporary folder first and renamed, so a crash never leaves half of an export.
    """
    check_choice("format", format, EXPORT_FORMATS)
    specs = input_specs(model, input_names, dynamic_size)
    ranges = dict(input_ranges or {})
    target = Path(directory) / str(version)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{version}.staging."))
    try:
        if format == "saved_model":
            _write_saved_model(model, specs, ranges, output_name, staging)
        else:
            _write_keras_format(model, specs, output_name, format, staging)
        description = {
            "format": format,
            "inputs": [{"name": spec.name, "shape": list(spec.shape), "dtype": spec.dtype.name,
                        "range": list(ranges[spec.name]) if spec.name in ranges else None} for spec in specs],
            "output": {"name": output_name, "shape": _open_size([None, *model.outputs[0].shape[1:]], dynamic_size),
                       "dtype": "float32", "range": list(output_range)},
            **(info or {}),
        }
        (staging / SERVING_INFO).parent.mkdir(parents=True, exist_ok=True)
        (staging / SERVING_INFO).write_text(json.dumps(description, indent=2) + "\n")
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _open_size(shape: list, dynamic_size: bool) -> list:
    """The shape with height and width open when the export leaves them so (an image tensor's)."""
    return [None, None, None, shape[3]] if dynamic_size and len(shape) == 4 else shape


def _checked_inputs(specs: Sequence[tf.TensorSpec], ranges: dict[str, tuple[float, float]], inputs) -> list:
    """The inputs behind assertions that name the input and what it must hold (InvalidArgumentError otherwise)."""
    checked = []
    for spec, tensor in zip(specs, inputs):
        if spec.dtype.is_floating:
            tensor = tf.debugging.assert_all_finite(tensor, f"{spec.name}: NaN or infinite values")
        if spec.name in ranges:
            low, high = ranges[spec.name]
            slack = 1e-3 if spec.dtype.is_floating else 0  # float images may round past their range's ends
            message = f"{spec.name}: every value must be in [{low:g}, {high:g}]"
            with tf.control_dependencies([
                tf.debugging.assert_greater_equal(tensor, tf.cast(low - slack, spec.dtype), message=message),
                tf.debugging.assert_less_equal(tensor, tf.cast(high + slack, spec.dtype), message=message),
            ]):
                tensor = tf.identity(tensor)
        checked.append(tensor)
    return checked


def _write_saved_model(model: keras.Model, specs, ranges, output_name: str, folder: Path) -> None:
    def serve(*inputs):
        inputs = _checked_inputs(specs, ranges, inputs)
        return {output_name: model(inputs[0] if len(inputs) == 1 else list(inputs), training=False)}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serving_default", tf.function(serve, input_signature=specs))
    archive.write_out(str(folder), verbose=False)


def _write_keras_format(model: keras.Model, specs, output_name: str, format: str, folder: Path) -> None:
    """LiteRT or ONNX through Keras's `model.export` (the optional `export` extra: ai-edge-litert, tf2onnx)."""
    if any(spec.dtype == tf.string for spec in specs):
        raise ParameterError("format", f"{format} has no string inputs, which this model takes "
                                       f"({', '.join(s.name for s in specs if s.dtype == tf.string)}): export it as "
                                       "saved_model")
    keras_format, filename = _KERAS_FORMATS[format]
    # Keras exports only a model that has run once: call it on one example at its own size (32 pixels if open).
    example = [tf.zeros([1, *[32 if d is None else d for d in tensor.shape[1:]]], spec.dtype)
               for tensor, spec in zip(model.inputs, specs)]
    model(example[0] if len(example) == 1 else example, training=False)
    try:
        model.export(str(folder / filename), format=keras_format, verbose=False,
                     input_signature=[specs[0] if len(specs) == 1 else list(specs)])  # one argument: the model's inputs
    except ImportError as error:
        raise GanappsError(f"{format} export needs the export extra: pip install 'ganapps[export]' ({error})"
                           ) from None
    if format == "onnx":
        _name_onnx_output(folder / filename, output_name)


def _name_onnx_output(path: Path, name: str) -> None:
    """tf2onnx names the output after the graph's last op (`Identity:0`); give it the signature's name."""
    import onnx

    graph_model = onnx.load(str(path))
    old = graph_model.graph.output[0].name
    for node in graph_model.graph.node:
        node.output[:] = [name if output == old else output for output in node.output]
    graph_model.graph.output[0].name = name
    onnx.save(graph_model, str(path))


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
        info_file = self.path / SERVING_INFO
        self.info = json.loads(info_file.read_text()) if info_file.is_file() else {}  # older exports have none

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
