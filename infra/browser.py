"""Neo4j Browser, served locally by ``pixring up`` (service ``browser``), with pixring's saved queries as a guide.

The app is the static build Neo4j publishes on Maven Central (``org.neo4j.client:neo4j-browser``, resolved by
``pixring jars`` from ``infra/maven/browser/pom.xml``); its ``browser/`` folder is unpacked once into
``$PIXRING_CACHE/browser/<jar>/``. A small static server (this module's ``main``, run as a child process by
:class:`infra.services.BrowserService`) serves it on ``PIXRING_BROWSER_HOST:PORT`` (``127.0.0.1:7474``) and adds
two things Neo4j's own HTTP server would have provided:

* ``GET /`` asking for JSON: the discovery document (``bolt_direct``) from which the Browser pre-fills the
  connect form with the local Bolt address; the Browser then talks Bolt over WebSocket to Neo4j's Bolt port
  (the Bolt connector accepts WebSocket on the same port; no HTTP connector is needed);
* ``/pixring-guide.html``: the "Saved queries" of ``docs/investigation.md`` as a Browser guide
  (``:play <url>``; click a query to put it into the editor). It is built from the doc on every request, so
  the doc stays the one home of the queries.

The server holds no secret: the user types the Neo4j password into the Browser's own connect form.
"""

from __future__ import annotations

import argparse
import html
import json
import logging
import re
import shutil
import zipfile
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, urlsplit

from pixring.errors import PixringError
from pixring.settings import Settings

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
INVESTIGATION_DOC = ROOT / "docs" / "investigation.md"
GUIDE_PATH = "/pixring-guide.html"


@dataclass(frozen=True)
class SavedQuery:
    title: str
    cypher: str

    @property
    def params(self) -> list[str]:
        return list(dict.fromkeys(re.findall(r"\$([A-Za-z_]\w*)", self.cypher)))


def saved_queries(doc: Path = INVESTIGATION_DOC) -> list[SavedQuery]:
    """The ```cypher blocks of the doc's "## Saved queries" section, each titled by the text just above it."""
    section = doc.read_text(encoding="utf-8").split("\n## Saved queries", 1)
    if len(section) < 2:
        return []
    body = section[1].split("\n## ", 1)[0]
    out: list[SavedQuery] = []
    for m in re.finditer(r"(?P<text>[^`]*?)```cypher\n(?P<cypher>.*?)```", body, flags=re.S):
        text = [line.strip() for line in m.group("text").strip().splitlines() if line.strip()]
        title = " ".join(text).rstrip(":").strip() or f"query {len(out) + 1}"
        out.append(SavedQuery(title, m.group("cypher").strip()))
    return out


def guide_html(queries: list[SavedQuery]) -> str:
    """A Neo4j Browser guide (``:play``): one page, every saved query runnable (click -> editor)."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>pixring: saved queries</title></head><body>",
        "<article class='guide'><h3>pixring — saved queries</h3>",
        "<p>Click a query to put it into the editor, then run it (Ctrl+Enter). A query with <code>$name</code> "
        "needs its parameter first: click the <code>:param</code> line, put the id between the quotes and run "
        "it. Keys are HMAC tokens; names are masked. The model is described in docs/investigation.md.</p>",
    ]
    for i, q in enumerate(queries, 1):
        parts.append(f"<h4 id='query-{i}'>{i}. {html.escape(q.title)}</h4>")
        for p in q.params:
            parts.append(f"<pre class='code runnable param'>:param {html.escape(p)} =&gt; &quot;&quot;</pre>")
        parts.append(f"<pre class='pre-scrollable code runnable query' data-query='{i}'>{html.escape(q.cypher)}</pre>")
    parts.append("</article></body></html>")
    return "\n".join(parts)


def discovery(settings: Settings) -> dict[str, str]:
    """What Neo4j's HTTP root answers a client asking for JSON; the Browser reads its Bolt address from it."""
    return {"bolt_direct": settings.neo4j.bolt_uri, "neo4j_version": settings.neo4j.version,
            "neo4j_edition": "community"}


def open_url(settings: Settings) -> str:
    """The Browser URL that connects to the local Bolt (user pre-filled) and opens the pixring guide."""
    b = settings.browser
    bolt = urlsplit(settings.neo4j.bolt_uri)
    dbms = f"{bolt.scheme}://{settings.neo4j.user}@{bolt.netloc}"
    return f"{b.url}/?dbms={quote(dbms, safe='')}&cmd=play&arg={quote(b.url + GUIDE_PATH, safe='')}"


