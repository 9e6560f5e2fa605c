"""Structured logs: the correlation id on every record, JSON and text formats, the setting (pure unit tests)."""

from __future__ import annotations

import io
import json
import logging
import threading

import pytest
from pydantic import ValidationError

from pixring import logs
from pixring.settings import LogSettings


@pytest.fixture
def restore_root():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)


def test_json_lines_carry_the_bound_correlation_id(restore_root) -> None:
    out = io.StringIO()
    logs.configure(fmt="json", stream=out)
    log = logging.getLogger("pixring.test")
    log.info("outside")
    with logs.bind("req-1"):
        log.info("inside %d", 7)
        with logs.bind("scorer-b3"):
            log.warning("nested")
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed")
    log.debug("not at INFO")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(r["corr"], r["msg"]) for r in lines] == [("-", "outside"), ("req-1", "inside 7"),
                                                      ("scorer-b3", "nested"), ("req-1", "failed")]
    assert lines[1]["level"] == "INFO" and lines[1]["logger"] == "pixring.test" and lines[1]["ts"].endswith("+00:00")
    assert "ValueError: boom" in lines[3]["exc"] and "exc" not in lines[0]


def test_text_lines_show_it_and_threads_do_not_inherit_it(restore_root) -> None:
    out = io.StringIO()
    logs.configure(verbose=True, fmt="text", stream=out)
    log = logging.getLogger("pixring.test")
    with logs.bind("cli-demo-abc"):
        log.debug("visible at DEBUG")
        t = threading.Thread(target=log.info, args=("from a thread",))
        t.start()
        t.join()
    text = out.getvalue().splitlines()
    assert text[0].endswith("DEBUG pixring.test [cli-demo-abc]: visible at DEBUG")
    assert text[1].endswith("[-]: from a thread")
    assert logging.getLogger("neo4j").level == logging.WARNING
    with pytest.raises(ValueError, match="text or json"):
        logs.configure(fmt="xml")


def test_only_safe_incoming_ids_are_kept() -> None:
    assert logs.valid_or_new("inv-42.a:b_C") == "inv-42.a:b_C"
    for bad in (None, "", "a b", "x\nforged log line", "é", "x" * 65):
        new = logs.valid_or_new(bad)
        assert new != bad and len(new) == 16 and int(new, 16) >= 0
    assert logs.new_id("cli-x-").startswith("cli-x-") and logs.new_id() != logs.new_id()


def test_the_format_setting_is_validated(monkeypatch) -> None:
    assert LogSettings().format == "text"
    monkeypatch.setenv("PIXRING_LOG_FORMAT", "json")
    assert LogSettings().format == "json"
    monkeypatch.setenv("PIXRING_LOG_FORMAT", "yaml")
    with pytest.raises(ValidationError):
        LogSettings()
