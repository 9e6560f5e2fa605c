"""The investigator page end to end in headless Chromium (Debian ``chromium`` + ``chromium-driver``, driven by
selenium): search a user, draw the subgraph, click a node to expand it, open the ring, trace a transaction.
Then the readable page: the laptop token hint on first use, a ring's evidence in words and its timeline, and a
force-directed layout in which no two node labels overlap (the ring, and a 33-node / 38-edge graph like the
issue's). Screenshots ``api-ui.png`` and ``api-ui-ring.png`` are kept in ``$PIXRING_TEST_ARTIFACTS`` (default
``$PIXRING_HOME/test-artifacts``).
"""

from __future__ import annotations

import pytest

from tests.helpers import chromium, keep_artifact, wait_for

pytestmark = [pytest.mark.neo4j, pytest.mark.mlflow, pytest.mark.slow]


@pytest.fixture(scope="module")
def browser():
    drv = chromium()
    yield drv
    drv.quit()


def _open_ring(b, ring: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    Select(b.find_element(By.ID, "kind")).select_by_value("anel")
    b.find_element(By.ID, "ident").clear()
    b.find_element(By.ID, "ident").send_keys(ring)
    b.find_element(By.ID, "search").click()
    wait_for(lambda: b.find_elements(By.ID, "ring-id") and b.find_element(By.ID, "ring-id").text == ring,
             what="ring panel")


def test_investigator_page_end_to_end(browser, live_api, world, tmp_path) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    b = browser
    b.get(f"{live_api.url}/ui/")
    assert b.execute_script("return typeof cytoscape") == "function"  # the vendored library loaded
    b.find_element(By.ID, "token").send_keys(live_api.tokens["investigator"])
    Select(b.find_element(By.ID, "kind")).select_by_value("usuario")
    Select(b.find_element(By.ID, "hops")).select_by_value("1")
    b.find_element(By.ID, "ident").send_keys(world.uid("M1"))
    b.find_element(By.ID, "search").click()
    n_first = wait_for(lambda: b.execute_script("return window.pixringCy.nodes().length"), what="subgraph")
    wait_for(lambda: "nós" in b.find_element(By.ID, "status").text, what="status line")
    ids = set(b.execute_script("return window.pixringCy.nodes().map(n => n.id())"))
    assert f"usuario:{world.uid('M1')}" in ids and f"dispositivo:{world.device}" in ids
    assert f"usuario:{world.uid('M2')}" not in ids

    # click the shared device on the canvas: its neighbours (M2) join the drawing
    pos = b.execute_script(
        "const p = window.pixringCy.getElementById(arguments[0]).renderedPosition(); return [p.x, p.y];",
        f"dispositivo:{world.device}")
    cy_el = b.find_element(By.ID, "cy")
    size = cy_el.size
    ActionChains(b).move_to_element_with_offset(cy_el, int(pos[0] - size["width"] / 2),
                                                int(pos[1] - size["height"] / 2)).click().perform()
    wait_for(lambda: b.execute_script("return window.pixringCy.nodes().length") > n_first, what="expansion")
    ids = set(b.execute_script("return window.pixringCy.nodes().map(n => n.id())"))
    assert f"usuario:{world.uid('M2')}" in ids
    assert world.device in b.find_element(By.ID, "node-props").text

    # the ring and its evidence
    _open_ring(b, world.ring)
    assert "repasse" in b.find_element(By.ID, "ring-motifs").text

    # the fund trace of the first victim's payment
    b.find_element(By.ID, "trace-id").send_keys(world.tx["1"])
    b.find_element(By.ID, "trace-btn").click()
    text = wait_for(lambda: b.find_elements(By.ID, "trace-recoverable") and
                 b.find_element(By.ID, "trace-recoverable").text, what="trace")
    assert "1.000,00" in text
    assert b.execute_script("return window.pixringCy.edges('[?rastreio]').length") == 3

    shot = tmp_path / "api-ui.png"
    assert b.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    keep_artifact(shot)

    # a wrong token shows the problem title, not a stack trace
    b.find_element(By.ID, "token").clear()
    b.find_element(By.ID, "token").send_keys("wrong")
    Select(b.find_element(By.ID, "kind")).select_by_value("usuario")
    b.find_element(By.ID, "ident").clear()
    b.find_element(By.ID, "ident").send_keys(world.uid("C"))
    b.find_element(By.ID, "search").click()
    wait_for(lambda: "Unauthorized" in b.find_element(By.ID, "status").text, what="401 shown")


OVERLAPS = """
const bb = window.pixringCy.nodes().map(n => n.boundingBox({includeNodes: false, includeEdges: false, includeLabels: true}));
const bad = [];
for (let i = 0; i < bb.length; i++) for (let j = i + 1; j < bb.length; j++) {
  const a = bb[i], b = bb[j];
  if (Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1) > 0.5 && Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1) > 0.5) bad.push([i, j]);
}
return [bb.length, bb.filter(b => b.w > 0 && b.h > 0).length, bad.length];
"""


def test_readable_ring_page(browser, live_api, world, tmp_path) -> None:
    from selenium.webdriver.common.by import By

    b = browser
    b.get(f"{live_api.url}/ui/")
    b.execute_script("sessionStorage.clear()")
    b.refresh()
    # first use: the laptop's investigator token is offered
    hint = wait_for(lambda: b.find_element(By.ID, "token-hint").is_displayed() and b.find_element(By.ID, "token-hint"),
                    what="token hint")
    assert live_api.tokens["investigator"] in hint.text
    hint.find_element(By.TAG_NAME, "button").click()
    assert b.find_element(By.ID, "token").get_attribute("value") == live_api.tokens["investigator"]
    wait_for(lambda: not b.find_element(By.ID, "token-hint").is_displayed(), what="hint hidden")

    _open_ring(b, world.ring)
    # evidence in words: sentences, no JSON
    evidence = [li.text for li in b.find_elements(By.CSS_SELECTOR, "#ring-evidence li")]
    assert evidence and all(t and not any(c in t for c in '{}[]"') for t in evidence), evidence
    assert any("repasse" in t for t in evidence) and any("dispositivo compartilhado" in t for t in evidence)
    # the timeline: the ring's transfers in time order
    rows = b.find_elements(By.CSS_SELECTOR, "#ring-timeline li")
    assert b.find_element(By.ID, "timeline-panel").is_displayed() and len(rows) >= 2
    assert any("R$" in r.text and "→" in r.text for r in rows)
    n, drawn, bad = b.execute_script(OVERLAPS)
    assert n >= 4 and drawn == n and bad == 0
    shot = tmp_path / "api-ui-ring.png"
    assert b.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    keep_artifact(shot)

    # a ring the size of the (33 nodes, 38 edges, long ids): still no overlapping label
    n, drawn, bad = b.execute_script("""
      const cy = window.pixringCy; cy.elements().remove();
      const els = [];
      for (let i = 0; i < 33; i++) els.push({group: "nodes", data: {id: "n" + i, tipo: i % 5 ? "usuario" : "chave",
        label: "U" + (1000000 + i * 7919).toString(16) + "…" + (i * 31 % 97)}});
      for (let i = 0; i < 38; i++) els.push({group: "edges", data: {id: "e" + i, source: "n" + (i % 33),
        target: "n" + ((i * 7 + 3) % 33), tipo: "TRANSFERIU", label: "R$ 1.000,00"}});
      cy.add(els); window.pixringLayout();
    """ + OVERLAPS)
    assert (n, drawn, bad) == (33, 33, 0)


def test_case_from_the_ring_panel_with_dispositions(browser, live_api, world) -> None:
    """The cases API end to end from /ui: open (or find) the ring's case, record two dispositions, read the history."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    b = browser
    b.get(f"{live_api.url}/ui/")
    b.find_element(By.ID, "token").clear()
    b.find_element(By.ID, "token").send_keys(live_api.tokens["investigator"])
    _open_ring(b, world.ring)
    # the queue: ordered by priority, within the analysts' capacity
    wait_for(lambda: "capacidade" in b.find_element(By.ID, "queue-cap").text, what="queue")
    assert f"capacidade {live_api.settings.api.analyst_capacity}" in b.find_element(By.ID, "queue-cap").text
    b.find_element(By.ID, "ring-open-case").click()
    wait_for(lambda: b.find_element(By.ID, "case-panel").is_displayed() and b.find_element(By.ID, "case-id").text,
             what="case panel")
    assert world.ring in b.find_element(By.ID, "case-summary").text
    for value, shown in (("precisa_informacao", "precisa de informação"), ("descartado", "descartado")):
        Select(b.find_element(By.ID, "disposicao")).select_by_value(value)
        b.find_element(By.ID, "notas").send_keys(f"nota {value}")
        b.find_element(By.ID, "disposition-btn").click()
        wait_for(lambda v=shown: f"registrado: {v}" in b.find_element(By.ID, "case-status").text, what=f"{value} saved")
        assert shown in b.find_element(By.ID, "case-history").text
    assert "nota precisa_informacao" in b.find_element(By.ID, "case-history").text
    assert "descartado" in b.find_element(By.ID, "case-summary").text
