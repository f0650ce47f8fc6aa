"""Persistent response cache (SQLite, WAL) and model-file fingerprints.

One SQLite file holds every cached answer. Keys are the sha256 of the canonical JSON of exactly
what determines an answer: the model identity (for local models the GGUF file's sha256), the
messages, the options, and the full GenerateConfig including the sample index. WAL mode plus a
busy timeout make it safe for many threads and processes writing at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from valuesim.errors import ConfigError

CACHE_ENV = "VALUESIM_CACHE_DIR"
CACHE_FILE = "llm-cache.sqlite3"
KEY_VERSION = 1  # bump when the meaning of cached values changes
#: What to do about a cache that cannot be used (named in every cache error).
CACHE_HINT = (
    f"Remove the damaged cache with `valuesim llm cache --clear`, or run without it (`--no-cache`), "
    f"or point {CACHE_ENV} at another directory."
)


def default_cache_dir() -> Path:
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "valuesim"


@dataclass(frozen=True)
class CachePolicy:
    """Whether and where to cache. ``expiry_seconds=None`` keeps entries forever."""

    enabled: bool = True
    directory: str | Path | None = None
    expiry_seconds: float | None = None

    @classmethod
    def coerce(cls, value: CachePolicy | bool | str | Path | None) -> CachePolicy:
        if value is None or value is True:
            return cls()
        if value is False:
            return cls(enabled=False)
        if isinstance(value, (str, Path)):
            return cls(directory=value)
        if isinstance(value, cls):
            return value
        raise ConfigError(
            f"Cannot use {value!r} as a cache setting.",
            hint="Pass True/None (default directory), False (off), a directory path, or a CachePolicy.",
        )

    def resolved_dir(self) -> Path:
        return Path(self.directory).expanduser() if self.directory else default_cache_dir()


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def request_key(request: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json({"v": KEY_VERSION, **request}).encode("utf-8")).hexdigest()


class ResponseCache:
    """Key -> JSON value store in one SQLite file; one connection per thread."""

    def __init__(self, directory: Path, expiry_seconds: float | None = None) -> None:
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ConfigError(
                f"Cannot create the LLM cache directory {directory}: {e.strerror or e}.",
                hint=f"Set {CACHE_ENV} to a directory you can write to, or run without the cache (`--no-cache`).",
            ) from e
        self.path = directory / CACHE_FILE
        self.expiry_seconds = expiry_seconds
        self._local = threading.local()
        self._conn()  # fail early on an unusable location

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._open()
            self._local.conn = conn
        return conn

    def _open(self) -> sqlite3.Connection:
        # Switching a new file to WAL and creating the tables take a write lock, and SQLite
        # answers "database is locked" at once (without the busy timeout) when another process
        # does the same at that moment: retry with a short backoff before giving up.
        deadline = time.monotonic() + 30
        delay = 0.02
        while True:
            try:
                conn = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
                try:
                    if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                        conn.execute("PRAGMA journal_mode=WAL")
                    conn.execute("PRAGMA synchronous=NORMAL")
                    conn.execute(
                        "CREATE TABLE IF NOT EXISTS responses ("
                        " key TEXT PRIMARY KEY, value TEXT NOT NULL, created REAL NOT NULL)"
                    )
                    conn.execute(
                        "CREATE TABLE IF NOT EXISTS file_hashes ("
                        " path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, sha256 TEXT)"
                    )
                except BaseException:
                    conn.close()
                    raise
                return conn
            except sqlite3.OperationalError as e:
                if "locked" in str(e) and time.monotonic() < deadline:
                    time.sleep(delay)
                    delay = min(delay * 2, 0.5)
                    continue
                raise self._open_error(e) from e
            except sqlite3.Error as e:
                raise self._open_error(e) from e

    def _open_error(self, e: Exception) -> ConfigError:
        return ConfigError(f"Cannot open the LLM cache {self.path}: {e}.", hint=CACHE_HINT)

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """A database damaged after it was opened: the same clear error as at opening."""
        try:
            yield
        except sqlite3.OperationalError as e:
            if "locked" in str(e) or "busy" in str(e):
                raise
            raise self._open_error(e) from e
        except sqlite3.DatabaseError as e:
            raise self._open_error(e) from e

    def get(self, key: str) -> dict[str, Any] | None:
        """The cached value, or None (missing, expired, or damaged: a warning, then recomputed)."""
        with self._guard():
            row = self._conn().execute("SELECT value, created FROM responses WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        if self.expiry_seconds is not None and row[1] < time.time() - self.expiry_seconds:
            return None
        try:
            value = json.loads(row[0])
        except (TypeError, ValueError) as e:
            self.warn_damaged(key, f"not valid JSON ({e})")
            return None
        if not isinstance(value, dict):
            self.warn_damaged(key, f"a JSON {type(value).__name__} instead of an object")
            return None
        return value

    def warn_damaged(self, key: str, what: str) -> None:
        warnings.warn(
            f"Damaged entry {key[:12]}... in the LLM cache {self.path} ({what}): treated as a miss, "
            "recomputed and rewritten.",
            RuntimeWarning,
            stacklevel=3,
        )

    def put(self, key: str, value: dict[str, Any]) -> None:
        with self._guard():
            self._conn().execute(
                "INSERT OR REPLACE INTO responses (key, value, created) VALUES (?, ?, ?)",
                (key, json.dumps(value), time.time()),
            )

    def __len__(self) -> int:
        with self._guard():
            return int(self._conn().execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def clear(self) -> None:
        with self._guard():
            self._conn().execute("DELETE FROM responses")

    def file_hash(self, path: Path, size: int, mtime_ns: int) -> str | None:
        row = (
            self._conn()
            .execute(
                "SELECT sha256 FROM file_hashes WHERE path = ? AND size = ? AND mtime_ns = ?",
                (str(path), size, mtime_ns),
            )
            .fetchone()
        )
        return row[0] if row else None

    def put_file_hash(self, path: Path, size: int, mtime_ns: int, sha256: str) -> None:
        self._conn().execute(
            "INSERT OR REPLACE INTO file_hashes (path, size, mtime_ns, sha256) VALUES (?, ?, ?, ?)",
            (str(path), size, mtime_ns, sha256),
        )

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def remove_cache_files(directory: Path) -> list[Path]:
    """Delete the cache database of *directory* with its WAL files (also when it is damaged)."""
    db = directory / CACHE_FILE
    removed = []
    for p in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        if p.exists():
            p.unlink()
            removed.append(p)
    return removed


_FILE_HASHES: dict[tuple[str, int, int], str] = {}
_FILE_HASH_LOCK = threading.Lock()


def file_sha256(path: Path, store: ResponseCache | None = None) -> str:
    """sha256 of a file, memoized by (path, size, mtime) in memory and, if given, in the cache DB."""
    st = path.stat()
    memo_key = (str(path), st.st_size, st.st_mtime_ns)
    with _FILE_HASH_LOCK:
        if memo_key in _FILE_HASHES:
            return _FILE_HASHES[memo_key]
        digest = store.file_hash(path, st.st_size, st.st_mtime_ns) if store is not None else None
        if digest is None:
            h = hashlib.sha256()
            with path.open("rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            digest = h.hexdigest()
            if store is not None:
                store.put_file_hash(path, st.st_size, st.st_mtime_ns, digest)
        _FILE_HASHES[memo_key] = digest
        return digest
