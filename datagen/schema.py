"""What only the generator knows: its id forms, the generation window, difficulties and formats.

The data contract of the files (names, columns, types, enums, the Pix rules, the truth files) is
:mod:`pixring.contract`, shared by every stage; nothing here repeats it. A bank's extract follows the
contract, not the forms below (ids are opaque there).

Conventions of the generated files (also in ``docs/datagen.md``):

* timestamps are ISO-8601 ``YYYY-MM-DDTHH:MM:SS``, local time ``America/Sao_Paulo`` (no offset, no DST
  since 2019); in Parquet they are ``timestamp[s]`` without a time zone;
* money columns carry two decimals (CSV ``1234.50``; Parquet ``decimal128(18, 2)``, the contract's
  money type);
* ``cpf_cnpj`` and the CPF/CNPJ keys are digits only (11 or 14 characters, leading zeros kept: read
  them as strings);
* ids are strings with stable prefixes (:data:`ID_PREFIX`).
"""

from __future__ import annotations

from typing import Final

# ------------------------------------------------------------------------------------------- ids
#: Prefix of every natural id; the rest is a zero-padded sequence number.
ID_PREFIX: Final[dict[str, str]] = {
    "id_transacao": "TX",
    "id_usuario": "U",
    "id_dispositivo": "D",
    "id_log": "L",
    "id_fraude": "F",
    "id_ring": "R",
}
ID_WIDTH: Final[dict[str, int]] = {
    "id_transacao": 10,
    "id_usuario": 8,
    "id_dispositivo": 8,
    "id_log": 10,
    "id_fraude": 8,
    "id_ring": 5,
}

#: The MED claim type a victim of each typology files.
TIPOLOGIA_TIPO_FRAUDE: Final[dict[str, str]] = {
    "coleta_fan_in": "golpe_venda_falsa",
    "camadas": "engenharia_social",
    "ciclo": "golpe_investimento",
    "invasao_conta": "invasao_conta",
    "sequestro_relampago": "sequestro_relampago",
    "falso_parente": "golpe_falso_parente",
}

#: Generation window: ``WINDOW_DAYS`` days ending at the reference date (inclusive, local time).
REFERENCE_DATE: Final[str] = "2026-10-31"
WINDOW_DAYS: Final[int] = 56
#: Pix launch dates: DICT key registration opened 2020-10-05; payments from 2020-11-16.
DICT_START: Final[str] = "2020-10-05"

#: ``diverse`` mixes every typology (Pix scams and AML laundering structures) with legitimate look-alikes.
DIFFICULTIES: Final[tuple[str, ...]] = ("easy", "normal", "hard", "diverse")
FORMATS: Final[tuple[str, ...]] = ("csv", "parquet")
