"""The one exception type that the command line turns into a one-line message."""


class GanappsError(Exception):
    """A problem the user can fix (bad input, missing file, unknown option): shown without a traceback."""
