"""Running coroutines from synchronous code: one helper for the whole package."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def _run_in_new_loop(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Like asyncio.run, but without its SIGINT handler.

    asyncio.run turns the first Ctrl-C into a cancellation that only lands when the running
    coroutine next awaits -- for a synchronous method, possibly minutes later. Here Ctrl-C
    raises KeyboardInterrupt at once; work already written stays on disk.
    """
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(factory())
    finally:
        try:
            pending = asyncio.all_tasks(loop)
            for t in pending:
                t.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            loop.close()


def run_sync(factory: Callable[[], Coroutine[Any, Any, T]], *, thread_name: str = "valuesim-sync") -> T:
    """Run the coroutine made by *factory* to completion and return its result.

    From inside a running event loop (Jupyter) it runs on a helper thread with its own loop
    and a copy of the caller's context variables; exceptions are re-raised in the caller's thread.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _run_in_new_loop(factory)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = _run_in_new_loop(factory)
        except BaseException as e:
            box["error"] = e

    ctx = contextvars.copy_context()
    t = threading.Thread(target=ctx.run, args=(target,), name=thread_name)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]
