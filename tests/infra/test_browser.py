"""Neo4j Browser served by pixring (:mod:`infra.browser`): the saved-queries guide built from docs/investigation.md,
the discovery document, the ``browser`` service, and headless Chromium logging into the real local Neo4j over
Bolt/WebSocket and running a saved query from the guide. The screenshot is kept as ``neo4j-browser.png`` in
``$PIXRING_TEST_ARTIFACTS`` (default ``$PIXRING_HOME/test-artifacts``).
"""

from __future__ import annotations

import json
import threading
import urllib.request
import uuid

import pytest

from infra.browser import GUIDE_PATH, app_dir, discovery, guide_html, make_server, open_url, saved_queries
from tests.helpers import chromium, free_port, keep_artifact, wait_for


def test_saved_queries_come_from_the_doc() -> None:
    queries = saved_queries()
    titles = [q.title for q in queries]
    assert len(queries) >= 5
    assert titles[0] == "The riskiest active rings"
    assert any("sharing a device" in t for t in titles)
    device = next(q for q in queries if "sharing a device" in q.title)
    assert device.params == ["user"] and device.cypher.startswith("MATCH (x:Usuario {id: $user})")


def test_guide_escapes_and_makes_every_query_runnable(tmp_path) -> None:
    doc = tmp_path / "inv.md"
    doc.write_text("# x\n\n## Saved queries\n\nA <b>bad</b> title:\n\n```cypher\nMATCH (n) WHERE n.v < $lim RETURN n\n```\n"
                   "\n## Next\n\n```cypher\nMATCH (z) RETURN z\n```\n")
    qs = saved_queries(doc)
    assert [q.title for q in qs] == ["A <b>bad</b> title"]  # the next section's block is not a saved query
    page = guide_html(qs)
    assert "<b>bad</b>" not in page and "&lt;b&gt;bad&lt;/b&gt;" in page
    assert "n.v &lt; $lim" in page
    assert page.count("class='pre-scrollable code runnable query'") == 1
    assert ":param lim =&gt;" in page


@pytest.fixture
def served(make_settings, tmp_path):
    """The Browser app of the resolved jar served on a free port in this process."""
    port = free_port()
    s = make_settings(tmp_path / "home", PIXRING_BROWSER_PORT=str(port))
    server = make_server(app_dir(s), "127.0.0.1", port, discovery(s))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield s
    server.shutdown()
    server.server_close()


def test_server_answers_discovery_guide_and_app(served) -> None:
    base = served.browser.url
    req = urllib.request.Request(base + "/", headers={"Accept": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert json.load(resp)["bolt_direct"] == served.neo4j.bolt_uri
    with urllib.request.urlopen(base + "/", timeout=5) as resp:
        page = resp.read().decode()
        assert "<html" in page.lower() and resp.headers["X-Content-Type-Options"] == "nosniff"
        # requests only to this server and the local Bolt WebSocket: the Browser's telemetry cannot leave
        csp = resp.headers["Content-Security-Policy"]
        connect = next(d for d in csp.split(";") if d.strip().startswith("connect-src")).split()[1:]
        bolt = served.neo4j.bolt_uri.split("://", 1)[1]
        assert connect == ["'self'", f"ws://{bolt}", f"wss://{bolt}"] and "default-src 'self'" in csp
    with urllib.request.urlopen(base + GUIDE_PATH, timeout=5) as resp:
        assert "The riskiest active rings" in resp.read().decode()
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(base + "/../../etc/passwd", timeout=5)
    assert err.value.code == 404


def test_browser_service_starts_and_stops(make_settings, tmp_path) -> None:
    from infra.services import BrowserService

    # settings the child's environment does not have: the command line carries them
    s = make_settings(tmp_path / "svc", PIXRING_BROWSER_PORT=str(free_port()), PIXRING_NEO4J_BOLT_PORT="17999")
    svc = BrowserService(s)
    try:
        svc.start()
        assert svc.status().state == "ready"
        with urllib.request.urlopen(s.browser.url + GUIDE_PATH, timeout=5) as resp:
            assert resp.status == 200
        req = urllib.request.Request(s.browser.url + "/", headers={"Accept": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert json.load(resp)["bolt_direct"] == "bolt://127.0.0.1:17999"
    finally:
        assert svc.stop() == "stopped"
    assert svc.status().state == "stopped"


@pytest.mark.neo4j
@pytest.mark.slow
def test_chromium_logs_in_and_runs_a_saved_query(served, neo4j_driver, tmp_path) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    tag = uuid.uuid4().hex[:10]
    user, other, device = f"br-u-{tag}", f"br-o-{tag}", f"br-d-{tag}"
    neo4j_driver.execute_query(
        "CREATE (:Usuario {id: $u})-[:USA]->(:Dispositivo {id: $d})<-[:USA]-(:Usuario {id: $o})",
        u=user, o=other, d=device)
    b = chromium()
    try:
        b.get(open_url(served))
        pw = wait_for(lambda: b.find_elements(By.CSS_SELECTOR, "[data-testid=password]"), what="connect form")[0]
        assert b.find_element(By.CSS_SELECTOR, "[data-testid=boltaddress]").get_attribute("value") == \
            served.neo4j.bolt_uri.split("://", 1)[1]
        assert b.find_element(By.CSS_SELECTOR, "[data-testid=username]").get_attribute("value") == "neo4j"
        pw.send_keys(served.neo4j.password.get_secret_value())
        b.find_element(By.CSS_SELECTOR, "[data-testid=connect]").click()
        wait_for(lambda: "connected as user neo4j" in b.find_element(By.TAG_NAME, "body").text, 30,
                 what="connected over Bolt/WebSocket")

        def run(text: str | None = None) -> None:
            editor = b.find_element(By.CSS_SELECTOR, "[data-testid=activeEditor]")
            if text is not None:
                editor.click()
                ActionChains(b).send_keys(text).perform()
            b.find_element(By.CSS_SELECTOR, "[data-testid=editor-Run]").click()

        run(f':param user => "{user}"')
        wait_for(lambda: any(f'"user": "{user}"' in e.text
                             for e in b.find_elements(By.CSS_SELECTOR, "[data-testid=frameContents]")),
                 what="the parameter set")
        # the guide's saved query: a click puts it into the editor, then it runs
        query = wait_for(lambda: [e for e in b.find_elements(By.CSS_SELECTOR, "pre.runnable")
                                  if "$user" in e.text], what="guide query")[0]
        b.execute_script("arguments[0].scrollIntoView({block: 'center'})", query)
        wait_for(lambda: query.is_displayed(), what="query in view")
        query.click()
        wait_for(lambda: "$user" in b.find_element(By.CSS_SELECTOR, "[data-testid=activeEditor]").text,
                 what="query in the editor")
        run()
        try:
            cell = wait_for(lambda: [e for e in b.find_elements(By.CSS_SELECTOR, "[data-testid=frameContents]")
                                     if device in e.text], 30, what="a result row")[0]
        except BaseException:
            b.save_screenshot(str(tmp_path / "neo4j-browser-failed.png"))
            keep_artifact(tmp_path / "neo4j-browser-failed.png")
            raise
        assert other in cell.text
        shot = tmp_path / "neo4j-browser.png"
        assert b.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
        keep_artifact(shot)
    finally:
        b.quit()
        neo4j_driver.execute_query("MATCH (n) WHERE n.id IN [$u, $o, $d] DETACH DELETE n", u=user, o=other, d=device)
