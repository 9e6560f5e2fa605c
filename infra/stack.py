"""``pixring up | down | status``: the local stack as one unit."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from infra.services import SERVICES, Service, java_bin
from pixring.errors import PixringError
from pixring.settings import Settings, get_settings

log = logging.getLogger(__name__)


class Stack:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.services: dict[str, Service] = {n: cls(settings) for n, cls in SERVICES.items()}

    @classmethod
    def from_settings(cls) -> Stack:
        return cls(get_settings())

    def _select(self, only: Sequence[str]) -> list[Service]:
        unknown = sorted(set(only) - set(self.services))
        if unknown:
            raise PixringError(f"unknown service(s) {', '.join(unknown)}; known: {', '.join(self.services)}")
        if only:
            return [s for n, s in self.services.items() if n in only]
        # the on-demand services (stream, api) count only while they have been started
        return [s for s in self.services.values() if not s.on_demand or s.pid() is not None]

    def up(self, only: Sequence[str] = ()) -> int:
        from infra.jars import resolve

        chosen = self._select(only)
        if any(s.name in ("kafka", "neo4j") for s in chosen):
            java_bin()
        for s in chosen:
            if s.name in ("kafka", "neo4j"):
                resolve(s.name)
            if s.name == "kafka":
                resolve("jmx")  # the Prometheus JMX exporter agent the broker runs with
        t0 = time.monotonic()
        # start in parallel: the JVMs and MLflow warm up independently
        with ThreadPoolExecutor(max_workers=len(chosen)) as pool:
            futures = {s.name: pool.submit(s.start) for s in chosen}
            errors = []
            for name, fut in futures.items():
                try:
                    fut.result()
                except PixringError as exc:
                    errors.append(str(exc))
        if errors:
            raise PixringError("; ".join(errors))
        print(f"all ready in {time.monotonic() - t0:.1f}s")
        self.status(only)
        return 0

    def down(self, only: Sequence[str] = ()) -> int:
        for s in self._select(only):
            print(f"{s.name:10s} {s.stop()}")
        return 0

    def status(self, only: Sequence[str] = ()) -> int:
        rows = [s.status() for s in self._select(only)]
        total = 0.0
        for st in rows:
            rss = f"{st.rss_mb:7.0f} MiB" if st.rss_mb is not None else "      -    "
            total += st.rss_mb or 0
            print(f"{st.name:10s} {st.state:8s} pid={st.pid or '-':<8} {rss}  {st.endpoint}")
        print(f"{'total':10s} {'':8s} {'':12s} {total:7.0f} MiB")
        if any(st.name == "browser" for st in rows):
            from infra.browser import open_url
            from pixring.security import neo4j_login_hint

            print(f"Neo4j Browser  {open_url(self.settings)}\n               log in: {neo4j_login_hint(self.settings)}")
        return 0 if all(r.state == "ready" for r in rows) else 1
