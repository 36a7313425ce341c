"""The checks of single settings: each refuses a wrong value with one ConfigError that
names the setting and says what would fix it (``_bounds`` holds the numeric ones)."""

from __future__ import annotations

import importlib
import logging
import os
from typing import Any, Mapping, Optional, Sequence, Union
from urllib.parse import urlsplit

from ._bounds import BOOLEAN_WORDS_SET, flag
from ._report import keep_secret, scrub
from .exceptions import ConfigError

DEFAULT_ENDPOINT = "https://api.astralog.cloud/v1/drain"
_MAIN_MODULES = ("__main__", "__mp_main__")


class Secret(str):
    """A string that keeps itself out of every repr (crash reporters dump attributes)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'<hidden>'"


def from_env(name: str, value: Any) -> Any:
    return os.environ.get(name) if value is None else value


def required(setting: str, env: str, value: Any) -> str:
    value = from_env(env, value)
    if value is None or not str(value).strip():
        raise ConfigError(f"{setting} is required: pass {setting}=... to AstralogHandler or set "
                          f"the {env} environment variable")
    if not isinstance(value, str):
        raise ConfigError(f"{setting} must be a string")
    return value.strip()


def token(value: Any) -> Secret:
    """The token travels in an HTTP header: Latin-1 without control characters. Anything
    else would fail (or be split into another header) on every request, in the listener."""
    token = required("token", "ASTRALOG_TOKEN", value)
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in token):
        raise ConfigError("token contains a control character (a newline, a tab or the "
                          "like), which an HTTP header cannot carry; check how it was "
                          "copied (ASTRALOG_TOKEN or token=...)")
    if any(ord(c) > 0xFF for c in token):
        raise ConfigError("token contains a character outside Latin-1, which an HTTP "
                          "header cannot carry; check how it was copied (ASTRALOG_TOKEN or "
                          "token=...)")
    keep_secret(token)
    return Secret(token)


def endpoint(value: Any) -> str:
    endpoint = str(from_env("ASTRALOG_ENDPOINT", value) or DEFAULT_ENDPOINT).strip()
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError as exc:  # its text names the part ("Invalid IPv6 URL", a bad port)
        raise ConfigError(f"endpoint (from endpoint=... or ASTRALOG_ENDPOINT) is not a "
                          f"valid URL: {exc}") from None
    if port == 0:
        raise ConfigError("endpoint: port 0 cannot be connected to; give a port from 1 to "
                          "65535")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"endpoint must be an http:// or https:// URL (from endpoint=... or "
                          f"ASTRALOG_ENDPOINT); got {parts.scheme or 'no'} scheme")
    if parts.username or parts.password:
        raise ConfigError("endpoint must not carry credentials; pass the token as token=... "
                          "or ASTRALOG_TOKEN")
    return endpoint


def dotted_path(setting: str, value: Any) -> str | None:
    """Turn a callable or ``module:attr``/``module.attr`` string into an importable path.

    The listener is another interpreter, so what it calls must be importable there; a lambda
    or a closure is refused here rather than failing later in the background.
    """
    if value is None:
        return None
    if isinstance(value, str):
        _not_main(setting, value)
        resolve(setting, value)
        return value
    module, qualname = getattr(value, "__module__", None), getattr(value, "__qualname__", "")
    if not callable(value) or not module or "<" in qualname:
        raise ConfigError(f"{setting} must be a dotted path or a module-level function")
    path = f"{module}:{qualname}"
    _not_main(setting, path)
    if resolve(setting, path) is not value:
        raise ConfigError(f"{setting} must be importable as {path}")
    return path


def _not_main(setting: str, path: str) -> None:
    """The listener is ``python -m astralog_logging._listener``: its ``__main__`` is not
    the application's script, and importing the script there would run it again."""
    module, sep, attr = path.partition(":")
    if not sep:
        module, _, attr = path.rpartition(".")
    if module in _MAIN_MODULES:
        raise ConfigError(
            f"{setting}: {attr} is defined in the main script, which the listener (another "
            f"interpreter) cannot import; move it into a module and pass it from there, "
            f"e.g. {setting}='myapp.hooks:{attr}'")


def session_factory(value: Any) -> Optional[str]:
    """Called once here: a factory that raises or returns no session is refused now, not
    found out in the listener on every batch."""
    path = dotted_path("session_factory", value)
    if path is None:
        return None
    try:
        session = resolve("session_factory", path)()
    except Exception as exc:
        raise ConfigError(f"session_factory: {path} raised {scrub(repr(exc))}") from None
    if not callable(getattr(session, "post", None)):
        raise ConfigError(f"session_factory: {path} returned {type(session).__name__}, not "
                          "a requests.Session")
    close = getattr(session, "close", None)
    if callable(close):
        close()
    return path


