"""The shipper's own diagnostics: straight to stderr, rate-limited, never through logging.

Logging a logging failure through the same pipeline recurses or deadlocks, so the package
speaks on stderr only. Repeated trouble is folded into at most one line per ``every``
seconds per topic, with the count of what was folded; a few events (a rejected token) are
said once and loudly.

In an application process a report may be due in the middle of ``emit`` (a full queue),
and stderr may be a pipe nobody reads (a stuck log collector): a write there would block
the caller. So there lines go to a small thread of their own, which alone may block; past
``_BACKLOG`` waiting lines the oldest are dropped, and at exit the waiting ones get a
bounded moment to go out.
"""

from __future__ import annotations

import atexit
import json
import os
import threading
import time
import weakref
from typing import Callable, Dict, List, Optional, Set, TextIO, Tuple
from urllib.parse import quote, quote_plus

from ._lines import LineWriter, write_line
from ._lines import call_if_alive as call_if_alive  # for the other modules' fork hooks

_BACKLOG = 64
_EXIT_GRACE = 0.5  # seconds the exit waits for lines still waiting to be written
HIDDEN = "[token]"
_SHORTEST = 4  # a shorter token (a local test's) would blank letters all over the text

_secrets: List[str] = []  # every form of every token this process knows, longest first
_secrets_lock = threading.Lock()


def records(n: int) -> str:
    return f"{n} record" if n == 1 else f"{n} records"


def agree(n: int, one: str, many: str) -> str:
    """The verb that goes with ``n``: "1 record is lost", "2 records are lost"."""
    return one if n == 1 else many


def token_forms(token: str) -> Set[str]:
    """The ways a server, a proxy or an exception may write ``token`` back: raw, escaped
    as a repr or JSON does, URL-encoded, and its UTF-8 bytes read as Latin-1."""
    forms = {token, repr(token)[1:-1], token.encode("unicode_escape").decode("ascii"),
             json.dumps(token)[1:-1], json.dumps(token, ensure_ascii=False)[1:-1],
             quote(token, safe=""), quote_plus(token, safe="")}
    forms.add(token.encode("utf-8", "replace").decode("latin-1"))
    return {form for form in forms if len(form) >= _SHORTEST}


def keep_secret(token: str) -> None:
    """From now on every line this process's reporters write has ``token`` blanked."""
    global _secrets
    with _secrets_lock:  # a new list, never one changed under a reader's feet
        _secrets = sorted(set(_secrets) | token_forms(token), key=len, reverse=True)


def scrub(text: str, token: str = "") -> str:
    """``text`` without any form of ``token`` or of a token kept with ``keep_secret``."""
    forms = sorted(token_forms(token), key=len, reverse=True) if token else []
    for form in forms + _secrets:  # a longer form first: it may contain a shorter one
        if form in text:
            text = text.replace(form, HIDDEN)
    return text


def _new_secrets_lock() -> None:
    global _secrets_lock
    _secrets_lock = threading.Lock()  # a fork child's: a parent's thread may hold the old one


os.register_at_fork(after_in_child=_new_secrets_lock)


class Reporter:
    def __init__(self, every: float = 10.0, clock: Callable[[], float] = time.monotonic,
                 stream: TextIO | None = None, background: bool = False) -> None:
        self.every = every
        self._clock = clock
        self._stream = stream
        self._last: Dict[str, Tuple[float, int]] = {}
        self._said: Set[str] = set()
        self._out: Optional[LineWriter] = None
        self._new_lock()
        if background:
            self._out = LineWriter("astralog-report", _BACKLOG, _one, drop_oldest=True)
            ref = weakref.ref(self)
            os.register_at_fork(after_in_child=lambda: call_if_alive(ref, "_new_lock"))
            atexit.register(lambda: call_if_alive(ref, "wait_written"))

    def _new_lock(self) -> None:
        # Also after a fork: a thread of the parent may have held it.
        self._lock = threading.RLock()  # re-entered from a signal handler, never deadlocked

    def say(self, message: str) -> None:
        line = scrub(f"astralog-logging[{os.getpid()}]: {message}\n")
        if self._out is None:
            write_line(self._stream, line)
        else:
            self._out.put(self._stream, line)

    def once(self, topic: str, message: str) -> None:
        with self._lock:
            if topic in self._said:
                return
            self._said.add(topic)
        self.say(message)

    def limited(self, topic: str, message: str) -> bool:
        """Say ``message`` unless this topic spoke less than ``every`` seconds ago."""
        now = self._clock()
        with self._lock:
            last, folded = self._last.get(topic, (-1e18, 0))
            if now - last < self.every:
                self._last[topic] = (last, folded + 1)
                return False
            self._last[topic] = (now, 0)
        if folded:
            message += (f" ({folded} similar {agree(folded, 'report', 'reports')} folded "
                        "since the last one)")
        self.say(message)
        return True

    def wait_written(self, timeout: float = _EXIT_GRACE) -> bool:
        """Give waiting lines a bounded moment to reach stderr (at exit, in tests)."""
        return self._out is None or self._out.wait_written(timeout)


def _one(line: str) -> int:
    return 1
