"""The application side: a QueueHandler that turns each record into bytes and queues them.

``emit`` runs on every log call of every request, so it does three things only: encode the
record (orjson, in this process, because a traceback cannot cross a process boundary and
because the listener then forwards bytes without parsing them), append the bytes to this
process's channel, and count. It never blocks and never raises; anything unexpected is
reported on stderr, rate-limited, and the application carries on.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import sys
import threading
import time
from types import MappingProxyType
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

from . import _bounds, _config, _validate
from ._app import _registry
from ._app._console import Console
from ._app._link import Link
from ._encode._entry import EntryEncoder
from ._report import Reporter

_CONSOLE_GRACE = 1.0  # seconds close() gives console lines still waiting to be written
_KNOWN_THREAD_QUEUE_KEYS = ("handlers", "respect_handler_level", "listener")


class AstralogHandler(logging.handlers.QueueHandler):
    """Ship records to Astralog through this process tree's one listener process.

    Every setting falls back to its ``ASTRALOG_*`` environment variable, then to its
    default; see the README's configuration table. ``queue`` exists only because
    dictConfig's ``class`` path on Python 3.12+ passes one positionally; it is not used.
    """

    def __init__(
        self,
        queue: Any = None,
        *,
        token: Optional[str] = None,
        project_id: Optional[str] = None,
        service: Optional[str] = None,
        endpoint: Optional[str] = None,
        enabled: Union[bool, str, None] = None,
        max_batch_size: int = 1000,
        flush_interval: float = 1.0,
        max_batch_bytes: int = _bounds.MIB,
        max_entry_bytes: int = 64 * 1024,
        max_queue_size: int = 10_000,
        compression: Optional[str] = "gzip",
        timeout: float = 10.0,
        shutdown_timeout: float = 10.0,
        verify: Union[bool, str] = True,
        session_factory: _config.SessionFactory = None,
        max_retries: int = 10,
        retry_max_delay: float = 30.0,
        retry_deadline: float = 300.0,
        max_buffer_bytes: int = 64 * _bounds.MIB,
        overflow: str = "drop_newest",
        spool_dir: Optional[str] = None,
        spool_max_bytes: int = 256 * _bounds.MIB,
        on_error: Union[str, Callable[[str, int], Any], None] = None,
        on_success: Union[str, Callable[[int], Any], None] = None,
        tags: Union[Sequence[str], str, None] = None,
        meta: Optional[Mapping[str, Any]] = None,
        redact: Union[bool, str, Sequence[str]] = True,
        redact_defaults: Union[bool, str] = True,
        before_send: Union[str, Callable[[Dict[str, Any]], Optional[Dict[str, Any]]], None] = None,
        capture_uncaught: Union[bool, str] = False,
        console: Union[bool, str] = False,
        level: Union[int, str] = logging.NOTSET,
        _address: Any = None,
        **unknown: Any,
    ) -> None:
        arguments = locals()
        settings = {name: arguments[name] for name in DEFAULTS}
        # dictConfig's QueueHandler keys (3.12+) are not ours, and not mistakes
        _validate.no_unknown(unknown, DEFAULTS, ignored=_KNOWN_THREAD_QUEUE_KEYS)
        level = _validate.level(level)
        self._reporter = Reporter(background=True)
        self._config = _config.build(settings)
        capture_uncaught = _bounds.flag("capture_uncaught", capture_uncaught)
        self._console = Console(self._reporter) if _bounds.flag("console", console) else None
        # Registered with logging only now, valid: logging.shutdown flushes and closes
        # every registered handler at exit, and a half-built one would fail there.
        logging.Handler.__init__(self, level)
        self.listener = None  # dictConfig may attach a QueueListener here; it is never started
        self._settings = _Hidden(settings)  # to rebuild this handler in a spawned child
        self._closed = False
        self._close_lock = threading.Lock()
        self._loss_mark = 0
        self._root_level = logging.NOTSET
        self._link: Optional[Link] = None
        self._put: Optional[Callable[[bytes], None]] = None
        self._captures_uncaught = capture_uncaught and self._config is not None
        if self._config is None:
            self.queue = None  # type: ignore[assignment]  # disabled: no queue at all
            return
        self._encoder = EntryEncoder.for_config(self._config)
        self._encode = self._encoder.encode
        self._link = _registry.attach(self._config, self._reporter, _address)
        self.queue = self._link.queue
        self._put = self._link.channel.put  # bound once: emit runs on every log call
        self._full = self._link.channel.drop_if_full
        self._filtered = self._link.channel.count_filtered
        if self._captures_uncaught:
            from ._app import _uncaught

            _uncaught.install(self)

    def __reduce__(self) -> Any:
        """Pickles (for spawn and forkserver pools) into a handler that joins this listener.

        The address travels with it because a fork server started before this handler
        has an environment without the advertisement.
        """
        link = self._link
        address = link.address if link is not None else None
        return (_rebuild, (self._settings, address, logging.getLogger().getEffectiveLevel()))

    def _same_listener(self, other: AstralogHandler) -> bool:
        return self._link is not None and self._link is other._link

    def __repr__(self) -> str:
        level = logging.getLevelName(self.level)
        if self._config is None:
            return f"<AstralogHandler disabled ({level})>"
        c = self._config
        return f"<AstralogHandler {c.project_id}/{c.service} -> {c.endpoint} ({level})>"

    # -- hot path ------------------------------------------------------------------------

    def handle(self, record: logging.LogRecord) -> Any:
        """Filter, then emit without the handler lock: the channel has its own, shorter one."""
        if not self.filters:  # the common case skips Filterer's bookkeeping
            self.emit(record)
            return True
        rv: Any = self.filter(record)  # 3.12+ may return a replacement record
        if isinstance(rv, logging.LogRecord):
            record = rv
        if rv:
            self.emit(record)
        return rv

    def emit(self, record: logging.LogRecord) -> None:
        console = self._console
        if console is not None:
            self._mirror(console, record)
        put = self._put
        if put is None:
            return
        try:
            if self._full():  # dropped anyway: decided before the encoding, counted
                return
            data = self._encode(record, self.formatter)
            if data is None:
                self._filtered()
            else:
                put(data)
        except Exception as exc:  # never into the application
            self._reporter.limited("emit", f"a record could not be queued ({exc!r})")

    def _mirror(self, console: Console, record: logging.LogRecord) -> None:
        """``console=True``: the record on stdout (below WARNING) or stderr, for local runs.
        Formatted here (the record may change later), written by the console's thread."""
        stream = sys.stdout if record.levelno < logging.WARNING else sys.stderr
        with contextlib.suppress(Exception):  # an odd formatter must not cost the record
            console.put(stream, self.format(record) + "\n")

    # -- lifecycle -----------------------------------------------------------------------

    def flush(self, timeout: Optional[float] = None) -> bool:  # type: ignore[override]
        """Wait until this process's records so far are accepted by the drain or given up.

        Bounded by ``timeout`` (default ``shutdown_timeout``) because logging.shutdown
        calls it at exit. True when they were all accepted and nothing was lost since the
        previous flush.
        """
        if self._closed:
            return True  # close() flushed already; logging.shutdown asks again at exit
        if self._console is None:
            return self._flush(timeout)
        wait = self._config.shutdown_timeout if self._config else _CONSOLE_GRACE
        deadline = time.monotonic() + (wait if timeout is None else timeout)
        clean = self._flush(timeout)
        self._console.wait_written(max(deadline - time.monotonic(), 0.0))
        return clean

    def _flush(self, timeout: Optional[float]) -> bool:
        link = self._link
        if link is None or self._config is None:
            return True
        wait = self._config.shutdown_timeout if timeout is None else timeout
        deadline = time.monotonic() + wait
        if not link.wait_delivered(deadline):
            return False
        losses = link.stats.losses()
        clean = losses == self._loss_mark
        self._loss_mark = losses
        return clean

    def protect_buffer(self) -> None:
        """An exit hook will call :meth:`hand_over`: buffer, as a bare fork does not."""
        if self._link is not None:
            self._link.channel.protect()

    def hand_over(self, deadline: float) -> bool:
        """Put what this process buffered into the queue (for exits that skip atexit)."""
        link = self._link
        return link is None or link.channel.push_or_count(deadline, "the process left")

    def close(self) -> None:
        """Flush; the owner's last handler then stops the listener once it has delivered."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        link, config = self._link, self._config
        if self._captures_uncaught:
            from ._app import _uncaught

            _uncaught.uninstall(self)
        if link is not None and config is not None:
            deadline = time.monotonic() + config.shutdown_timeout
            if link.is_owner:
                self._flush(config.shutdown_timeout)
            else:
                self.hand_over(deadline)
            _registry.detach(link, deadline)
        if self._console is not None:
            self._console.close(_CONSOLE_GRACE)
        self._reporter.wait_written()  # what close() had to say, before the process ends
        logging.Handler.close(self)

    def stats(self) -> Dict[str, Any]:
        """Counters for the whole process tree (records unless noted)."""
        link = self._link
        console = {} if self._console is None else {"console_dropped": self._console.dropped}
        if link is None:
            return {"enabled": False, **console}
        link.channel.publish()
        figures: Dict[str, Any] = {**link.stats.totals(), **console}
        figures["dropped"] += figures["listener_dropped"]  # which stays, as the listener's part
        figures["last_error"] = link.stats.text()
        figures["queue_depth"] = link.channel.queue_depth
        figures["listener_alive"] = link.listener_alive()
        pid = link.stats.listener_pid  # 0 until the first listener starts
        figures["listener_pid"] = pid if pid > 0 else None
        return figures


class _Hidden:
    """Holds the constructor's arguments (the token among them) out of every repr."""

    __slots__ = ("value",)

    def __init__(self, value: Dict[str, Any]) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<hidden>"


def live_handlers() -> List[AstralogHandler]:
    """Every AstralogHandler of this process not yet collected, oldest first (logging keeps
    a weak reference to each handler made, configured through it or not)."""
    found = []
    for ref in list(logging._handlerList):  # type: ignore[attr-defined]
        handler = ref()
        if isinstance(handler, AstralogHandler):
            found.append(handler)
    return found


def _rebuild(settings: _Hidden, address: Any, root_level: int) -> AstralogHandler:
    handler = AstralogHandler(**settings.value, _address=address)
    handler._root_level = root_level
    return handler


# Each setting's default is written once, in the signature above: read from there.
DEFAULTS: Mapping[str, Any] = MappingProxyType({
    name: value for name, value in (AstralogHandler.__init__.__kwdefaults__ or {}).items()
    if name != "_address"
})
