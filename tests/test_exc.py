"""Exceptions: the exact traceback text, frames, cause chains, groups, and uncaught hooks."""

from __future__ import annotations

import builtins
import importlib.util
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from astralog_logging._app import _uncaught
from astralog_logging._encode._entry import EntryEncoder
from astralog_logging._encode._exc import MAX_DEPTH, exception_from_info, exception_from_text
from astralog_logging.drain._validate import validate_entry
from tests.programs._raising import three_levels


def _same(text: str) -> str:
    return text


def capture(func: Any) -> Any:
    try:
        func()
    except BaseException:  # ExceptionGroup and friends too
        return sys.exc_info()
    raise AssertionError("func did not raise")


def test_stacktrace_is_exactly_what_logging_prints() -> None:
    """stacktrace equals logging's formatException text, chained sections included."""
    info = capture(three_levels)
    exception = exception_from_info(info, _same)
    assert exception is not None
    assert exception["stacktrace"] == logging.Formatter().formatException(info)


def test_a_raise_site_logged_again_prints_the_same_text() -> None:
    """Frames' texts are remembered per raise site (3.11+): a second exception from the
    same sites, chain included, still gets exactly logging's text, its own message too."""
    for n in range(3):
        info = capture(lambda: _fail_with(n))  # noqa: B023 - called at once
        exception = exception_from_info(info, _same)
        assert exception is not None
        assert exception["stacktrace"] == logging.Formatter().formatException(info)
        assert exception["stacktrace"].endswith(f"RuntimeError: attempt {n}")


def _fail_with(n: int) -> None:
    try:
        three_levels()
    except RuntimeError as exc:
        raise RuntimeError(  # over two lines: 3.13 prints both, with their carets
            f"attempt {n}") from exc


def test_an_edited_source_file_is_read_again(tmp_path: Any) -> None:
    """traceback re-reads a source file that changed on disk; the remembered frame texts
    must not hide that: the new line shows, as logging prints it."""
    path = tmp_path / "edited_module.py"
    path.write_text("def fail():\n    raise ValueError('first text')\n")
    spec = importlib.util.spec_from_file_location("edited_module", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    texts = []
    for source in ("first text", "a longer second text"):
        path.write_text(f"def fail():\n    raise ValueError('{source}')\n")
        os.utime(path, (time.time() + len(texts) + 1,) * 2)  # a new mtime, surely
        info = capture(module.fail)
        exception = exception_from_info(info, _same)
        assert exception is not None
        assert exception["stacktrace"] == logging.Formatter().formatException(info)
        texts.append(exception["stacktrace"])
    assert "raise ValueError('first text')" in texts[0]
    assert "raise ValueError('a longer second text')" in texts[1]


def test_three_level_chain_is_nested_in_cause() -> None:
    """An implicit context and an explicit cause both become nested cause objects."""
    exception = exception_from_info(capture(three_levels), _same)
    assert exception is not None
    chain = []
    node: Any = exception
    while node is not None:
        chain.append((node["type"], node["module"], node["message"]))
        node = node["cause"]
    assert chain == [("RuntimeError", "builtins", "request failed"),
                     ("LookupError", "builtins", "cache miss"),
                     ("KeyError", "builtins", "'db row'")]  # fmt: skip
    inner = exception["cause"]["cause"]
    assert inner["stacktrace"].endswith("KeyError: 'db row'")
    assert "LookupError" not in inner["stacktrace"]  # a link carries its own section only


def test_frames_are_innermost_last() -> None:
    """frames list file/line/function from the outermost call to the raising frame."""

    def inner() -> None:
        raise ValueError("x")

    def outer() -> None:
        inner()

    exception = exception_from_info(capture(outer), _same)
    assert exception is not None
    assert [f["function"] for f in exception["frames"]] == ["capture", "outer", "inner"]
    assert all(f["file"] == __file__ and f["line"] > 0 for f in exception["frames"])


def test_suppressed_context_is_not_a_cause() -> None:
    """raise ... from None leaves cause null, as traceback prints no chain."""

    def suppressed() -> None:
        try:
            raise KeyError("hidden")
        except KeyError:
            raise ValueError("shown") from None

    exception = exception_from_info(capture(suppressed), _same)
    assert exception is not None and exception["cause"] is None


def test_cause_nesting_is_bounded() -> None:
    """A long chain nests at most MAX_DEPTH causes; the stacktrace still shows every link."""

    def chain(n: int) -> None:
        if n == 0:
            raise ValueError("root")
        try:
            chain(n - 1)
        except ValueError as exc:
            raise ValueError(f"level {n}") from exc

    info = capture(lambda: chain(20))
    exception = exception_from_info(info, _same)
    depth, node = 0, exception
    while node is not None and node["cause"] is not None:
        depth, node = depth + 1, node["cause"]
    assert depth == MAX_DEPTH
    assert exception is not None and "ValueError: root" in exception["stacktrace"]


def test_cyclic_context_terminates() -> None:
    """Exceptions whose contexts form a cycle still give a finite exception object."""
    first, second = ValueError("a"), ValueError("b")
    first.__context__, second.__context__ = second, first
    exception = exception_from_info((ValueError, first, None), _same)
    assert exception is not None and orjson.dumps(exception)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="ExceptionGroup is 3.11+")
