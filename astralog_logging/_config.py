"""One frozen, validated configuration, built from keyword arguments and the environment.

Every way in (dictConfig, the CLI, the integrations) builds a Config the same way, and every
mistake surfaces here, at construction, with a message that names the setting, never at the
first emit. The token is kept out of ``repr`` and error messages.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import sys
from typing import Any, Callable, Mapping, Optional, Sequence, Union
from urllib.parse import urlsplit

from ._bounds import (
    BOOLEAN_WORDS_SET,
    MAX_BUFFER_BYTES,
    MAX_QUEUE_SIZE,
    MAX_RETRIES,
    MAX_RETRY_DEADLINE,
    MAX_SPOOL_BYTES,
    MIB,
    amount,
    flag,
    number,
    seconds,
    size,
)
from ._ipc import _ownership
from ._report import keep_secret, scrub
from .exceptions import ConfigError

DEFAULT_ENDPOINT = "https://api.astralog.cloud/v1/drain"

# Limits a drain enforces (protocol.md); our settings must stay inside them.
PROTOCOL_MAX_BATCH = 10_000
PROTOCOL_MAX_BODY = 5 * MIB
PROTOCOL_MAX_ENTRY = 256 * 1024

_MAIN_MODULES = ("__main__", "__mp_main__")

SessionFactory = Union[str, Callable[..., Any], None]


def sha256_hex(data: bytes) -> str:
    """SHA-256 without loading OpenSSL where the interpreter has its own (hashlib's import
    costs a construction 2-3 ms more)."""
    try:
        from _sha256 import sha256  # type: ignore[import-not-found]  # up to 3.11
    except ImportError:
        try:
            from _sha2 import sha256  # type: ignore[import-not-found]  # 3.12+
        except ImportError:
            from hashlib import sha256
    return str(sha256(data).hexdigest())


class Secret(str):
    """A string that keeps itself out of every repr (crash reporters dump attributes)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'<hidden>'"


@dataclasses.dataclass(frozen=True)
class Config:
    token: str = dataclasses.field(repr=False)
    project_id: str
    service: str
    endpoint: str = DEFAULT_ENDPOINT
    max_batch_size: int = 1000
    flush_interval: float = 1.0
    max_batch_bytes: int = MIB
    max_entry_bytes: int = 64 * 1024
    max_queue_size: int = 10_000
    compression: Optional[str] = "gzip"
    timeout: float = 10.0
    shutdown_timeout: float = 10.0
    enabled: bool = True
    verify: Union[bool, str] = True
    session_factory: Optional[str] = None
    max_retries: int = 10
    retry_max_delay: float = 30.0
    retry_deadline: float = 300.0
    max_buffer_bytes: int = 64 * MIB
    overflow: str = "drop_newest"
    spool_dir: Optional[str] = None
    spool_max_bytes: int = 256 * MIB
    on_error: Optional[str] = None
    on_success: Optional[str] = None

    @property
    def token_fingerprint(self) -> str:
        """Identifies the token without revealing it (a truncated SHA-256)."""
        return sha256_hex(self.token.encode())[:16]

    @property
    def key(self) -> tuple[Any, ...]:
        """What must match for two handlers to share one listener."""
        return (self.endpoint, self.project_id, self.service, self.token_fingerprint,
                self.compression, self.verify, self.session_factory)

    @property
    def spool_path(self) -> Optional[str]:
        """One subdirectory of ``spool_dir`` per configuration, named without the token."""
        if not self.spool_dir:
            return None
        name = sha256_hex(repr(self.key).encode())[:16]
        return os.path.join(self.spool_dir, name)

    def listener_settings(self) -> dict[str, Any]:
        """The plain-data settings the listener process needs (sent over its stdin)."""
        settings = dataclasses.asdict(self)
        if self.spool_dir:
            settings["spool_path"] = self.spool_path
        if self.session_factory or self.on_error or self.on_success:
            # What they import must be found there as here (a script's own directory).
            settings["import_path"] = [os.path.abspath(p) for p in sys.path]
        return settings


def _env(name: str, value: Any) -> Any:
    return os.environ.get(name) if value is None else value


def _required(setting: str, env: str, value: Any) -> str:
    value = _env(env, value)
    if value is None or not str(value).strip():
        raise ConfigError(f"{setting} is required: pass {setting}=... to AstralogHandler or set "
                          f"the {env} environment variable")
    if not isinstance(value, str):
        raise ConfigError(f"{setting} must be a string")
    return value.strip()


def _token(value: Any) -> Secret:
    """The token travels in an HTTP header: Latin-1 without control characters. Anything
    else would fail (or be split into another header) on every request, in the listener."""
    token = _required("token", "ASTRALOG_TOKEN", value)
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


def _endpoint(value: Any) -> str:
    endpoint = str(_env("ASTRALOG_ENDPOINT", value) or DEFAULT_ENDPOINT).strip()
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


def _session_factory(value: Any) -> Optional[str]:
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