# --- the unpacked app ----------------------------------------------------------------------------------------
def app_dir(settings: Settings) -> Path:
    """The unpacked Browser app (``index.html`` ...), unpacking the resolved jar the first time."""
    from infra.jars import classpath

    jar = next((p for p in classpath("browser") if p.name.startswith("neo4j-browser-")), None)
    if jar is None:
        raise PixringError("no neo4j-browser jar: run `make setup` (or `pixring jars`)")
    out = settings.paths.cache / "browser" / jar.stem
    if (out / "index.html").exists():
        return out
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with zipfile.ZipFile(jar) as zf:
        for info in zf.infolist():
            name = info.filename
            if not name.startswith("browser/") or info.is_dir():
                continue
            rel = Path(name).relative_to("browser")
            if rel.is_absolute() or ".." in rel.parts:  # a hostile archive cannot write outside the folder
                raise PixringError(f"{jar.name}: unsafe path {name!r}")
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, target.open("wb") as dst:
                shutil.copyfileobj(src, dst)
    if not (tmp / "index.html").exists():
        shutil.rmtree(tmp, ignore_errors=True)
        raise PixringError(f"{jar.name} holds no browser/index.html")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    log.info("unpacked Neo4j Browser into %s", out)
    return out


# --- the server ------------------------------------------------------------------------------------------------
def content_policy(bolt_uri: str) -> str:
    """The page's Content-Security-Policy: scripts, styles and requests only to this server and the local Bolt
    WebSocket, so the Browser's product-usage telemetry and any third-party fetch are refused by the browser."""
    netloc = urlsplit(bolt_uri).netloc
    bolt = " ".join(f"{scheme}://{netloc}" for scheme in ("ws", "wss"))
    return ("default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; "
            f"connect-src 'self' {bolt}; worker-src 'self' blob:; frame-ancestors 'none'; form-action 'self'")


class _Handler(SimpleHTTPRequestHandler):
    discovery_json: bytes = b"{}"
    guide_doc: Path = INVESTIGATION_DOC
    csp: str = "default-src 'self'"

    def end_headers(self) -> None:
        self.send_header("Content-Security-Policy", self.csp)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Frame-Options", "DENY")
        super().end_headers()

    def _send(self, body: bytes, ctype: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/" and "application/json" in self.headers.get("Accept", ""):
            return self._send(self.discovery_json, "application/json")
        if path == GUIDE_PATH:
            return self._send(guide_html(saved_queries(self.guide_doc)).encode(), "text/html; charset=utf-8")
        return super().do_GET()

    def log_message(self, format: str, *args) -> None:
        log.debug("%s " + format, self.address_string(), *args)


def make_server(directory: Path, host: str, port: int, discovery_doc: dict[str, str],
                doc: Path = INVESTIGATION_DOC) -> ThreadingHTTPServer:
    handler = type("BrowserHandler", (_Handler,), {"discovery_json": json.dumps(discovery_doc).encode(),
                                                   "guide_doc": doc,
                                                   "csp": content_policy(discovery_doc.get("bolt_direct", ""))})
    return ThreadingHTTPServer((host, port), partial(handler, directory=str(directory)))


def main(argv: list[str] | None = None) -> int:
    """``python -m infra.browser --dir APP --host H --port P --bolt URI`` (what :class:`infra.services.BrowserService`
    runs: every address on the command line, as the other services get theirs)."""
    from pixring.settings import get_settings

    parser = argparse.ArgumentParser(prog="python -m infra.browser", description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, help="the unpacked app (default: unpack the resolved jar)")
    parser.add_argument("--host", help="bind address (default PIXRING_BROWSER_HOST)")
    parser.add_argument("--port", type=int, help="port (default PIXRING_BROWSER_PORT)")
    parser.add_argument("--bolt", help="the Bolt URI the connect form offers (default the Neo4j settings')")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = get_settings()
    directory = args.dir or app_dir(settings)
    host, port = args.host or settings.browser.host, args.port or settings.browser.port
    doc = discovery(settings) | ({"bolt_direct": args.bolt} if args.bolt else {})
    server = make_server(directory, host, port, doc)
    log.info("Neo4j Browser on %s:%d (app %s, Bolt %s)", host, port, directory, doc["bolt_direct"])
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
