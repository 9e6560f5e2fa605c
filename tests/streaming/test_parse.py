"""Pure logic: the hostile records a producer can send, and the DLQ record each one becomes (no services)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

import pytest

from pixring.contract import is_valid_id
from streaming.parse import Tx, parse_record
from streaming.schemas import DLQ_REASONS
from streaming.scorer import dlq_message

NOW = datetime(2026, 12, 3, 15, 0, 0)

HOSTILE_IDS = ["TX1\\", "O'Brien", "' OR true --", "TX1' OR '1'='1", "TX 1", "TX1\n", "\nTX1", "TX1\u2028",
               "TX1;DROP", "TX\"1", "TX1`", "-TX1", ".TX1", "TX1\x00", "TXé1", "x" * 65, "TX1)", "TX1%"]


def _doc(**over) -> dict:
    d = {"schema_version": 1, "id_transacao": "TX1", "timestamp": "2026-12-03T14:59:00", "valor": 10.5,
         "chave_pix_origem": "+55 (11) 98765-4321", "chave_pix_destino": "529.982.247-25",
         "tipo_transacao": "transferencia_p2p", "status": "concluida"}
    d.update(over)
    return d


def _bytes(**over) -> bytes:
    return json.dumps(_doc(**over)).encode()


@pytest.mark.parametrize("bad_id", HOSTILE_IDS)
def test_an_id_outside_the_contract_rule_is_refused_before_any_sink(bad_id) -> None:
    assert not is_valid_id(bad_id)
    assert parse_record(_bytes(id_transacao=bad_id), not_after=NOW) == "id_invalido:id_transacao"


@pytest.mark.parametrize("good_id", ["TX0000000001", "E12345678202612031500abcdefGHIJK", "a", "9:x.y-z_1",
                                     "A" * 64])
def test_ids_of_the_contract_are_accepted(good_id) -> None:
    tx = parse_record(_bytes(id_transacao=good_id), not_after=NOW)
    assert isinstance(tx, Tx) and tx.id_transacao == good_id


def test_a_timestamp_past_the_clock_tolerance_is_refused_and_the_bound_is_inclusive() -> None:
    bound = NOW + timedelta(minutes=5)
    assert parse_record(_bytes(timestamp="2099-01-01T00:00:00"), not_after=bound) == "timestamp_futuro:timestamp"
    assert parse_record(_bytes(timestamp="2026-12-03T15:05:01"), not_after=bound) == "timestamp_futuro:timestamp"
    assert isinstance(parse_record(_bytes(timestamp="2026-12-03T15:05:00"), not_after=bound), Tx)
    assert isinstance(parse_record(_bytes(timestamp="2099-01-01T00:00:00")), Tx)  # no clock given: no bound


@pytest.mark.parametrize(("value", "reason"), [
    (b'{"schema_version": 1, "id_transacao": "TX1", "valor": NaN}', "json_invalido"),
    (_bytes().replace(b"10.5", b"NaN"), "json_invalido"),
    (_bytes().replace(b"10.5", b"Infinity"), "json_invalido"),
    (_bytes().replace(b"10.5", b"1e400"), "json_invalido"),  # a number past a double: not a value
    (b"{not json", "json_invalido"),
    (b"\x00\x01\x02", "json_invalido"),
    (json.dumps(_doc(status="conclu\u00edda"), ensure_ascii=False).encode("latin-1"), "utf8_invalido"),
    (b"\xff\xfe\x00garbage", "utf8_invalido"),
    (b"\xc3(", "utf8_invalido"),
    (b"[" * 2_000, "json_invalido"),  # nesting deeper than the parser allows
    (json.dumps({**_doc(), "pad": "x" * 1_000_000}).encode(), "mensagem_grande"),
])
def test_hostile_values_get_a_reason_and_never_raise(value, reason) -> None:
    assert parse_record(value, not_after=NOW) == reason
    assert reason.split(":")[0] in DLQ_REASONS


def test_the_size_limit_is_a_parameter() -> None:
    value = _bytes()
    assert isinstance(parse_record(value, max_bytes=len(value)), Tx)
    assert parse_record(value, max_bytes=len(value) - 1) == "mensagem_grande"


def test_a_dlq_record_keeps_the_bytes_and_cuts_an_oversized_value_with_its_size_and_digest() -> None:
    at = datetime(2026, 12, 3, 15, 0, 0)
    key, value, headers = dlq_message(b"k", b"{not json", "json_invalido", "pix.transacoes/0/7", at, 1024)
    assert (key, value) == (b"k", b"{not json")
    assert dict(headers) == {"pixring.motivo": b"json_invalido", "pixring.origem": b"pix.transacoes/0/7",
                             "pixring.recebido_em": b"2026-12-03T15:00:00"}

    big = b"{" + b"x" * 1_000_000
    key, value, headers = dlq_message(b"y" * 5000, big, "mensagem_grande", "t/1/2", at, 1024)
    h = dict(headers)
    assert value == big[:1024] and key == b"y" * 1024
    assert h["pixring.tamanho"] == b"1000001" and h["pixring.tamanho_chave"] == b"5000"
    assert h["pixring.sha256"] == hashlib.sha256(big).hexdigest().encode()
    assert h["pixring.motivo"] == b"mensagem_grande"
    assert dlq_message(None, None, "valor_vazio", "t/0/0", at, 1024)[:2] == (None, None)
