"""Progress and status output on stderr, so that results on stdout (`--json`) stay parseable."""

from __future__ import annotations


def console():
    """A Rich console on stderr."""
    from rich.console import Console

    return Console(stderr=True)


def progress_bar(items, total: int | None, description: str, show: bool):
    """`items`, with a transient rich progress bar on stderr when `show`."""
    from rich.progress import track

    return track(items, description=description, total=total, disable=not show, console=console(), transient=True)
