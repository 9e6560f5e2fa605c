"""The load marker's Cypher is static text (no query is ever formatted): the label written in it is the
contract's, in the loader's queries and in the API projection's version query alike."""

from __future__ import annotations

import re

from pixring.contract import LOAD_MARKER_LABEL


def test_the_marker_queries_use_the_contract_label_and_bind_the_id() -> None:
    from api.graphproj import _VERSION
    from graph.neo4j_load import MARKER_READ, MARKER_WRITE

    for query in (MARKER_READ, MARKER_WRITE, _VERSION):
        assert re.findall(r"\(m:(\w+) \{id: \$marker_id\}\)", query) == [LOAD_MARKER_LABEL], query
