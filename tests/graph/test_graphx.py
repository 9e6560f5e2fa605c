"""GraphX algorithms through the JVM bridge, on tiny hand-made graphs."""

from __future__ import annotations

import pytest

from graph.graphx import connected_components, label_propagation, page_rank

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def toy(spark):
    # two triangles joined by nothing, plus an isolated vertex 9
    v = spark.createDataFrame([(i,) for i in (1, 2, 3, 4, 5, 6, 9)], "vid long")
    e = spark.createDataFrame([(1, 2), (2, 3), (3, 1), (4, 5), (5, 6), (6, 4)], "src long, dst long")
    return v, e


def test_connected_components_on_a_tiny_graph(toy) -> None:
    got = {r.vid: r.component for r in connected_components(*toy).collect()}
    assert got == {1: 1, 2: 1, 3: 1, 4: 4, 5: 4, 6: 4, 9: 9}


def test_label_propagation_keeps_the_triangles_apart(toy) -> None:
    got = {r.vid: r.label for r in label_propagation(*toy).collect()}
    assert len({got[1], got[2], got[3]}) == 1
    assert len({got[4], got[5], got[6]}) == 1
    assert got[1] != got[4]


def test_page_rank_favours_the_sink(spark) -> None:
    v = spark.createDataFrame([(i,) for i in range(1, 6)], "vid long")
    e = spark.createDataFrame([(i, 5) for i in range(1, 5)], "src long, dst long")  # fan-in to 5
    ranks = {r.vid: r.pagerank for r in page_rank(v, e).collect()}
    assert max(ranks, key=ranks.get) == 5
    assert ranks[5] > 2 * ranks[1]
