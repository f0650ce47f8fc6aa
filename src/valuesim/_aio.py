"""Running coroutines from synchronous code: one helper for the whole package."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

T = TypeVar("T")
P = ParamSpec("P")


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

    From inside a running event loop (Jupyter) it runs on a helper thread with its own loop;
    exceptions are re-raised in the caller's thread.
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

    t = threading.Thread(target=target, name=thread_name)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def synced(afn: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, T]:
    """The synchronous form of the coroutine function *afn* (same parameters, run with
    :func:`run_sync`): one definition serves both, ``build = synced(abuild)`` is named
    ``build`` and documented by ``abuild``'s docstring."""

    @functools.wraps(afn)
    def sync(*args: P.args, **kwargs: P.kwargs) -> T:
        return run_sync(lambda: afn(*args, **kwargs))

    name = afn.__name__.removeprefix("a")
    sync.__name__ = name
    sync.__qualname__ = afn.__qualname__.removesuffix(afn.__name__) + name
    sync.__doc__ = f"Synchronous :func:`{afn.__name__}`.\n\n" + (afn.__doc__ or "")
    return sync
