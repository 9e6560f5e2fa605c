"""Pure ``DataFrame -> DataFrame`` (and ``Column -> Column``) transforms of the lakehouse.

``validate`` (rules, quarantine, dedup), ``conform`` (clean and type), ``tokenise`` (HMAC tokens, masks),
``enrich`` (joins), ``features`` (gold), ``reconcile`` (bronze = silver + quarantine + duplicates).
"""
