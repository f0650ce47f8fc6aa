"""Tests never touch the user's cache (issue 24, item 8).

``cache_guard.py`` gives every test its own VALUESIM_CACHE_DIR and installs an audit hook that
fails any test which opens a file for writing, connects to SQLite, creates, renames or removes
something under the user's ``~/.cache/valuesim``, or starts a subprocess whose environment
lacks VALUESIM_CACHE_DIR (it would fall back to the user's cache). These tests check both
halves: the directory each test sees, and that the hook catches each kind of write.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import cache_guard
import pytest

from valuesim.llm.cache import default_cache_dir


def test_each_test_has_its_own_temporary_cache() -> None:
    here = default_cache_dir().resolve()
    assert here != Path(cache_guard.USER_CACHE_DIR).resolve()
    assert str(here).startswith(str(Path(tempfile.gettempdir()).resolve()))
    assert str(here) != cache_guard.SESSION_CACHE_DIR  # not even the session's: this test's own
    assert "OPENAI_BASE_URL" not in os.environ and "OPENAI_API_KEY" not in os.environ


def test_a_second_test_gets_another_cache() -> None:
    assert os.environ["VALUESIM_CACHE_DIR"] != cache_guard.SESSION_CACHE_DIR


@pytest.mark.parametrize(
    ("event", "args", "caught"),
    [
        ("open", (os.path.join(cache_guard.USER_CACHE_DIR, "llm-cache.sqlite3"), "r+b", 0), True),
        ("open", (os.path.join(cache_guard.USER_CACHE_DIR, "x.json"), "w", 0), True),
        ("open", (os.path.join(cache_guard.USER_CACHE_DIR, "x.json"), None, os.O_WRONLY | os.O_CREAT), True),
        ("open", (os.path.join(cache_guard.USER_CACHE_DIR, "x.json"), "r", 0), False),  # reading is harmless
        ("open", (os.path.join(tempfile.gettempdir(), "x.json"), "w", 0), False),
        ("sqlite3.connect", (os.path.join(cache_guard.USER_CACHE_DIR, "backstories.sqlite3"),), True),
        ("os.mkdir", (cache_guard.USER_CACHE_DIR, 0o777, None), True),
        ("subprocess.Popen", (sys.executable, ["python"], None, {"PATH": "/usr/bin"}), True),
        ("subprocess.Popen", (sys.executable, ["python"], None, {**os.environ}), False),
        ("subprocess.Popen", (sys.executable, ["python"], None, None), False),  # inherits this environment
    ],
)
def test_the_audit_hook_catches_writes_to_the_user_cache(event: str, args: tuple, caught: bool) -> None:
    cache_guard._audit(event, args)
    seen = list(cache_guard.user_cache_writes)
    cache_guard.user_cache_writes.clear()  # a planted event, not a real write: the test itself must not fail
    assert bool(seen) is caught, seen


def test_a_real_write_is_seen_by_the_hook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hook sees what Python really does (not only planted events): a user cache under a fake home."""
    fake = tmp_path / "home" / ".cache" / "valuesim"
    monkeypatch.setattr(cache_guard, "_USER_CACHE_PREFIXES", (str(fake) + os.sep,))
    fake.mkdir(parents=True)
    (fake / "llm-cache.sqlite3").write_text("x")
    seen = list(cache_guard.user_cache_writes)
    cache_guard.user_cache_writes.clear()
    assert any("llm-cache.sqlite3" in s for s in seen), seen
