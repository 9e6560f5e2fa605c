"""The API's background refreshers (read model, champion model, graph projection): one loop, one place."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


def every(seconds: float, fn: Callable[[], object], stop: threading.Event, name: str) -> threading.Thread:
    """Call ``fn`` every ``seconds`` in a daemon thread ``name`` until ``stop`` is set.

    A failure is logged (exception type only: messages can carry connection details) and the next round
    goes on; whatever ``fn`` refreshes keeps serving its last good state."""

    def loop() -> None:
        while not stop.wait(seconds):
            try:
                fn()
            except Exception as exc:  # noqa: BLE001 - a refresher never dies
                log.warning("%s failed: %s", name, type(exc).__name__)

    thread = threading.Thread(target=loop, name=name, daemon=True)
    thread.start()
    return thread
