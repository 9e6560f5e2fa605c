"""The Cypher of every module that talks to Neo4j names only the contract's Neo4j model (labels, relationship
types, load marker): the texts are built from ``pixring.contract`` constants, never restated or formatted from
data, and this holds them together (a label or type restated with a typo, or a new one not in the contract,
fails here)."""

from __future__ import annotations

import importlib
import re

import pytest

from pixring.contract import EDGE_ENDPOINTS, LOAD_MARKER_LABEL, MEMBER_OF, NODE_LABELS, RING_LABEL

CYPHER_MODULES = ("api.cases", "api.graphdb", "api.graphproj", "gnn.embed", "graph.neo4j_load", "lakehouse.erase_stores")
LABELS = {*NODE_LABELS.values(), RING_LABEL, LOAD_MARKER_LABEL}
REL_TYPES = {*EDGE_ENDPOINTS, MEMBER_OF}
_LABEL = re.compile(r"\(\w*:(\w+)")
_REL = re.compile(r"\[\w*:(\w+)")


def _cypher_texts(module) -> list[str]:
    """Every module-level string (or dict of strings) that reads like a Cypher query."""
    out = []
    for value in vars(module).values():
        values = value.values() if isinstance(value, dict) else [value]
        out += [v for v in values if isinstance(v, str) and re.search(r"\b(MATCH|MERGE|RETURN)\b", v)]
    return out


@pytest.mark.parametrize("name", CYPHER_MODULES)
def test_the_queries_name_only_the_contract_s_labels_and_relationship_types(name: str) -> None:
    texts = _cypher_texts(importlib.import_module(name))
    assert texts, f"{name} has no module-level Cypher: update CYPHER_MODULES"
    for text in texts:
        assert set(_LABEL.findall(text)) <= LABELS, text
        assert set(_REL.findall(text)) <= REL_TYPES, text


def test_the_marker_queries_use_the_contract_label_and_bind_the_id() -> None:
    from api.graphproj import _VERSION
    from graph.neo4j_load import MARKER_READ, MARKER_WRITE

    for query in (MARKER_READ, MARKER_WRITE, _VERSION):
        assert re.findall(r"\(m:(\w+) \{id: \$marker_id\}\)", query) == [LOAD_MARKER_LABEL], query


def test_the_guard_sees_a_label_outside_the_contract() -> None:
    assert set(_LABEL.findall("MATCH (u:Usuarios {id: $id})-[:MEMBRO_DE]->(:Anel)")) - LABELS == {"Usuarios"}