def resolve(setting: str, path: str) -> Any:
    module, sep, attr = path.partition(":")
    if not sep:
        module, _, attr = path.rpartition(".")
    try:
        target: Any = importlib.import_module(module)
        for name in attr.split("."):
            target = getattr(target, name)
    except Exception as exc:  # whatever importing the module raised
        raise ConfigError(f"{setting}: cannot import {path!r} ({exc!r})") from None
    if not callable(target):
        raise ConfigError(f"{setting}: {path!r} is not callable")
    return target


def verify(value: Any) -> Union[bool, str]:
    if isinstance(value, str) and value.strip().lower() in BOOLEAN_WORDS_SET:
        return flag("verify", value)  # "false" from a config file, not a CA bundle's name
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, (bool, str)):
        raise ConfigError("verify must be True, False or the path of a CA bundle")
    if isinstance(value, str) and not os.path.exists(value):
        raise ConfigError(f"verify: CA bundle {value!r} does not exist")
    return value


def directory(setting: str, value: Any) -> Optional[str]:
    """A directory setting: a str or a path-like; a number would become ``./123``."""
    if value is None:
        return None
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{setting} must be the path of a directory (a str or a "
                          f"pathlib.Path); got {value!r}")
    return value


def spool_dir(value: Any) -> Optional[str]:
    """The spool's directory, absolute, made if missing (mode 0700), and writable."""
    path = directory("spool_dir", from_env("ASTRALOG_SPOOL_DIR", value))
    if path is None:
        return None
    path = os.path.abspath(os.path.expanduser(path))
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"spool_dir: cannot create {path!r} ({exc.strerror})") from None
    if not os.access(path, os.W_OK):
        raise ConfigError(f"spool_dir: {path!r} is not writable")
    return path


def string_list(setting: str, value: Sequence[str] | str | None) -> tuple[str, ...]:
    """Tags come from dictConfig as a list or from the environment as ``a,b``."""
    if value is None:
        return ()
    if isinstance(value, str):
        value = [v for v in (p.strip() for p in value.split(",")) if v]
    if not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{setting} must be a list of strings")
    return tuple(value)


def mapping(setting: str, value: Mapping[str, Any] | None) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{setting} must be a mapping of field names to values")
    return dict(value)


def no_unknown(given: Mapping[str, Any], known: Mapping[str, Any],
               ignored: Sequence[str] = ()) -> None:
    """One ConfigError for a setting nobody knows, naming the nearest known one."""
    unknown = sorted(name for name in given if name not in ignored)
    if not unknown:
        return
    import difflib  # only for this mistake: it costs every import otherwise

    hint = difflib.get_close_matches(unknown[0], list(known), n=1)
    raise ConfigError(
        f"unknown setting {unknown[0]!r}" + (f"; did you mean {hint[0]!r}?" if hint else ""))


def level(value: Union[int, str]) -> int:
    """The stdlib's check, refused as a ConfigError naming the setting (any case)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    number = logging.getLevelName(value.strip().upper()) if isinstance(value, str) else None
    if not isinstance(number, int):
        raise ConfigError(f"level must be a level name (DEBUG, INFO, WARNING, ERROR, "
                          f"CRITICAL) or a number; got {value!r}")
    return number


def callback(setting: str, value: Any) -> Any:
    if value is None or callable(value):
        return value
    if isinstance(value, str):
        return resolve(setting, value)
    raise ConfigError(f"{setting} must be a callable or a dotted path to one")


def redact_keys(redact: Union[bool, str, Sequence[str]],
                defaults: Union[bool, str]) -> Optional[frozenset[str]]:
    """The key names to redact: the defaults (unless ``redact_defaults`` is false) plus
    ``redact``'s; None when ``redact`` is false (nothing redacted, nothing scrubbed)."""
    from ._encode._redact import build_redact_keys  # the app side only

    extend = flag("redact_defaults", defaults)
    if isinstance(redact, str) and redact.strip().lower() in BOOLEAN_WORDS_SET:
        redact = flag("redact", redact)  # "false" from a config file, not a key name
    if redact is False:
        return None
    names = () if redact is True else string_list("redact", redact)
    return build_redact_keys(names, extend=extend)
