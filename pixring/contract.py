"""The input contract shared by every stage: what an id looks like (and, as the house issue moves them
here, the files' columns, enums, the night rule, the money type, the time zone, the Kafka message and
the Neo4j model).

This module imports no stage (datagen, lakehouse, graph, gnn, streaming, api): every stage imports it.

Ids
---
A bank's extract carries its own ids, so the contract does not require the generator's prefixes
(``TX0000000001``, ``U00000001``): an id is *opaque*, 1 to :data:`ID_MAX_LEN` characters of
:data:`ID_CHARS`, starting with a letter or digit. A real Pix end-to-end id (``E`` + the payer PSP's
8-digit ISPB + ``yyyyMMddHHmm`` + 11 alphanumerics, 32 characters, :data:`E2E_ID_RE`) is one such id.
Quotes, backslashes, spaces and control characters are never part of an id.
"""

from __future__ import annotations

import re
from typing import Final

#: Longest id accepted (a Pix E2E id is 32 characters; bank customer ids are shorter).
ID_MAX_LEN: Final[int] = 64
#: Characters an id may hold (after the first, which is a letter or a digit).
ID_CHARS: Final[str] = "A-Za-z0-9._:-"
#: The id rule, as a regular expression usable by Python ``re`` and Spark ``rlike`` alike.
ID_RE: Final[str] = rf"^[A-Za-z0-9][{ID_CHARS}]{{0,{ID_MAX_LEN - 1}}}$"
#: A Pix end-to-end id (``id_transacao`` of a real extract): E + ISPB(8) + yyyyMMddHHmm + 11 alphanumerics.
E2E_ID_RE: Final[str] = r"^E[0-9]{8}[0-9]{12}[A-Za-z0-9]{11}$"

_ID = re.compile(ID_RE)
_E2E = re.compile(E2E_ID_RE)


def is_valid_id(value: object) -> bool:
    """True when ``value`` is a string that satisfies :data:`ID_RE`."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def is_e2e_id(value: object) -> bool:
    """True when ``value`` is a well-formed Pix end-to-end id (:data:`E2E_ID_RE`)."""
    return isinstance(value, str) and _E2E.fullmatch(value) is not None