def test_exception_group_members_are_listed() -> None:
    """An ExceptionGroup lists its members under 'exceptions'; the text is traceback's own."""

    def group() -> None:
        group_type: Any = builtins.ExceptionGroup  # type: ignore[attr-defined,unused-ignore]
        raise group_type("batch failed", [ValueError("one"), KeyError("two")])

    info = capture(group)
    exception = exception_from_info(info, _same)
    assert exception is not None
    assert exception["type"] == "ExceptionGroup"
    assert [m["type"] for m in exception["exceptions"]] == ["ValueError", "KeyError"]
    assert exception["stacktrace"] == logging.Formatter().formatException(info)


def test_no_exception_in_exc_info_gives_no_field() -> None:
    """exc_info=True outside an except block (all None) adds no exception object."""
    assert exception_from_info((None, None, None), _same) is None


def test_unprintable_exception_message() -> None:
    """An exception whose __str__ raises gets traceback's own placeholder message."""

    class Weird(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    exception = exception_from_info(capture(lambda: (_ for _ in ()).throw(Weird())), _same)
    assert exception is not None and exception["message"] == "<exception str() failed>"


def test_exception_parsed_from_exc_text() -> None:
    """A record carrying only exc_text (relayed) gets type, module, message and frames back."""
    text = logging.Formatter().formatException(capture(three_levels))
    exception = exception_from_text(text, _same)
    assert (exception["type"], exception["module"]) == ("RuntimeError", "builtins")
    assert exception["message"] == "request failed"
    assert exception["frames"][-1]["function"] == "three_levels"


def test_entry_with_exception_is_valid_and_scrubbed() -> None:
    """logger.exception's entry validates, and credentials in the exception text are gone."""

    def leak() -> None:
        raise ConnectionError("cannot reach postgres://app:hunter2@db/main")

    record = logging.LogRecord("app", logging.ERROR, __file__, 1, "failed", (), capture(leak))
    entry = orjson.loads(EntryEncoder().encode(record) or b"")
    assert validate_entry(entry) is None
    assert "hunter2" not in orjson.dumps(entry).decode()
    assert entry["exception"]["message"] == "cannot reach postgres://app:[REDACTED]@db/main"


class Recorder(logging.Handler):
    """Keeps every record it is handed."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def hooks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Recording previous hooks in place of Python's, so chaining is visible and quiet."""
    calls: list[str] = []
    monkeypatch.setattr(sys, "excepthook", lambda *a: calls.append("previous sys"))
    monkeypatch.setattr(threading, "excepthook", lambda a: calls.append("previous thread"))
    yield calls


def test_uncaught_exception_is_sent_then_chained(hooks: list[str]) -> None:
    """sys.excepthook sends a CRITICAL record with exc_info, then calls the previous hook."""
    handler = Recorder()
    _uncaught.install(handler)
    _uncaught.install(handler)  # idempotent
    try:
        sys.excepthook(*capture(three_levels))
        sys.excepthook(*capture(lambda: (_ for _ in ()).throw(KeyboardInterrupt())))
    finally:
        _uncaught.uninstall(handler)
    assert hooks == ["previous sys", "previous sys"]
    [record] = handler.records  # KeyboardInterrupt is passed through, not logged
    assert record.levelno == logging.CRITICAL and record.name == _uncaught.LOGGER_NAME
    assert record.exc_info is not None and record.exc_info[0] is RuntimeError
    assert record.funcName == "three_levels"  # the raising frame is the source


def test_uncaught_thread_exception_is_sent(hooks: list[str]) -> None:
    """threading.excepthook sends an ERROR record naming the thread, then chains."""
    handler = Recorder()
    _uncaught.install(handler)
    try:
        worker = threading.Thread(target=three_levels, name="worker-1")
        worker.start()
        worker.join()
    finally:
        _uncaught.uninstall(handler)
    assert hooks == ["previous thread"]
    [record] = handler.records
    assert record.levelno == logging.ERROR
    assert record.getMessage() == "Uncaught exception in thread worker-1"


def test_uninstall_restores_and_failing_handler_still_chains(hooks: list[str]) -> None:
    """A handler that raises never hides the previous hook; uninstall puts the old hooks back."""

    class Broken(logging.Handler):
        def handle(self, record: logging.LogRecord) -> bool:
            raise RuntimeError("handler bug")

    previous = sys.excepthook
    handler = Broken()
    _uncaught.install(handler)
    sys.excepthook(*capture(three_levels))
    _uncaught.uninstall(handler)
    assert sys.excepthook is previous
    assert hooks == ["previous sys"]


def test_exception_logged_at_the_bottom_of_a_recursion_is_complete() -> None:
    """logger.exception in the deepest frame of a RecursionError still sends the exception."""
    sent: list[bytes | None] = []
    encoder = EntryEncoder()

    def deep(n: int) -> int:
        try:
            return deep(n + 1)
        except RecursionError:
            if not sent:
                record = logging.LogRecord("app", logging.ERROR, __file__, 1, "depth %d", (n,),
                                           sys.exc_info())  # fmt: skip
                sent.append(encoder.encode(record))
            raise

    with pytest.raises(RecursionError):
        deep(0)
    entry = orjson.loads(sent[0] or b"")
    assert validate_entry(entry) is None
    assert "exception" in entry, entry
    assert entry["exception"]["type"] == "RecursionError"
    assert "notes" not in entry
