"""What the package says on stderr during a run, and when, from this process and its listener.

The package reports trouble on fd 2 only, at most one line per 10 s per kind, and its
listener process inherits that fd. Pointing fd 2 at a pipe *before* the handler starts the
listener therefore catches both processes' lines. A reader thread stamps each line as it
arrives (it blocks in ``read`` otherwise, so it costs the producer nothing between lines),
keeps it, and copies it on to the real stderr so nothing is hidden from whoever watches.

The reporter prints no topic, so a line's kind is its process plus its text up to the first
``:`` or ``(`` with numbers blanked: "N records dropped so far in this process", "the drain
is not keeping up", "N records could not be delivered".
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

PREFIX = re.compile(r"astralog-logging\[(\d+)\]: (.*)")
KEEP_LINES = 50  # of the package's lines, verbatim, in the result
JOIN_TIMEOUT = 5.0  # seconds to wait for the listener's last words once fd 2 is restored


class StderrCapture:
    """``with StderrCapture() as cap:`` fd 2 goes through a pipe read here; ``cap.lines``."""

    def __init__(self) -> None:
        self.lines: List[Tuple[float, str]] = []  # (time.monotonic() when read, text)
        self._lock = threading.Lock()
        self._saved = -1
        self._read = -1
        self._thread: Optional[threading.Thread] = None

    def __enter__(self) -> StderrCapture:
        sys.stderr.flush()
        self._saved = os.dup(2)
        self._read, write = os.pipe()
        os.dup2(write, 2)
        os.close(write)
        self._thread = threading.Thread(target=self._pump, name="bench-stderr", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        sys.stderr.flush()
        os.dup2(self._saved, 2)  # our last handle on the pipe's write end goes here
        assert self._thread is not None
        self._thread.join(JOIN_TIMEOUT)  # EOF once the listener (the other writer) exited
        if not self._thread.is_alive():
            os.close(self._read)
        os.close(self._saved)

    def _pump(self) -> None:
        rest = b""
        while True:
            try:
                data = os.read(self._read, 1 << 16)
            except OSError:
                return
            if not data:
                break
            now = time.monotonic()
            _write_all(self._saved, data)
            *lines, rest = (rest + data).split(b"\n")
            with self._lock:
                self.lines += [(now, line.decode("utf-8", "replace")) for line in lines]
        if rest:
            with self._lock:
                self.lines.append((time.monotonic(), rest.decode("utf-8", "replace")))

    def snapshot(self) -> List[Tuple[float, str]]:
        with self._lock:
            return list(self.lines)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except OSError:
            return  # the real stderr is gone: the copy is a courtesy, the capture is kept


def kind(pid: int, text: str) -> str:
    who = "app" if pid == os.getpid() else "listener"
    head = re.split(r"[:(]", text, maxsplit=1)[0]
    head = re.sub(r'[0-9]+ records?', 'N records', head)
    return f"{who}: {re.sub(r'[0-9]+', 'N', head).strip()}"


def reports(lines: List[Tuple[float, str]], t0: float) -> Dict[str, Any]:
    """The package's lines by kind, when each came (seconds from ``t0``) and the smallest
    gap between two lines of one kind, which the rate limit keeps at 10 s or more."""
    by_kind: Dict[str, List[float]] = {}
    said: List[str] = []
    for when, line in lines:
        match = PREFIX.search(line)
        if match:
            by_kind.setdefault(kind(int(match[1]), match[2]), []).append(when - t0)
            said.append(f"{when - t0:+.2f} s {line}")
    gaps = [b - a for times in by_kind.values() for a, b in zip(times, times[1:])]
    return {
        "lines": sum(len(t) for t in by_kind.values()),
        "by_kind": {k: [round(t, 2) for t in v] for k, v in by_kind.items()},
        "min_gap_s": min(gaps) if gaps else None,
        "text": said[:KEEP_LINES],
    }
