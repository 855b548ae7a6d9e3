"""Progress that suits where it is shown: live bars on a terminal; in a log (CI, Slurm, `| tee`) one plain line
per job when its state changes and at most every VLMRUN_PROGRESS_EVERY seconds (default 30) while it advances."""
from __future__ import annotations

import os
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text


def make_progress(console: Console):
    if console.is_terminal:
        columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("{task.fields[status]}")]
        return Progress(*columns, console=console, transient=False)
    return LineProgress(console, float(os.environ.get("VLMRUN_PROGRESS_EVERY", "30")))


class LineProgress:
    """The part of rich's Progress API the evaluator and monitors use, printing lines instead of bars."""

    def __init__(self, console: Console, every: float = 30.0):
        self.console, self.every = console, every
        self._tasks: dict[int, dict] = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def add_task(self, description: str, total: int = 0, status: str = "", **_) -> int:
        tid = len(self._tasks)
        self._tasks[tid] = {"description": description, "total": total, "completed": 0, "status": "",
                            "start": time.monotonic(), "printed_at": None, "printed": None, "rate_from": None}
        self._set_status(self._tasks[tid], status, self._tasks[tid]["start"])
        return tid

    def advance(self, task: int, advance: int = 1) -> None:
        t = self._tasks[task]
        self.update(task, completed=t["completed"] + advance)

    def update(self, task: int, completed: int | None = None, status: str | None = None, **_) -> None:
        t = self._tasks[task]
        now = time.monotonic()
        if completed is not None:
            t["completed"] = completed
        changed = status is not None and self._set_status(t, status, now)
        due = t["printed_at"] is None or now - t["printed_at"] >= self.every
        if changed or (due and (t["completed"], t["status"]) != t["printed"]):
            self._print(t, now)

    @staticmethod
    def _set_status(t: dict, status: str, now: float) -> bool:
        """Set a task's status; True when it changed. Speed counts from the start of inference: not resumed
        rows, not the image or model load."""
        plain = _plain(status)
        if plain == t["status"]:
            return False
        t["status"] = plain
        if plain == "inference":
            t["rate_from"] = (now, t["completed"])
        return True

    def _print(self, t: dict, now: float) -> None:
        elapsed = int(now - t["start"])
        speed = ""
        if t["status"] == "inference" and now > t["rate_from"][0] and t["completed"] > t["rate_from"][1]:
            speed = f", {(t['completed'] - t['rate_from'][1]) / (now - t['rate_from'][0]):.1f} rows/s"
        self.console.print(f"{t['description']}: {t['completed']}/{t['total']} rows, {t['status'] or 'waiting'}"
                           f"{speed}, {elapsed // 60}:{elapsed % 60:02d}", markup=False, highlight=False)
        t["printed_at"], t["printed"] = now, (t["completed"], t["status"])


def _plain(text: str) -> str:
    return Text.from_markup(text).plain if text else ""
