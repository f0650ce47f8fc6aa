"""The story store: LLM-written backstories in a small SQLite file under the cache directory.

Keyed by (respondent, history set and facts text, model identity, prompt and check version,
style, length), so a benchmark writes each story once and ``valuesim backstory --out`` can
export it. Nothing that could hold a credential (a model spec naming a server) is stored.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from valuesim._redact import redact
from valuesim.methods.story.compose import Backstory

STORE_FILE = "backstories.sqlite3"


class StoryStore:
    """SQLite store of LLM-written backstories (safe for concurrent readers and writers)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._connect() as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute(
                "CREATE TABLE IF NOT EXISTS stories (key TEXT PRIMARY KEY, respondent TEXT, history TEXT,"
                " model TEXT, prompt_version TEXT, style TEXT, max_words INTEGER, data TEXT, created REAL)"
            )

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=60)

    @staticmethod
    def key(
        respondent_id: str, history: str, model: str, prompt_version: str, style: str, max_words: int | None
    ) -> str:
        raw = json.dumps([respondent_id, history, model, prompt_version, style, max_words])
        return hashlib.sha256(raw.encode()).hexdigest()

    def get(self, key: str) -> Backstory | None:
        with self._lock, self._connect() as con:
            row = con.execute("SELECT data FROM stories WHERE key = ?", (key,)).fetchone()
        return Backstory.from_dict(json.loads(row[0])) if row else None

    def put(
        self,
        key: str,
        story: Backstory,
        *,
        respondent_id: str,
        history: str,
        model: str,
        prompt_version: str,
        style: str,
        max_words: int | None,
    ) -> None:
        # the model spec may name a server with credentials (openai:NAME@http://user:pw@host): none is stored
        data = json.dumps(redact(story.to_dict()), ensure_ascii=False)
        row = redact((key, respondent_id, history, model, prompt_version, style))
        with self._lock, self._connect() as con:
            con.execute(
                "INSERT OR REPLACE INTO stories VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*row, max_words, data, time.time()),
            )

    def export(self, respondent_id: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT respondent, history, model, prompt_version, style, max_words, data FROM stories"
        args: tuple[Any, ...] = ()
        if respondent_id is not None:
            sql += " WHERE respondent = ?"
            args = (respondent_id,)
        with self._lock, self._connect() as con:
            rows = con.execute(sql, args).fetchall()
        cols = ("respondent", "history", "model", "prompt_version", "style", "max_words")
        return [dict(zip(cols, r[:6]), **json.loads(r[6])) for r in rows]


_STORES: dict[str, StoryStore] = {}


def default_store(directory: str | Path | None = None) -> StoryStore:
    from valuesim.llm.cache import default_cache_dir

    path = Path(directory).expanduser() if directory else default_cache_dir()
    key = str(path / STORE_FILE)
    if key not in _STORES:
        _STORES[key] = StoryStore(key)
    return _STORES[key]
