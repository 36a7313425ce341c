"""Checks of one setting's value: booleans given as words, numbers within bounds.

A bound is said in the setting's own unit (``1 MiB (1048576)``, ``3600 seconds (1 hour)``),
because that is the unit the user wrote it in. Bounds sit where a value stops being a
setting and becomes a mistake, or would overflow a timer or the JSON that carries the
settings to the listener.
"""

from __future__ import annotations

import math
import os
from typing import Any

from .exceptions import ConfigError

MIB = 1024 * 1024
HOUR = 3600.0
MAX_SECONDS = HOUR
MAX_RETRY_DEADLINE = 24 * HOUR
MAX_QUEUE_SIZE = 10_000_000
MAX_RETRIES = 1_000_000
MAX_BUFFER_BYTES = 64 * 1024 * MIB
MAX_SPOOL_BYTES = 1024 * 1024 * MIB
MIN_ENTRY_BYTES = 1024  # below this the required fields alone might not fit
MAX_ENTRY_BYTES = 256 * 1024  # a drain's per-entry limit (protocol.md)

# Booleans also come as text (YAML, INI, the environment); bool("no") is True, so only
# these words are accepted.
_WORDS = {"1": True, "true": True, "yes": True, "on": True,
          "0": False, "false": False, "no": False, "off": False}
BOOLEAN_WORDS = "true/false, yes/no, on/off or 1/0"
BOOLEAN_WORDS_SET = frozenset(_WORDS)


def flag(setting: str, value: Any, env: str | None = None, default: bool = False) -> bool:
    """A boolean setting: a bool, 0/1, or one of the words (any case); None falls back to
    ``env`` (an empty variable counts as unset), then to ``default``."""
    source = ""
    if value is None:
        raw = os.environ.get(env) if env else None
        if raw is None or not raw.strip():
            return default
        value, source = raw, f" (from {env})"
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _WORDS:
        return _WORDS[value.strip().lower()]
    raise ConfigError(f"{setting} must be true or false ({BOOLEAN_WORDS}); got {value!r}"
                      f"{source}")


def amount(value: float, unit: str) -> str:
    """``1 MiB (1048576)``, ``3600 seconds``: the unit the setting is given in."""
    if unit == "bytes":
        for step, name in ((1024 * MIB, "GiB"), (MIB, "MiB"), (1024, "KiB")):
            if value >= step and value % step == 0:
                return f"{_plain(value // step)} {name} ({_plain(value)})"
        return f"{_plain(value)} bytes"
    if unit == "seconds" and value >= HOUR and value % HOUR == 0:
        hours = int(value // HOUR)
        return f"{_plain(value)} seconds ({hours} hour{'' if hours == 1 else 's'})"
    return f"{_plain(value)} {unit}".rstrip()


def _plain(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def number(setting: str, value: Any, *, integer: bool, unit: str = "",
            at_least: float | None = None, above: float | None = None,
            at_most: float, why: str = "") -> Any:
    """A finite number within bounds, refused in the setting's own unit otherwise."""
    kind = "a whole number" if integer else "a number"
    try:
        got = int(value) if integer else float(value)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{setting} must be {kind}" + (f" of {unit}" if unit else "") +
                          f"; got {value!r}") from None
    if isinstance(value, bool) or (integer and got != value and not isinstance(value, str)):
        raise ConfigError(f"{setting} must be {kind}; got {value!r}")
    if not math.isfinite(got):
        raise ConfigError(f"{setting} must be a finite number; got {value!r}")
    if above is not None and got <= above:
        raise ConfigError(f"{setting} must be more than {amount(above, unit)}; got {value!r}")
    if at_least is not None and got < at_least:
        raise ConfigError(f"{setting} must be at least {amount(at_least, unit)}; "
                          f"got {value!r}")
    if got > at_most:
        raise ConfigError(f"{setting} must be at most {amount(at_most, unit)}"
                          + (f" ({why})" if why else "") + f"; got {value!r}")
    return got


def seconds(setting: str, value: Any, at_most: float = MAX_SECONDS) -> float:
    value_s: float = number(setting, value, integer=False, unit="seconds", above=0,
                             at_most=at_most)
    return value_s


def size(setting: str, value: Any, at_least: int, at_most: int, why: str = "") -> int:
    size: int = number(setting, value, integer=True, unit="bytes", at_least=at_least,
                        at_most=at_most, why=why)
    return size
