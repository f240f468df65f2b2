"""The errors initlab raises on purpose, under one base.

Catch :class:`InitlabError` to handle every failure that initlab diagnoses
itself (a bad value, an unusable store, a cluster that went away); anything
else is a bug.  Bad input is a :class:`ConfigError`, which is also a
``ValueError``, so code written against the standard exception keeps working.
"""

from __future__ import annotations

__all__ = ["InitlabError", "ConfigError"]


class InitlabError(Exception):
    """Base of every error initlab raises deliberately."""


class ConfigError(InitlabError, ValueError):
    """A bad value: the message names the field, the value and what is allowed.

    ``field`` is the name of the setting (``"momentum"``, ``"datasets[1]"``),
    or ``None`` when the error is not about one field.
    """

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field
        self.message = message
