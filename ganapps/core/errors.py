"""The exception types that the command line turns into one-line messages."""


class GanappsError(Exception):
    """A problem the user can fix (bad input, missing file, unknown option): shown without a traceback."""


class Interrupted(GanappsError):
    """Work stopped by the user (Ctrl-C, SIGINT) with nothing lost: the message says what was kept."""


class ParameterError(GanappsError, ValueError):
    """A bad value of one named parameter of the Python API.

    The message names the parameter as the API spells it (`num must be at least 1, got 0`); the command line
    shows the same problem under its flag (`--num must be at least 1, got 0`).

    Args:
        parameter: the API's parameter name, e.g. `"batch_size"`.
        problem: what is wrong, phrased to follow the name, e.g. `"must be at least 1, got 0"`.
    """

    def __init__(self, parameter: str, problem: str):
        self.parameter = parameter
        self.problem = problem
        super().__init__(f"{parameter} {problem}")

    def as_flag(self) -> str:
        """The message with the parameter written as its command-line flag."""
        return f"--{self.parameter.replace('_', '-')} {self.problem}"


def check_choice(parameter: str, value, choices) -> None:
    """Raise a `ParameterError` unless `value` is one of `choices`."""
    if value not in choices:
        raise ParameterError(parameter, f"{value!r}: choose one of {', '.join(map(str, choices))}")


def check_at_least(parameter: str, value, minimum) -> None:
    """Raise a `ParameterError` when `value` is below `minimum`."""
    if value < minimum:
        raise ParameterError(parameter, f"must be at least {minimum}, got {value}")


def interrupted_by_user(error: BaseException) -> bool:
    """Whether `error` is Ctrl-C, or an error raised while Ctrl-C unwound (a writer closed on the way out, say),
    which is an interrupt too and not a failure to report."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, KeyboardInterrupt):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False
