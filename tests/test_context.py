"""context(): fields that follow the code across blocks, threads and asyncio tasks."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest

from astralog_logging._context import context, current_context


def test_fields_apply_inside_the_block_only() -> None:
    """Fields are visible inside the block and gone after it."""
    assert dict(current_context()) == {}
    with context(request_id="r1", user_id=7) as fields:
        assert dict(current_context()) == {"request_id": "r1", "user_id": 7}
        assert fields == current_context()
    assert dict(current_context()) == {}


def test_inner_blocks_override_and_restore() -> None:
    """An inner block adds and overrides fields; leaving it restores the outer ones."""
    with context(a=1, b=1):
        with context(b=2, c=3):
            assert dict(current_context()) == {"a": 1, "b": 2, "c": 3}
        assert dict(current_context()) == {"a": 1, "b": 1}


def test_fields_are_restored_when_the_block_raises() -> None:
    """An exception leaving the block still restores the previous fields."""
    with pytest.raises(KeyError), context(a=1):
        raise KeyError("x")
    assert dict(current_context()) == {}


def test_current_context_is_read_only() -> None:
    """current_context() cannot be used to change the fields in force."""
    with context(a=1):
        with pytest.raises(TypeError):
            current_context()["a"] = 2  # type: ignore[index]
        assert current_context()["a"] == 1


def test_works_as_a_decorator() -> None:
    """@context(...) applies its fields for each call of the function."""

    @context(job="nightly")
    def run() -> object:
        return dict(current_context())

    assert run() == {"job": "nightly"}
    assert dict(current_context()) == {}


def test_threads_see_fields_only_when_the_context_is_copied() -> None:
    """A plain thread starts empty; one run through copy_context().run sees the fields."""
    seen: dict[str, object] = {}

    def look(name: str) -> None:
        seen[name] = dict(current_context())

    with context(request_id="r1"):
        plain = threading.Thread(target=look, args=("plain",))
        copied_ctx = contextvars.copy_context()
        copied = threading.Thread(target=copied_ctx.run, args=(look, "copied"))
        for thread in (plain, copied):
            thread.start()
            thread.join()
    assert seen == {"plain": {}, "copied": {"request_id": "r1"}}


def test_asyncio_tasks_keep_their_own_fields() -> None:
    """Concurrent tasks each see their own fields, and inherit those of their creator."""

    async def handle(request_id: str) -> tuple[object, object]:
        with context(request_id=request_id):
            await asyncio.sleep(0)
            child = await asyncio.create_task(read())
            return dict(current_context()), child

    async def read() -> object:
        await asyncio.sleep(0)
        return dict(current_context())

    async def main() -> list[tuple[object, object]]:
        with context(app="api"):
            return list(await asyncio.gather(handle("r1"), handle("r2")))

    results = asyncio.run(main())
    assert results == [({"app": "api", "request_id": "r1"}, {"app": "api", "request_id": "r1"}),
                       ({"app": "api", "request_id": "r2"}, {"app": "api", "request_id": "r2"})]
