"""TensorBoard event files written from plain Python (TensorBoard's own protos and record framing, no TensorFlow
ops): the per-epoch sample grids and quality figures.

Writing them through `tf.summary` ran TensorFlow ops at each epoch's end, and a Ctrl-C that arrived inside them was
sometimes lost (the run then finished as if never interrupted). Here every event is one synchronous, flushed
`write` in Python, which an interrupt cannot swallow.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2
from tensorboard.plugins.image import metadata as image_metadata
from tensorboard.plugins.scalar import metadata as scalar_metadata
from tensorboard.summary.writer.record_writer import RecordWriter


class EventWriter:
    """Appends events to one new `events.out.tfevents.*` file in `folder` (TensorBoard reads every such file of
    a folder as one run, beside Keras's own)."""

    def __init__(self, folder: str | Path, suffix: str = "ganapps"):
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        now = time.time()
        name = f"events.out.tfevents.{int(now)}.{socket.gethostname()}.{os.getpid()}.{suffix}"
        self.path = folder / name
        self._file = open(self.path, "ab")
        self._records = RecordWriter(self._file)
        self._write(event_pb2.Event(wall_time=now, file_version="brain.Event:2"))

    def scalar(self, tag: str, value: float, step: int) -> None:
        tensor = tensor_pb2.TensorProto(dtype=1, float_val=[float(value)],  # DT_FLOAT, a scalar
                                        tensor_shape=tensor_shape_pb2.TensorShapeProto())
        self._summary(tag, tensor, scalar_metadata.create_summary_metadata("", ""), step)

    def image(self, tag: str, png: bytes, width: int, height: int, step: int) -> None:
        """One encoded PNG as `tf.summary.image` stores it: the strings [width, height, PNG]."""
        tensor = tensor_pb2.TensorProto(
            dtype=7, string_val=[str(width).encode(), str(height).encode(), png],  # DT_STRING
            tensor_shape=tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=3)]))
        self._summary(tag, tensor, image_metadata.create_summary_metadata("", ""), step)

    def _summary(self, tag: str, tensor, metadata, step: int) -> None:
        value = summary_pb2.Summary.Value(tag=tag, tensor=tensor, metadata=metadata)
        self._write(event_pb2.Event(wall_time=time.time(), step=step, summary=summary_pb2.Summary(value=[value])))

    def _write(self, event) -> None:
        self._records.write(event.SerializeToString())
        self._file.flush()

    def close(self) -> None:
        self._file.close()