def build(
    *,
    token: str | None = None,
    project_id: str | None = None,
    service: str | None = None,
    endpoint: str | None = None,
    enabled: bool | str | None = None,
    max_batch_size: int = 1000,
    flush_interval: float = 1.0,
    max_batch_bytes: int = MIB,
    max_entry_bytes: int = 64 * 1024,
    max_queue_size: int = 10_000,
    compression: str | None = "gzip",
    timeout: float = 10.0,
    shutdown_timeout: float = 10.0,
    verify: bool | str = True,
    session_factory: SessionFactory = None,
    max_retries: int = 10,
    retry_max_delay: float = 30.0,
    retry_deadline: float = 300.0,
    max_buffer_bytes: int = 64 * MIB,
    overflow: str = "drop_newest",
    spool_dir: str | None = None,
    spool_max_bytes: int = 256 * MIB,
    on_error: SessionFactory = None,
    on_success: SessionFactory = None,
) -> Config | None:
    """Validate everything; return None when disabled (then no credential is required)."""
    if not flag("enabled", enabled, "ASTRALOG_ENABLED", True):
        return None
    if compression not in ("gzip", None, "none"):
        raise ConfigError(f'compression must be "gzip" or None; got {compression!r}')
    verify = _verify(verify)
    if overflow not in ("drop_newest", "drop_oldest"):
        raise ConfigError(f'overflow must be "drop_newest" or "drop_oldest"; got {overflow!r}')
    spool_dir = _path("spool_dir", _env("ASTRALOG_SPOOL_DIR", spool_dir))
    if spool_dir is not None:
        spool_dir = os.path.abspath(os.path.expanduser(spool_dir))
        try:
            os.makedirs(spool_dir, mode=0o700, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"spool_dir: cannot create {spool_dir!r} ({exc.strerror})") from None
        if not os.access(spool_dir, os.W_OK):
            raise ConfigError(f"spool_dir: {spool_dir!r} is not writable")
    config = Config(
        token=_token(token),
        project_id=_required("project_id", "ASTRALOG_PROJECT_ID", project_id),
        service=_required("service", "ASTRALOG_SERVICE", service),
        endpoint=_endpoint(endpoint),
        max_batch_size=number("max_batch_size", max_batch_size, integer=True, at_least=1,
                               at_most=PROTOCOL_MAX_BATCH, why="a drain's limit"),
        flush_interval=seconds("flush_interval", flush_interval),
        max_batch_bytes=size("max_batch_bytes", max_batch_bytes, 1024, _MAX_BATCH_BYTES,
                               "a drain's 5 MiB body limit, less 64 KiB for the envelope"),
        max_entry_bytes=size("max_entry_bytes", max_entry_bytes, 1024, PROTOCOL_MAX_ENTRY,
                               "a drain's limit"),
        max_queue_size=number("max_queue_size", max_queue_size, integer=True, at_least=1,
                               at_most=MAX_QUEUE_SIZE),
        compression=None if compression in (None, "none") else "gzip",
        timeout=seconds("timeout", timeout),
        shutdown_timeout=seconds("shutdown_timeout", shutdown_timeout),
        verify=verify,
        session_factory=_session_factory(session_factory),
        max_retries=number("max_retries", max_retries, integer=True, at_least=0,
                            at_most=MAX_RETRIES),
        retry_max_delay=seconds("retry_max_delay", retry_max_delay),
        retry_deadline=seconds("retry_deadline", retry_deadline, MAX_RETRY_DEADLINE),
        max_buffer_bytes=size("max_buffer_bytes", max_buffer_bytes, MIB, MAX_BUFFER_BYTES),
        overflow=overflow,
        spool_dir=spool_dir,
        spool_max_bytes=size("spool_max_bytes", spool_max_bytes, MIB, MAX_SPOOL_BYTES),
        on_error=dotted_path("on_error", on_error),
        on_success=dotted_path("on_success", on_success),
    )
    _check_together(config)
    if config.spool_dir and config.spool_path:
        _ownership.check_spool(config.spool_dir, config.spool_path)
    return config


_MAX_BATCH_BYTES = PROTOCOL_MAX_BODY - 64 * 1024


def _check_together(config: Config) -> None:
    """Bounds one setting puts on another, said as such."""
    batch = config.max_batch_bytes
    for setting, value, why in (
        ("max_entry_bytes", config.max_entry_bytes, "an entry must fit in a batch"),
    ):
        if value > batch:
            raise ConfigError(f"{setting} ({amount(value, 'bytes')}) must not be more than "
                              f"max_batch_bytes ({amount(batch, 'bytes')}): {why}")
    for setting, value, why in (
        ("max_buffer_bytes", config.max_buffer_bytes, "the listener must hold a full batch"),
        ("spool_max_bytes", config.spool_max_bytes, "the spool must hold a full batch"),
    ):
        if value < batch:
            raise ConfigError(f"{setting} ({amount(value, 'bytes')}) must be at least "
                              f"max_batch_bytes ({amount(batch, 'bytes')}): {why}")
    path = config.spool_path
    if path is not None and os.path.lexists(path) and not os.path.isdir(path):
        raise ConfigError(f"spool_dir: {path!r} is in the way: the spool keeps this "
                          "configuration's records in a directory of that name; move it")


def _verify(value: Any) -> Union[bool, str]:
    if isinstance(value, str) and value.strip().lower() in BOOLEAN_WORDS_SET:
        return flag("verify", value)  # "false" from a config file, not a CA bundle's name
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, (bool, str)):
        raise ConfigError("verify must be True, False or the path of a CA bundle")
    if isinstance(value, str) and not os.path.exists(value):
        raise ConfigError(f"verify: CA bundle {value!r} does not exist")
    return value


def _path(setting: str, value: Any) -> Optional[str]:
    """A directory setting: a str or a path-like; a number would become ``./123``."""
    if value is None:
        return None
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{setting} must be the path of a directory (a str or a "
                          f"pathlib.Path); got {value!r}")
    return value


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
