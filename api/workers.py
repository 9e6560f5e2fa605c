"""Which worker processes of ``pixring api --workers N`` listen and are ready: one small file per worker.

The supervisor owns a directory (``$PIXRING_HOME/run/api-<port>.workers``), empties it before the first worker
starts and removes a worker's file when it reaps that worker. A worker writes its file once its socket serves
(``listening``) and again when its read model is loaded (``ready``), and removes it when it starts shutting
down. Every worker's ``/readyz`` reads the directory, so readiness means all N workers, whichever answers.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import uvicorn

log = logging.getLogger(__name__)

STATES = ("listening", "ready")


class WorkerBoard:
    def __init__(self, directory: Path, expected: int) -> None:
        self.directory = Path(directory)
        self.expected = expected

    @classmethod
    def for_port(cls, run_dir: Path, port: int, expected: int) -> WorkerBoard:
        return cls(Path(run_dir) / f"api-{port}.workers", expected)

    def clear(self) -> None:
        """Supervisor, before the first worker: no file of an earlier run counts."""
        self.directory.mkdir(parents=True, exist_ok=True)
        for f in self.directory.iterdir():
            f.unlink(missing_ok=True)

    def mark(self, pid: int, state: str) -> None:
        """Worker: publish its state (atomically: a reader never sees half a file)."""
        if state not in STATES:
            raise ValueError(f"unknown worker state {state!r}")
        tmp = self.directory / f".{pid}.tmp"
        tmp.write_text(state)
        os.replace(tmp, self.directory / str(pid))

    def drop(self, pid: int) -> None:
        (self.directory / str(pid)).unlink(missing_ok=True)

    def state(self, pid: int) -> str | None:
        try:
            return (self.directory / str(pid)).read_text()
        except FileNotFoundError:
            return None

    def counts(self) -> dict[str, int]:
        """``expected`` workers, how many ``listening`` (ready ones included) and how many ``ready``."""
        states = []
        for f in self.directory.glob("[0-9]*"):
            try:
                states.append(f.read_text())
            except FileNotFoundError:  # reaped between the listing and the read
                continue
        return {"expected": self.expected, "listening": sum(s in STATES for s in states),
                "ready": sum(s == "ready" for s in states)}


class WorkerServer(uvicorn.Server):
    """One worker of ``--workers N``: on the board as ``listening`` once its socket serves, ``ready`` once its
    read model is in; off it as soon as it starts shutting down (before it stops accepting)."""

    def __init__(self, config: uvicorn.Config, board: WorkerBoard, ctx) -> None:
        super().__init__(config)
        self.board, self.ctx = board, ctx
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    async def startup(self, sockets=None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self.board.mark(os.getpid(), "listening")
            threading.Thread(target=self._publish_ready, name="api-worker-ready", daemon=True).start()

    def _publish_ready(self) -> None:
        while not self._stopping.wait(0.1):
            if self.ctx.readmodel.ready:
                with self._lock:
                    if not self._stopping.is_set():
                        self.board.mark(os.getpid(), "ready")
                return

    async def shutdown(self, sockets=None) -> None:
        with self._lock:
            self._stopping.set()
            self.board.drop(os.getpid())
        await super().shutdown(sockets=sockets)
