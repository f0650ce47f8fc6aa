"""The guard that keeps tests out of the user's cache (used by ``conftest.py``; issue 24).

An audit hook (installed once, at import) records every write under the user's
``~/.cache/valuesim``: a file opened for writing, a SQLite database connected, a directory made,
a file renamed or removed, and every subprocess started with an environment that lacks
VALUESIM_CACHE_DIR (it would fall back to the user's cache). ``conftest.py`` fails the test
during which anything was recorded. A module of its own (not conftest) so that tests can
import it: several test directories have a ``conftest.py``.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from typing import Any

#: The cache directory of everything that runs outside a test (collection, session fixtures).
SESSION_CACHE_DIR = tempfile.mkdtemp(prefix="valuesim-test-cache-")
atexit.register(shutil.rmtree, SESSION_CACHE_DIR, ignore_errors=True)  # the session's temporary cache goes with it
#: The cache a user's own runs fill (VALUESIM_CACHE_DIR unset): no test may write there.
USER_CACHE_DIR = os.path.join(os.path.expanduser("~"), ".cache", "valuesim")
_USER_CACHE_PREFIXES = (USER_CACHE_DIR + os.sep, os.path.realpath(USER_CACHE_DIR) + os.sep)
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
#: What the audit hook saw this test do to the user's cache (cleared per test).
user_cache_writes: list[str] = []


def _in_user_cache(path: object) -> bool:
    if isinstance(path, int) or path is None:  # a file descriptor, or no path
        return False
    try:
        text = os.fsdecode(os.fspath(path))  # type: ignore[arg-type]
    except TypeError:
        return False
    full = os.path.abspath(text) + os.sep
    return full.startswith(_USER_CACHE_PREFIXES)


def _audit(event: str, args: tuple[Any, ...]) -> None:
    """Records every write (open for writing, SQLite connect, mkdir) into the user's cache, and
    every subprocess started with an environment that lacks VALUESIM_CACHE_DIR (it would use it)."""
    if event == "open":
        path, mode, flags = args
        writing = any(c in mode for c in "wax+") if isinstance(mode, str) else bool((flags or 0) & _WRITE_FLAGS)
        if writing and _in_user_cache(path):
            user_cache_writes.append(f"open({path!r}, {mode or flags!r})")
    elif event == "sqlite3.connect":
        if args and _in_user_cache(args[0]) and ":memory:" not in str(args[0]):
            user_cache_writes.append(f"sqlite3.connect({args[0]!r})")
    elif event in ("os.mkdir", "os.rename", "os.remove", "shutil.rmtree"):
        if args and _in_user_cache(args[0]):
            user_cache_writes.append(f"{event}({args[0]!r})")
    elif event == "subprocess.Popen":
        env = args[3] if len(args) > 3 else None
        if env is not None and "VALUESIM_CACHE_DIR" not in env:
            user_cache_writes.append(f"subprocess {args[1]!r} started without VALUESIM_CACHE_DIR in its environment")


sys.addaudithook(_audit)
