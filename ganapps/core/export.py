"""SavedModel export of generators in the TF Serving layout `NAME/VERSION/`, written atomically."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Sequence

import keras
import tensorflow as tf


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


def load_generator(path: str | Path):
    """Load an exported generator; returns a callable taking the serving inputs as keyword arguments."""
    from ganapps.core.errors import GanappsError

    path = Path(path)
    if not (path / "saved_model.pb").exists():
        versions = [p for p in path.glob("*") if (p / "saved_model.pb").exists()]
        if not versions:
            raise GanappsError(f"{path}: no SavedModel here (expected saved_model.pb in it or in a version folder)")
        # The highest version, numerically as TF Serving picks it (10 after 9).
        path = max(versions, key=lambda p: (p.name.isdigit(), int(p.name) if p.name.isdigit() else 0, p.name))
    loaded = tf.saved_model.load(str(path))
    signature = loaded.signatures["serving_default"]
    # The signature holds its variables weakly: keep the loaded object alive as long as the signature, or a
    # tf.function that calls it fails with "referencing variables which have been deleted".
    signature.saved_model = loaded
    return signature
