"""The package's exceptions, kept small on purpose::

    AstralogError
     +-- ConfigError (also ValueError: a bad setting is a bad value)

Delivery problems are never raised into the application: the listener counts them and says
so on stderr. Only construction-time mistakes, which the developer must fix, raise.
"""

from __future__ import annotations


class AstralogError(Exception):
    """Base of every exception this package raises."""


class ConfigError(AstralogError, ValueError):
    """A setting is missing or wrong; the message names it and how to provide it."""
