"""Seeded fault injection for the mock server: answer a share of requests with an error or a stall.

For testing how a long run copes with a flaky model server. Each chat request is either
answered normally or with one fault:

* ``429`` -- HTTP 429 with a ``Retry-After`` header (``retry_after`` seconds);
* ``500`` / ``503`` -- HTTP 500 / 503 with an OpenAI-style error body;
* ``stall`` -- no answer for ``stall_seconds`` (longer than the client's timeout), then the normal one.

Whether a request gets a fault depends only on the seed, the request body and how often the
same body was asked before -- not on timing or on the order in which concurrent requests
arrive -- so a run against the same server settings meets the same faults.

    python -m valuesim.scale.mockserver --fault-rate 0.3 --fault-seed 1 --stall-seconds 3
    valuesim scale mock-server --fault-rate 0.3 --faults 429,500,503,stall
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from dataclasses import dataclass, field

FAULT_KINDS = ("429", "500", "503", "stall")


@dataclass
class FaultInjector:
    """Decides, per request, whether and how to fail it (see the module docstring); counts what it did."""

    rate: float = 0.0
    kinds: tuple[str, ...] = FAULT_KINDS
    seed: int = 0
    stall_seconds: float = 3.0
    retry_after: float = 1.0
    injected: Counter[str] = field(default_factory=Counter)
    _seen: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"fault rate must be within [0, 1], got {self.rate}")
        unknown = [k for k in self.kinds if k not in FAULT_KINDS]
        if unknown or not self.kinds:
            raise ValueError(f"fault kinds must be among {', '.join(FAULT_KINDS)}, got {', '.join(self.kinds)}")
        if self.stall_seconds < 0 or self.retry_after < 0:
            raise ValueError("stall_seconds and retry_after must be >= 0")
        self.kinds = tuple(self.kinds)

    def draw(self, body: bytes) -> str | None:
        """The fault for this request (None: answer normally)."""
        if self.rate <= 0:
            return None
        digest = hashlib.sha256(body).hexdigest()
        with self._lock:
            attempt = self._seen[digest]
            self._seen[digest] += 1
        h = hashlib.sha256(f"{self.seed}:{digest}:{attempt}".encode()).digest()
        if int.from_bytes(h[:8], "big") / 2**64 >= self.rate:
            return None
        kind = self.kinds[int.from_bytes(h[8:16], "big") % len(self.kinds)]
        with self._lock:
            self.injected[kind] += 1
        return kind

    @property
    def total(self) -> int:
        """Faults injected so far."""
        with self._lock:
            return sum(self.injected.values())

    def reset(self) -> None:
        """Forget what was asked and injected (a fresh server with the same settings)."""
        with self._lock:
            self.injected.clear()
            self._seen.clear()


def parse_kinds(text: str) -> tuple[str, ...]:
    """ "429,500,stall" -> ("429", "500", "stall") (checked by :class:`FaultInjector`)."""
    return tuple(k.strip().lower() for k in text.split(",") if k.strip())


__all__ = ["FAULT_KINDS", "FaultInjector", "parse_kinds"]
