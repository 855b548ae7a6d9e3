"""Errors the user can act on. The CLI prints them as one line, never a traceback."""


class VlmrunError(Exception):
    """A problem with the user's input or environment; the message says what to do."""
