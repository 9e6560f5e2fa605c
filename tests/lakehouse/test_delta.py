"""lakehouse.delta.set_properties: the one SQL text of the Delta helpers is made of allow-listed constants and a
checked path, so no datum reaches it; the real ALTER TABLE changes the table."""

from __future__ import annotations

import pytest

from lakehouse import delta

TABLE = "/data/home/lakehouse/bronze/usuarios"


def test_the_statement_is_made_of_the_allow_listed_property_and_the_quoted_path() -> None:
    assert delta.set_properties_statement(TABLE, {"delta.appendOnly": "true"}) == (
        "ALTER TABLE delta.`/data/home/lakehouse/bronze/usuarios` SET TBLPROPERTIES ('delta.appendOnly' = 'true')")


@pytest.mark.parametrize("properties", [
    {"delta.appendOnly": "true') , ('delta.logRetentionDuration' = 'interval 0 hours"},  # a hostile value
    {"delta.appendOnly": "TRUE"},  # not one of the allowed values (exact constants only)
    {"delta.appendOnly' = 'false'); DROP TABLE x; --": "true"},  # a hostile key
    {"delta.logRetentionDuration": "interval 1 hours"},  # a real property, but not one a job may change
    {},
])
def test_a_key_or_value_outside_the_allow_list_is_refused(properties) -> None:
    with pytest.raises(ValueError):
        delta.set_properties_statement(TABLE, properties)


@pytest.mark.parametrize("path", [
    "lakehouse/bronze/usuarios",  # relative: not a data-root path from settings (they are resolved)
    "/x/t` SET TBLPROPERTIES ('a' = 'b')\n--",  # a newline (and the comment it would open)
    "/x/t\x00",
    "/x/t` SET TBLPROPERTIES ('delta.appendOnly' = 'false') --",  # a back-quote would close the identifier
    "s3a://bucket/t",
])
def test_a_path_that_is_not_an_absolute_local_path_is_refused(path) -> None:
    with pytest.raises(ValueError, match="not an absolute local table path"):
        delta.set_properties_statement(path, {"delta.appendOnly": "true"})


@pytest.mark.spark
def test_set_properties_changes_the_real_table(spark, tmp_path) -> None:
    from delta.tables import DeltaTable
    from pyspark.sql.types import LongType, StructField, StructType

    path = str(tmp_path / "bronze t")
    delta.ensure_table(spark, path, StructType([StructField("id", LongType())]))
    delta.set_properties(spark, path, {"delta.appendOnly": "true"})
    props = DeltaTable.forPath(spark, path).detail().first()["properties"]
    assert props.get("delta.appendOnly") == "true", props
    delta.set_properties(spark, path, {"delta.appendOnly": "false"})
    assert DeltaTable.forPath(spark, path).detail().first()["properties"].get("delta.appendOnly") == "false"
