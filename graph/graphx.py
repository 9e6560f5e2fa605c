"""Graph algorithms on Spark's GraphX, called through the JVM bridge built by ``pixring jars``.

GraphFrames' JVM package is not served by the Maven repository this project can reach (see
``docs/stack.md``), so connected components, label propagation and PageRank run on GraphX, which
ships inside pyspark, through ``pixring.graph.GraphXBridge`` (``infra/graphx``). Inputs are a vertex
DataFrame with ``vid: long`` and an edge DataFrame with ``src: long, dst: long``; outputs are
DataFrames keyed by ``vid``.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession


def _bridge(spark: SparkSession):
    return spark._jvm.pixring.graph.GraphXBridge  # noqa: SLF001 - py4j entry point


def _prepare(vertices: DataFrame, edges: DataFrame) -> tuple[DataFrame, DataFrame]:
    return vertices.select(vertices["vid"].cast("long")), edges.select(
        edges["src"].cast("long"), edges["dst"].cast("long")
    )


def connected_components(vertices: DataFrame, edges: DataFrame, max_iter: int = 50) -> DataFrame:
    """Weakly connected components: ``vid, component`` (the smallest vid of the component).

    Edges are treated as undirected; an isolated vertex is its own component.
    """
    spark = vertices.sparkSession
    v, e = _prepare(vertices, edges)
    jdf = _bridge(spark).connectedComponents(spark._jsparkSession, v._jdf, e._jdf, max_iter)  # noqa: SLF001
    return DataFrame(jdf, spark)


def label_propagation(vertices: DataFrame, edges: DataFrame, max_steps: int = 5) -> DataFrame:
    """Label propagation communities: ``vid, label``."""
    spark = vertices.sparkSession
    v, e = _prepare(vertices, edges)
    jdf = _bridge(spark).labelPropagation(spark._jsparkSession, v._jdf, e._jdf, max_steps)  # noqa: SLF001
    return DataFrame(jdf, spark)


def page_rank(vertices: DataFrame, edges: DataFrame, num_iter: int = 10, reset_prob: float = 0.15) -> DataFrame:
    """Static PageRank over directed edges: ``vid, pagerank``."""
    spark = vertices.sparkSession
    v, e = _prepare(vertices, edges)
    jdf = _bridge(spark).pageRank(spark._jsparkSession, v._jdf, e._jdf, num_iter, reset_prob)  # noqa: SLF001
    return DataFrame(jdf, spark)
