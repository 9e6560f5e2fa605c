"""pixring datagen: the seven synthetic Pix data sets of the seed, with planted fraud rings.

Entry point: :func:`datagen.generator.generate` (CLI: ``pixring datagen``). The data contract
(file names, columns, enum values, rules) is in :mod:`pixring.contract`; see ``docs/datagen.md``.
"""
