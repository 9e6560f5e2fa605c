"""Motifs (DataFrame joins) on small hand-made graphs: one frame with several independent scenarios, each
motif computed once (a handful of Spark actions in all)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from graph import motifs as M
from graph import transforms as T
from pixring.settings import GraphSettings

pytestmark = pytest.mark.spark

T0 = datetime(2026, 10, 5, 14, 0, 0)
P = GraphSettings()
#: one two-hour window: the minutes-to-hours reach the motifs had before the multi-scale windows
FAST = GraphSettings(motif_janelas_h=(2.0,))
DAY = 24 * 60
TX_SCHEMA = ("id_transacao string, timestamp timestamp, valor decimal(15,2), chave_pix_origem string, "
             "chave_pix_destino string, status string, id_usuario_origem string, id_usuario_destino string, "
             "idade_conta_destino_h double, idade_chave_destino_h double, dispositivo_novo boolean")


def _tx(rows: list[tuple[str, str, str, int, float]], age_h: dict[str, float] | None = None) -> list[tuple]:
    """(id, src, dst, minutes after T0, value) -> silver-like rows (keys = 'k' + user)."""
    age_h = age_h or {}
    return [(i, T0 + timedelta(minutes=m), Decimal(f"{v:.2f}"), f"k{s}", f"k{d}", "concluida", s, d,
             age_h.get(d, 50_000.0), age_h.get(d, 50_000.0), False) for i, s, d, m, v in rows]


SCENARIOS = _tx([
    # 3-cycle: a -> b -> c -> a, minutes apart, amount kept
    ("c1", "A1", "B1", 0, 1000.0), ("c2", "B1", "C1", 10, 990.0), ("c3", "C1", "A1", 20, 985.0),
    # chain within the window (b forwards after 15 min) ...
    ("w1", "A2", "B2", 0, 500.0), ("w2", "B2", "C2", 15, 495.0),
    # ... and the same shape 3 hours later: a chain of the 6 h scale, outside a 2 h window
    ("o1", "A3", "B3", 0, 500.0), ("o2", "B3", "C3", 180, 495.0),
    # layering over days: a hop after 3 days (72 h scale) and one after 15 days (past the 14-day window)
    ("s1", "A9", "B9", 0, 700.0), ("s2", "B9", "C9", 3 * DAY, 693.0),
    ("l1", "A10", "B10", 0, 600.0), ("l2", "B10", "C10", 15 * DAY, 594.0),
    # amount not kept: b sends on only half
    ("h1", "A4", "B4", 0, 800.0), ("h2", "B4", "C4", 10, 400.0),
    # batch: three payers, one forward of (nearly) the sum
    ("b1", "P1", "M5", 0, 120.0), ("b2", "P2", "M5", 30, 80.0), ("b3", "P3", "M5", 50, 300.0),
    ("b4", "M5", "C5", 70, 495.0),
    # a busy account: 10,000 in, then 100 in and 99 out - a coincidental chain, not a pass-through account
    ("k1", "Z1", "H8", 0, 10000.0), ("k2", "Z2", "H8", 60, 100.0), ("k3", "H8", "Z3", 70, 99.0),
    # fan-in: four payers into a young account within hours; the same into an old account
    ("f1", "Q1", "Y6", 0, 50.0), ("f2", "Q2", "Y6", 60, 50.0), ("f3", "Q3", "Y6", 120, 50.0), ("f4", "Q4", "Y6", 240, 50.0),
    ("g1", "Q1", "O7", 0, 50.0), ("g2", "Q2", "O7", 60, 50.0), ("g3", "Q3", "O7", 120, 50.0), ("g4", "Q4", "O7", 240, 50.0),
], age_h={"Y6": 24.0 * 5})


@pytest.fixture(scope="module")
def tx(spark):
    df = T.transfers(spark.createDataFrame(SCENARIOS, TX_SCHEMA)).persist()
    yield df
    df.unpersist()


@pytest.fixture(scope="module")
def pairs_df(tx):
    df = M.cadeias(tx, P).persist()
    yield df
    df.unpersist()


@pytest.fixture(scope="module")
def pairs(pairs_df):
    return {(r.a, r.b, r.c) for r in pairs_df.collect()}


def test_chain_within_the_window_is_found_and_outside_it_is_not(pairs) -> None:
    assert ("A2", "B2", "C2") in pairs
    assert not any(b == "B4" for _, b, _ in pairs), "half the amount is not 'amount kept'"


def test_chains_at_every_time_scale_carry_their_window(pairs_df) -> None:
    got = {r.b: r.janela_h for r in pairs_df.collect()}
    assert got["B2"] == 0.25  # 15 min after: the 15 min scale (a window holds delays up to its length)
    assert got["B3"] == 6.0, "a forward 3 h later is a chain of the 6 h scale"
    assert got["B9"] == 72.0, "layering that waits 3 days is found, as a 72 h chain"
    assert "B10" not in got, "15 days is past the largest window (14 days)"


def test_a_single_short_window_misses_the_slow_chains(tx) -> None:
    fast = {r.b for r in M.cadeias(tx, FAST).collect()}
    assert "B2" in fast and "B3" not in fast and "B9" not in fast
    assert {r.janela_h for r in M.cadeias(tx, FAST).collect()} == {2.0}


def test_window_setting_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("PIXRING_GRAPH_MOTIF_JANELAS_H", "[24, 0.5, 24]")
    assert GraphSettings().motif_janelas_h == (0.5, 24.0)
    monkeypatch.setenv("PIXRING_GRAPH_MOTIF_JANELAS_H", "[0, 1]")
    with pytest.raises(ValueError, match="motif_janelas_h"):
        GraphSettings()


def test_three_cycle_is_found_once(pairs_df) -> None:
    cycles = M.ciclos(pairs_df, P).collect()
    assert len(cycles) == 1
    (cyc,) = cycles
    assert cyc.comprimento == 3
    assert cyc.janela_h == 1.0  # the round trip took 20 minutes
    assert set(cyc.usuarios) == {"A1", "B1", "C1"}
    assert sorted(cyc.transacoes) == ["c1", "c2", "c3"]


def test_pass_through_of_a_batch(tx) -> None:
    got = {r.id_transacao: r for r in M.repasses(tx, P).collect()}
    assert "b4" in got, "495 out after 500 in from three payers is a pass-through"
    assert sorted(got["b4"].remetentes) == ["P1", "P2", "P3"]
    assert got["b4"].n_in == 3 and got["b4"].razao == pytest.approx(0.99)
    assert "w2" in got and "c2" in got
    assert "h2" not in got
    assert got["o2"].janela_h == 6.0 and got["s2"].janela_h == 72.0 and "l2" not in got
    assert "o2" not in {r.id_transacao for r in M.repasses(tx, FAST).collect()}


def test_fan_in_only_into_the_young_account(tx) -> None:
    got = {r.id_usuario: r.n_remetentes for r in M.fan_in_jovem(tx, P).collect()}
    assert got == {"Y6": 4}


def test_shared_devices_pairs_and_public_terminals(spark) -> None:
    when = datetime(2026, 9, 1)
    rows = [("D1", "U1", when, 1, 0, 0), ("D1", "U2", when + timedelta(days=1), 1, 0, 2)]
    rows += [("PUB", f"X{i:02d}", when, 0, 1, 0) for i in range(P.disp_max_usuarios + 1)]
    bindings = spark.createDataFrame(
        [(d, u, t, t, r, lg, f) for d, u, t, r, lg, f in rows],
        "id_dispositivo string, id_usuario string, primeiro timestamp, ultimo timestamp, n_registros long, "
        "n_logins long, n_falhas long",
    )
    got = M.dispositivos_compartilhados(bindings, P).collect()
    assert [(r.id_dispositivo, r.u1, r.u2, r.n_falhas) for r in got] == [("D1", "U1", "U2", 2)]
    assert got[0].compartilhado_em == when + timedelta(days=1)


def test_flow_through_ratio_drops_a_busy_accounts_coincidences(tx, pairs_df, pairs) -> None:
    assert ("Z2", "H8", "Z3") in pairs  # the chain shape is there ...
    rep_all = M.repasses(tx, P)
    frac = M.fracao_repassada(tx, rep_all, pairs_df).persist()
    ratios = {r.id_usuario: r.fracao_repassada for r in frac.collect()}
    assert ratios["H8"] == pytest.approx(99 / 10100) and ratios["M5"] == pytest.approx(0.99)
    rep, kept = M.only_pass_through_accounts(rep_all, pairs_df, frac, P)
    assert "H8" not in {r.b for r in kept.collect()}  # ... but H8 keeps most of what it receives
    assert {r.id_usuario for r in rep.collect()} == {"B1", "C1", "B2", "B3", "B9", "M5"}
    frac.unpersist()
