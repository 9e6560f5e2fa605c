"""``api.background.every``: the refreshers' loop (pure logic, real threads)."""

from __future__ import annotations

import threading
import time

from api.background import every


def test_a_refresher_goes_on_after_a_failure_and_stops_when_asked() -> None:
    calls: list[float] = []

    def fn() -> None:
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise RuntimeError("first round fails")

    stop = threading.Event()
    thread = every(0.01, fn, stop, "test-refresh")
    deadline = time.monotonic() + 5
    while len(calls) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(calls) >= 3 and thread.name == "test-refresh" and thread.daemon
    stop.set()
    thread.join(timeout=2)
    assert not thread.is_alive()
