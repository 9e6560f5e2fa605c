"""pixring lakehouse: Delta Lake medallion (bronze -> silver -> gold) on Spark.

Job modules (:mod:`lakehouse.ingest`, :mod:`lakehouse.refine`, :mod:`lakehouse.erase`,
:mod:`lakehouse.producer`) only read, call pure transforms (:mod:`lakehouse.transforms`) and write.
Table schemas live once in :mod:`lakehouse.schemas`, table paths come from :mod:`lakehouse.paths`.
See ``docs/lakehouse.md``.
"""
