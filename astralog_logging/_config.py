"""One frozen, validated configuration, built from keyword arguments and the environment.

Every way in (dictConfig, the CLI, the integrations) builds a Config the same way, and every
mistake surfaces here, at construction, with a message that names the setting, never at the
first emit. The token is kept out of ``repr`` and error messages.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import math
import os
from typing import Any, Callable, Mapping, Optional, Sequence, Union
from urllib.parse import urlsplit

from .exceptions import ConfigError

DEFAULT_ENDPOINT = "https://api.astralog.cloud/v1/drain"
MIB = 1024 * 1024

# Limits a drain enforces (protocol.md); our settings must stay inside them.
PROTOCOL_MAX_BATCH = 10_000
PROTOCOL_MAX_BODY = 5 * MIB
PROTOCOL_MAX_ENTRY = 256 * 1024

_FALSE = {"0", "false", "no", "off", ""}
_TRUE = {"1", "true", "yes", "on"}

SessionFactory = Union[str, Callable[..., Any], None]


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
        return hashlib.sha256(self.token.encode()).hexdigest()[:16]

    @property
    def key(self) -> tuple[Any, ...]:
        """What must match for two handlers to share one listener."""
        return (self.endpoint, self.project_id, self.service, self.token_fingerprint,
                self.compression, self.verify, self.session_factory)

    def listener_settings(self) -> dict[str, Any]:
        """The plain-data settings the listener process needs (sent over its stdin)."""
        settings = dataclasses.asdict(self)
        if self.spool_dir:
            # One subdirectory per configuration, named without the token.
            name = hashlib.sha256(repr(self.key).encode()).hexdigest()[:16]
            settings["spool_path"] = os.path.join(self.spool_dir, name)
        return settings


def _env(name: str, value: Any) -> Any:
    return os.environ.get(name) if value is None else value


def _flag(setting: str, env: str, value: Any, default: bool) -> bool:
    if value is None:
        raw = os.environ.get(env)
        if raw is None:
            return default
        value = raw
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(f"{setting} must be true or false (got {value!r} from {env} or the argument)")


def _number(setting: str, value: Any, *, integer: bool, minimum: float = 0.0,
            maximum: float | None = None) -> Any:
    kind = "a whole number" if integer else "a number"
    try:
        number = int(value) if integer else float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{setting} must be {kind} greater than {minimum:g}; "
                          f"got {value!r}") from None
    if isinstance(value, bool) or (integer and number != value and not isinstance(value, str)):
        raise ConfigError(f"{setting} must be {kind}; got {value!r}")
    if math.isnan(number) or number <= minimum:
        raise ConfigError(f"{setting} must be {kind} greater than {minimum:g}; got {value!r}")
    if maximum is not None and number > maximum:
        raise ConfigError(f"{setting} must be at most {maximum:g} (a drain's limit); got {value!r}")
    return number


def _required(setting: str, env: str, value: Any) -> str:
    value = _env(env, value)
    if value is None or not str(value).strip():
        raise ConfigError(f"{setting} is required: pass {setting}=... to AstralogHandler or set "
                          f"the {env} environment variable")
    if not isinstance(value, str):
        raise ConfigError(f"{setting} must be a string")
    return value.strip()


def _endpoint(value: Any) -> str:
    endpoint = str(_env("ASTRALOG_ENDPOINT", value) or DEFAULT_ENDPOINT).strip()
    parts = urlsplit(endpoint)
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
        resolve(setting, value)
        return value
    module, qualname = getattr(value, "__module__", None), getattr(value, "__qualname__", "")
    if not callable(value) or not module or "<" in qualname:
        raise ConfigError(f"{setting} must be a dotted path or a module-level function")
    path = f"{module}:{qualname}"
    if resolve(setting, path) is not value:
        raise ConfigError(f"{setting} must be importable as {path}")
    return path


def resolve(setting: str, path: str) -> Any:
    module, sep, attr = path.partition(":")
    if not sep:
        module, _, attr = path.rpartition(".")
    try:
        target: Any = importlib.import_module(module)
        for name in attr.split("."):
            target = getattr(target, name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError(f"{setting}: cannot import {path!r} ({exc})") from None
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
    if not _flag("enabled", "ASTRALOG_ENABLED", enabled, True):
        return None
    if compression not in ("gzip", None, "none"):
        raise ConfigError(f'compression must be "gzip" or None; got {compression!r}')
    if not isinstance(verify, (bool, str)):
        raise ConfigError("verify must be True, False or the path of a CA bundle")
    if isinstance(verify, str) and not os.path.exists(verify):
        raise ConfigError(f"verify: CA bundle {verify!r} does not exist")
    if overflow not in ("drop_newest", "drop_oldest"):
        raise ConfigError(f'overflow must be "drop_newest" or "drop_oldest"; got {overflow!r}')
    spool_dir = _env("ASTRALOG_SPOOL_DIR", spool_dir)
    if spool_dir is not None:
        spool_dir = os.path.abspath(os.path.expanduser(str(spool_dir)))
        try:
            os.makedirs(spool_dir, mode=0o700, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"spool_dir: cannot create {spool_dir!r} ({exc.strerror})") from None
        if not os.access(spool_dir, os.W_OK):
            raise ConfigError(f"spool_dir: {spool_dir!r} is not writable")
    config = Config(
        token=Secret(_required("token", "ASTRALOG_TOKEN", token)),
        project_id=_required("project_id", "ASTRALOG_PROJECT_ID", project_id),
        service=_required("service", "ASTRALOG_SERVICE", service),
        endpoint=_endpoint(endpoint),
        max_batch_size=_number("max_batch_size", max_batch_size, integer=True,
                               maximum=PROTOCOL_MAX_BATCH),
        flush_interval=_number("flush_interval", flush_interval, integer=False),
        max_batch_bytes=_number("max_batch_bytes", max_batch_bytes, integer=True,
                                minimum=1023, maximum=PROTOCOL_MAX_BODY - 64 * 1024),
        max_entry_bytes=_number("max_entry_bytes", max_entry_bytes, integer=True,
                                minimum=1023, maximum=PROTOCOL_MAX_ENTRY),
        max_queue_size=_number("max_queue_size", max_queue_size, integer=True),
        compression=None if compression in (None, "none") else "gzip",
        timeout=_number("timeout", timeout, integer=False),
        shutdown_timeout=_number("shutdown_timeout", shutdown_timeout, integer=False),
        verify=verify,
        session_factory=dotted_path("session_factory", session_factory),
        max_retries=_number("max_retries", max_retries, integer=True, minimum=-1),
        retry_max_delay=_number("retry_max_delay", retry_max_delay, integer=False),
        retry_deadline=_number("retry_deadline", retry_deadline, integer=False),
        max_buffer_bytes=_number("max_buffer_bytes", max_buffer_bytes, integer=True,
                                 minimum=MIB - 1),
        overflow=overflow,
        spool_dir=spool_dir,
        spool_max_bytes=_number("spool_max_bytes", spool_max_bytes, integer=True,
                                minimum=MIB - 1),
        on_error=dotted_path("on_error", on_error),
        on_success=dotted_path("on_success", on_success),
    )
    if config.max_entry_bytes > config.max_batch_bytes:
        raise ConfigError("max_entry_bytes must not exceed max_batch_bytes")
    return config


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
