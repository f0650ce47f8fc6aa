"""Progress display of a run: a "fitting" phase, then the units with an ETA from per-unit timings.

A plain "elapsed / done x remaining" ETA is wrong whenever a few units carry a one-off cost:
a method that fits per fold while predicting (``supervised`` trains the models of a fold when
the fold's first unit arrives) makes the first units minutes long and the rest milliseconds.
:class:`UnitTimer` therefore takes the fitting out of each unit's time -- what the method
reports in its ``fitting_seconds`` attribute, and otherwise the excess of unusually slow units
-- shows it separately, and estimates the ETA from the *typical* unit (the median of the
recent units' times without fitting).
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

#: A unit slower than this many typical units carried a one-off cost (fitting).
SLOW_FACTOR = 5.0
#: Unit timings the typical unit is taken from (the most recent ones).
WINDOW = 200


def progress_enabled(requested: bool) -> bool:
    """Draw progress only on a terminal, never in CI or with VALUESIM_NO_PROGRESS set."""
    if not requested or os.environ.get("CI") or os.environ.get("VALUESIM_NO_PROGRESS"):
        return False
    return sys.stderr.isatty()


@dataclass
class UnitTimer:
    """Per-unit timings -> typical unit time, fitting time, and the ETA of the remaining units.

    ``add(seconds)`` takes the wall time of one unit as measured by its worker (start to end,
    so with ``concurrency`` units in flight, about ``concurrency`` of them finish per typical
    unit time). Without per-unit timings (``add(None)``: e.g. a remote worker) the gap since
    the previous finished unit times ``concurrency`` is used instead.
    """

    concurrency: int = 1
    durations: list[float] = field(default_factory=list)
    #: fitting the method reported itself (``fitting_seconds`` of a method that trains while predicting)
    reported_fitting: float = 0.0
    _last: float = field(default_factory=time.perf_counter)

    def add(self, seconds: float | None, now: float | None = None, *, fitting: float = 0.0) -> None:
        """One finished unit: its wall time, of which *fitting* seconds were the method's own fitting."""
        now = time.perf_counter() if now is None else now
        if seconds is None:
            seconds = (now - self._last) * max(1, self.concurrency)
        self._last = now
        fitting = min(max(fitting, 0.0), seconds)
        self.reported_fitting += fitting
        self.durations.append(seconds - fitting)

    @property
    def fitting_seconds(self) -> float:
        """Fitting time: what the method reported, plus the excess of unusually slow units over a typical one."""
        typical = self.typical()
        if typical is None:
            return self.reported_fitting
        return self.reported_fitting + float(sum(d - typical for d in self.durations if d > SLOW_FACTOR * typical))

    def typical(self) -> float | None:
        """Median wall time of the recent units (None before the first)."""
        if not self.durations:
            return None
        return float(statistics.median(self.durations[-WINDOW:]))

    def eta(self, remaining: int) -> float | None:
        """Seconds until *remaining* more units are done at the typical pace (None: unknown yet)."""
        typical = self.typical()
        if typical is None:
            return None
        if remaining <= 0:
            return 0.0
        return remaining * typical / max(1, min(self.concurrency, remaining))


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "-:--:--"
    s = round(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


class UnitProgress:
    """A rich progress bar of units: done/total, failed, elapsed, ETA from :class:`UnitTimer`, fitting time.

    Use as a context manager; ``unit_done(item, seconds, failed)`` advances it (thread-safe).
    """

    def __init__(self, description: str, total: int, *, concurrency: int = 1) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.timer = UnitTimer(concurrency=concurrency)
        self.total = total
        self.done = 0
        self.failed = 0
        self._lock = threading.Lock()
        self._shown = 0.0
        self._bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[status]}"),
            console=Console(stderr=True),
        )
        self._task = self._bar.add_task(description, total=total, status=self.status())

    def status(self) -> str:
        """ "eta H:MM:SS" from the typical unit, plus fitting time and failed units when there are any."""
        parts = [f"eta {_clock(self.timer.eta(self.total - self.done))}"]
        if self.timer.fitting_seconds >= 1:
            parts.append(f"fitting {_clock(self.timer.fitting_seconds)}")
        if self.failed:
            parts.append(f"[red]{self.failed} failed[/]")
        return "  ".join(parts)

    def unit_done(
        self, _item: Any = None, seconds: float | None = None, failed: bool = False, *, fitting: float = 0.0
    ) -> None:
        with self._lock:
            self.done += 1
            self.failed += int(failed)
            self.timer.add(seconds, fitting=fitting)
            now = time.monotonic()
            if now - self._shown >= 0.25 or self.done == self.total:  # the status scans all timings
                self._shown = now
                self._bar.update(self._task, advance=1, status=self.status())
            else:
                self._bar.update(self._task, advance=1)

    def __enter__(self) -> UnitProgress:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()


@contextlib.contextmanager
def phase(description: str, enabled: bool) -> Iterator[None]:
    """A spinner with elapsed time while a one-off step runs (e.g. "fitting knn"), on a terminal only."""
    if not progress_enabled(enabled):
        yield
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(), TextColumn("[bold]{task.description}"), TimeElapsedColumn(), console=Console(stderr=True)
    ) as bar:
        bar.add_task(description, total=None)
        yield


__all__ = ["SLOW_FACTOR", "UnitProgress", "UnitTimer", "phase", "progress_enabled"]
