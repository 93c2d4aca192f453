"""Progress and status output on stderr, so that results on stdout (`--json`) stay parseable."""

from __future__ import annotations

import time
from contextlib import contextmanager


def console(stderr: bool = True):
    """A Rich console on stderr (`stderr=False`: stdout, for results) that does not wrap lines when it writes to a
    file or a pipe, so a log keeps `source -> target` on one line whatever its length."""
    import sys

    from rich.console import Console

    return Console(stderr=stderr, soft_wrap=not (sys.stderr if stderr else sys.stdout).isatty())


@contextmanager
def working(message: str):
    """Say on stderr what a long step does before it starts (a spinner beside it on a terminal) and how long it
    took when it ends, so a first run that trains a judge or fits an embedding is never silent."""
    out = console()
    start = time.perf_counter()
    if out.is_terminal:
        with out.status(f"{message} ..."):
            yield
    else:
        out.print(f"{message} ...")
        yield
    out.print(f"{message}: done in {time.perf_counter() - start:.0f} s")


def progress_bar(items, total: int | None, description: str, show: bool):
    """`items`, with a transient rich progress bar on stderr when `show`."""
    from rich.progress import track

    return track(items, description=description, total=total, disable=not show, console=console(), transient=True)


# Lines TensorFlow's C++ start-up writes straight to file descriptor 2 (absl before its logging is initialised,
# so TF_CPP_MIN_LOG_LEVEL cannot silence them): the CUDA probe on a machine without GPUs, the CPU feature notice.
_STARTUP_NOISE = ("All log messages before absl::InitializeLog()", "cudart_stub.cc", "cpu_feature_guard.cc",
                  "To enable the following instructions", "oneDNN custom operations are on", "rebuild TensorFlow with")


def import_quietly(module: str):
    """Import `module` (which imports TensorFlow) with TensorFlow's start-up notices kept off stderr; anything else
    it writes there is passed on, so a real problem is still seen."""
    import importlib
    import os
    import sys
    import tempfile

    if "tensorflow" in sys.modules:
        return importlib.import_module(module)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            return importlib.import_module(module)
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode(errors="replace").splitlines(keepends=True):
                if line.strip() and not any(noise in line for noise in _STARTUP_NOISE):
                    sys.stderr.write(line)
            sys.stderr.flush()
