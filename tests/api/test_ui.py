"""The investigator page end to end in headless Chromium (Debian ``chromium`` + ``chromium-driver``, driven by
selenium): search a user, draw the subgraph, click a node to expand it, open the ring, trace a transaction.
A screenshot is kept at ``$PIXRING_HOME/test-artifacts/api-ui.png``.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from pixring.settings import get_settings

pytestmark = [pytest.mark.neo4j, pytest.mark.mlflow, pytest.mark.slow]


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    driver_path = shutil.which("chromedriver")
    if not driver_path or not shutil.which("chromium"):
        pytest.fail("headless Chromium missing: apt-get install chromium chromium-driver")
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,900"):
        opts.add_argument(arg)
    drv = webdriver.Chrome(service=Service(driver_path), options=opts)
    yield drv
    drv.quit()


def _wait(predicate, timeout: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


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
    n_first = _wait(lambda: b.execute_script("return window.pixringCy.nodes().length"), what="subgraph")
    _wait(lambda: "nós" in b.find_element(By.ID, "status").text, what="status line")
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
    _wait(lambda: b.execute_script("return window.pixringCy.nodes().length") > n_first, what="expansion")
    ids = set(b.execute_script("return window.pixringCy.nodes().map(n => n.id())"))
    assert f"usuario:{world.uid('M2')}" in ids
    assert world.device in b.find_element(By.ID, "node-props").text

    # the ring and its evidence
    Select(b.find_element(By.ID, "kind")).select_by_value("anel")
    b.find_element(By.ID, "ident").clear()
    b.find_element(By.ID, "ident").send_keys(world.ring)
    b.find_element(By.ID, "search").click()
    _wait(lambda: b.find_elements(By.ID, "ring-id") and b.find_element(By.ID, "ring-id").text == world.ring,
          what="ring panel")
    assert "repasse" in b.find_element(By.ID, "ring-motifs").text

    # the fund trace of the first victim's payment
    b.find_element(By.ID, "trace-id").send_keys(world.tx["1"])
    b.find_element(By.ID, "trace-btn").click()
    text = _wait(lambda: b.find_elements(By.ID, "trace-recoverable") and
                 b.find_element(By.ID, "trace-recoverable").text, what="trace")
    assert "1.000,00" in text
    assert b.execute_script("return window.pixringCy.edges('[?rastreio]').length") == 3

    shot = tmp_path / "api-ui.png"
    assert b.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    keep = Path(get_settings().paths.home) / "test-artifacts"
    keep.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, keep / "api-ui.png")

    # a wrong token shows the problem title, not a stack trace
    b.find_element(By.ID, "token").clear()
    b.find_element(By.ID, "token").send_keys("wrong")
    Select(b.find_element(By.ID, "kind")).select_by_value("usuario")
    b.find_element(By.ID, "ident").clear()
    b.find_element(By.ID, "ident").send_keys(world.uid("C"))
    b.find_element(By.ID, "search").click()
    _wait(lambda: "Unauthorized" in b.find_element(By.ID, "status").text, what="401 shown")
