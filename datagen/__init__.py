"""pixring datagen: the seven synthetic Pix data sets of the seed, with planted fraud rings.

Entry point: :func:`datagen.generator.generate` (CLI: ``pixring datagen``). The data contract
(file names, columns, enum values, rules) is in :mod:`datagen.schema`; see ``docs/datagen.md``.
"""
