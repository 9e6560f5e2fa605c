"""Errors the CLI turns into one clear line and exit code 2."""


class PixringError(Exception):
    """A user-facing error: bad input or an environment problem, reported without a traceback."""
