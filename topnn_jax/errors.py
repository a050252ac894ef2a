"""The project's error type for bad input."""


class InputError(ValueError):
    """Bad input from a user: the message says what was wrong and what to do.

    The CLI turns it into a one-line message and exit code 2 (no traceback).
    """
