"""One frozen, validated configuration, built from the settings and the environment.

Every way in (dictConfig, the CLI, the integrations) builds a Config the same way, from the
handler's settings (each default written once, in its signature: ``handler.DEFAULTS``), and
every mistake surfaces here, at construction, with a message that names the setting, never
at the first emit (the checks of single settings are in ``_validate``). The token is kept
out of ``repr`` and error messages.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional, Tuple, Union

from . import _validate
from ._bounds import (
    MAX_BUFFER_BYTES,
    MAX_ENTRY_BYTES,
    MAX_QUEUE_SIZE,
    MAX_RETRIES,
    MAX_RETRY_DEADLINE,
    MAX_SPOOL_BYTES,
    MIB,
    MIN_ENTRY_BYTES,
    amount,
    flag,
    number,
    seconds,
    size,
)
from ._ipc import _ownership
from .exceptions import ConfigError

if TYPE_CHECKING:
    from ._encode._record import BeforeSend  # the app side's; the listener never loads it

# Limits a drain enforces (protocol.md); our settings must stay inside them.
PROTOCOL_MAX_BATCH = 10_000
PROTOCOL_MAX_BODY = 5 * MIB

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


@dataclasses.dataclass(frozen=True)
class EntrySettings:
    """What shapes each entry in the caller's thread (with ``Config.max_entry_bytes``).
    Never sent to the listener: ``before_send`` is a callable and ``meta`` any values."""

    tags: Tuple[str, ...]
    meta: Mapping[str, Any]
    redact_keys: Optional[frozenset[str]]  # None: nothing redacted, nothing scrubbed
    before_send: Optional[BeforeSend]


@dataclasses.dataclass(frozen=True)
class Config:
    """The settings, validated: delivery's, and in ``entry`` what shapes each entry. No
    defaults here: the handler's signature writes each one once (``handler.DEFAULTS``),
    and ``build`` is given them all."""

    token: str = dataclasses.field(repr=False)
    project_id: str
    service: str
    endpoint: str
    max_batch_size: int
    flush_interval: float
    max_batch_bytes: int
    max_entry_bytes: int
    max_queue_size: int
    compression: Optional[str]
    timeout: float
    shutdown_timeout: float
    verify: Union[bool, str]
    session_factory: Optional[str]
    max_retries: int
    retry_max_delay: float
    retry_deadline: float
    max_buffer_bytes: int
    overflow: str
    spool_dir: Optional[str]
    spool_max_bytes: int
    on_error: Optional[str]
    on_success: Optional[str]
    # None in the listener, which never encodes an entry (see listener_settings)
    entry: Optional[EntrySettings] = dataclasses.field(repr=False, compare=False)

    @functools.cached_property  # a frozen dataclass without slots: its __dict__ caches
    def token_fingerprint(self) -> str:
        """Identifies the token without revealing it (a truncated SHA-256)."""
        return sha256_hex(self.token.encode())[:16]

    @functools.cached_property
    def key(self) -> tuple[Any, ...]:
        """What must match for two handlers to share one listener."""
        return (self.endpoint, self.project_id, self.service, self.token_fingerprint,
                self.compression, self.verify, self.session_factory)

    @functools.cached_property
    def spool_path(self) -> Optional[str]:
        """One subdirectory of ``spool_dir`` per configuration, named without the token."""
        if not self.spool_dir:
            return None
        name = sha256_hex(repr(self.key).encode())[:16]
        return os.path.join(self.spool_dir, name)

    def listener_settings(self) -> dict[str, Any]:
        """The plain data the listener process rebuilds this Config from (over its stdin)."""
        settings = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                    if f.name != "entry"}
        if self.session_factory or self.on_error or self.on_success:
            # What they import must be found there as here (a script's own directory).
            settings["import_path"] = [os.path.abspath(p) for p in sys.path]
        return settings

    @classmethod
    def from_listener_settings(cls, settings: Mapping[str, Any]) -> Config:
        """The listener's copy, typed again: validated on the application side already."""
        return cls(**{field.name: settings[field.name] for field in dataclasses.fields(cls)
                      if field.name != "entry"}, entry=None)


def build(settings: Mapping[str, Any]) -> Config | None:
    """Validate every setting ``Config`` holds, taken from ``settings`` (a handler's: all of
    them, ``handler.DEFAULTS`` filling in what was not given); None when disabled (then no
    credential is required)."""
    s = settings
    compression, overflow = s["compression"], s["overflow"]
    if not flag("enabled", s["enabled"], "ASTRALOG_ENABLED", True):
        return None
    if compression not in ("gzip", None, "none"):
        raise ConfigError(f'compression must be "gzip" or None; got {compression!r}')
    verify = _validate.verify(s["verify"])
    if overflow not in ("drop_newest", "drop_oldest"):
        raise ConfigError(f'overflow must be "drop_newest" or "drop_oldest"; got {overflow!r}')
    spool_dir = _validate.spool_dir(s["spool_dir"])
    config = Config(
        token=_validate.token(s["token"]),
        project_id=_validate.required("project_id", "ASTRALOG_PROJECT_ID", s["project_id"]),
        service=_validate.required("service", "ASTRALOG_SERVICE", s["service"]),
        endpoint=_validate.endpoint(s["endpoint"]),
        max_batch_size=number("max_batch_size", s["max_batch_size"], integer=True, at_least=1,
                               at_most=PROTOCOL_MAX_BATCH, why="a drain's limit"),
        flush_interval=seconds("flush_interval", s["flush_interval"]),
        max_batch_bytes=size("max_batch_bytes", s["max_batch_bytes"], 1024, _MAX_BATCH_BYTES,
                               "a drain's 5 MiB body limit, less 64 KiB for the envelope"),
        max_entry_bytes=size("max_entry_bytes", s["max_entry_bytes"], MIN_ENTRY_BYTES,
                             MAX_ENTRY_BYTES, "a drain's limit"),
        max_queue_size=number("max_queue_size", s["max_queue_size"], integer=True, at_least=1,
                               at_most=MAX_QUEUE_SIZE),
        compression=None if compression in (None, "none") else "gzip",
        timeout=seconds("timeout", s["timeout"]),
        shutdown_timeout=seconds("shutdown_timeout", s["shutdown_timeout"]),
        verify=verify,
        session_factory=_validate.session_factory(s["session_factory"]),
        max_retries=number("max_retries", s["max_retries"], integer=True, at_least=0,
                            at_most=MAX_RETRIES),
        retry_max_delay=seconds("retry_max_delay", s["retry_max_delay"]),
        retry_deadline=seconds("retry_deadline", s["retry_deadline"], MAX_RETRY_DEADLINE),
        max_buffer_bytes=size("max_buffer_bytes", s["max_buffer_bytes"], MIB, MAX_BUFFER_BYTES),
        overflow=overflow,
        spool_dir=spool_dir,
        spool_max_bytes=size("spool_max_bytes", s["spool_max_bytes"], MIB, MAX_SPOOL_BYTES),
        on_error=_validate.dotted_path("on_error", s["on_error"]),
        on_success=_validate.dotted_path("on_success", s["on_success"]),
        entry=EntrySettings(
            tags=_validate.string_list("tags", s["tags"]),
            meta=_validate.mapping("meta", s["meta"]),
            redact_keys=_validate.redact_keys(s["redact"], s["redact_defaults"]),
            before_send=_validate.callback("before_send", s["before_send"]),
        ),
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
