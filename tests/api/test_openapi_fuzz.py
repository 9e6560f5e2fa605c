"""Property-based run over the OpenAPI schema (schemathesis strategies driven by hypothesis): whatever the
generated path, query and body values, no 5xx, and every error is problem+json.

(schemathesis' own pytest plugin does not work with pytest 9 here, so the test walks the operations itself.)
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

pytestmark = [pytest.mark.neo4j, pytest.mark.mlflow]


def test_no_server_errors_on_any_operation(live_api) -> None:
    schema = schemathesis.openapi.from_url(f"{live_api.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/graph/{kind}/{ident}", "/v1/rings", "/v1/score",
                                              "/v1/transactions/{tx_id}/trace", "/v1/alerts"}
    calls: dict[str, int] = {}
    for op in operations:
        role = "service" if op.path == "/v1/score" else "investigator_pii"

        @given(case=op.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case) -> None:
            case.headers = {**(case.headers or {}), **live_api.headers(role)}
            response = case.call(timeout=30)
            calls[op.label] = calls.get(op.label, 0) + 1
            assert response.status_code < 500, (case.method, case.formatted_path, response.status_code,
                                                 response.text[:300])
            if response.status_code >= 400:
                ctype = response.headers.get("content-type")
                ctype = ctype[0] if isinstance(ctype, list) else ctype
                assert ctype.startswith("application/problem+json"), (case.path, response.status_code)

        check()
    assert len(calls) == len(operations) and min(calls.values()) >= 1
