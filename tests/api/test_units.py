"""Pure parts: key canonicalisation/tokens (same as silver), the read model's indexes, the fund-trace rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from api.pii import canonical_key, key_token
from api.readmodel import build_snapshot
from api.scoring import is_night
from api.trace import trace

T = datetime(2026, 10, 1, 12, 0, 0)


def test_canonical_keys_and_tokens_match_silver_rules() -> None:
    assert canonical_key(" Ana@Exemplo.COM ") == "ana@exemplo.com"
    assert canonical_key("+55 (11) 98765-4321") == "+5511987654321"
    assert canonical_key("123.456.789-09") == "12345678909"
    assert canonical_key("12.345.678/0001-95") == "12345678000195"
    assert canonical_key("7D9F0A2B-1C3E-4F5A-8B6C-0D1E2F3A4B5C") == "7d9f0a2b-1c3e-4f5a-8b6c-0d1e2f3a4b5c"
    secret = SecretStr("s3cret-s3cret")
    tok = key_token("Ana@Exemplo.com", secret)
    assert len(tok) == 64 and tok == key_token("ana@exemplo.com", secret)
    assert key_token(tok, secret) == tok  # a token is passed through
    assert key_token("ana@exemplo.com", SecretStr("other-secret")) != tok


def test_night_is_brasilia_time() -> None:
    assert is_night(datetime(2026, 10, 2, 1, 0))  # 22:00 in Brasília
    assert not is_night(datetime(2026, 10, 1, 15, 0))  # 12:00
    assert is_night(datetime(2026, 10, 1, 8, 30))  # 05:30


def _snap(rows):
    return build_snapshot({"transacoes": [
        {"id_transacao": i, "timestamp": (T + timedelta(minutes=m)).replace(tzinfo=UTC), "valor": v,
         "chave_pix_origem": f"k{a}", "chave_pix_destino": f"k{b}", "id_usuario_origem": a,
         "id_usuario_destino": b, "status": st} for i, a, b, m, v, st in rows]})


def test_trace_splits_across_branches_without_double_counting() -> None:
    snap = _snap([
        ("t1", "v", "m", 0, 1000.0, "concluida"),
        ("t2", "m", "a", 10, 600.0, "concluida"),
        ("t3", "m", "b", 12, 600.0, "concluida"),  # only 400 of it can be the victim's money
        ("t4", "m", "c", 15, 100.0, "rejeitada"),  # rejected: never followed
        ("t5", "a", "z", 30, 200.0, "concluida"),
        ("t6", "a", "z", 3 * 24 * 60, 300.0, "concluida"),  # long after the window: may have drained a
    ])
    res = trace(snap, "t1", window=timedelta(hours=24), max_hops=4, max_accounts=100)
    assert [(h["id_transacao"], h["valor_rastreado"]) for h in res.hops] == [
        ("t1", 1000.0), ("t2", 600.0), ("t3", 400.0), ("t5", 200.0)]
    c = res.contas
    assert c["m"]["retido"] == 0.0 and c["b"]["retido"] == 400.0 and c["z"]["retido"] == 200.0
    assert c["a"]["saiu_sem_rastreio"] == 300.0 and c["a"]["retido"] == 100.0
    assert res.recuperavel == 700.0
    assert trace(snap, "nope", window=timedelta(hours=1), max_hops=2, max_accounts=10) is None
    capped = trace(snap, "t1", window=timedelta(hours=24), max_hops=4, max_accounts=2)
    assert capped.truncado and len(capped.contas) <= 2


def test_read_model_indexes_and_windows() -> None:
    snap = _snap([("t1", "v", "m", 0, 10.0, "concluida"), ("t2", "w", "m", 5, 20.0, "concluida"),
                  ("t3", "w", "m", 50, 30.0, "concluida")])
    t0 = (T - datetime(1970, 1, 1)).total_seconds()
    assert snap.receipts("km") == [(t0, "t1", "kv", 10.0, True), (t0 + 300, "t2", "kw", 20.0, True),
                                   (t0 + 3000, "t3", "kw", 30.0, True)]
    assert snap.receipts("kv") is None
    assert [t.id for t in snap.outgoing_after("w", T, T + timedelta(hours=1))] == ["t2", "t3"]
    assert snap.user_score("m") == 0.0 and snap.ring_risk_of_user("m") == 0.0


def test_graph_stats_buckets_and_chain_depths() -> None:
    from api.readmodel import GraphStats, chain_depths, cumulative

    assert cumulative([1, 2, 2, 9], (1, 2, 4)) == [("1", 1), ("2", 3), ("4", 3), ("+Inf", 4)]
    assert cumulative([], (1,)) == [("1", 0), ("+Inf", 0)]
    # a->b->c and b->c->d link into one chain of 3 hops; x->y->z is another of 2; p->q->p is a cycle
    assert sorted(chain_depths([["a", "b", "c"], ["b", "c", "d"], ["x", "y", "z"], ["p", "q", "p"]])) == [2, 2, 3]
    raw = {
        "graph_vertices": [{"tipo": "usuario", "grau_in": 1, "grau_out": 0}, {"tipo": "usuario", "grau_in": 3,
                                                                            "grau_out": 3},
                           {"tipo": "chave", "grau_in": None, "grau_out": 2}],
        "communities": [{"tamanho": 3}, {"tamanho": 12}],
        "graph_motifs": [{"motivo": "cadeia", "usuarios": ["a", "b", "c"]}, {"motivo": "repasse", "usuarios": ["a", "b"]}],
        "graph_builds": [{"built_at": datetime(2026, 1, 1)}, {"built_at": datetime(2026, 1, 2)}],
    }
    g = GraphStats.of(raw, n_rings=1)
    assert dict(g.degree["usuario"])["1"] == 1 and dict(g.degree["usuario"])["8"] == 2
    assert dict(g.degree["chave"])["2"] == 1
    assert dict(g.community_size)["5"] == 1 and dict(g.community_size)["+Inf"] == 2
    assert dict(g.chain_depth)["2"] == 1 and g.communities == 2 and g.ring_candidates == 1
    assert g.built_at == datetime(2026, 1, 2, tzinfo=UTC).timestamp()
    assert GraphStats.of({}, 0).built_at is None


# --- the JWT revocation list (a real file) -------------------------------------------------------------------

def test_revocation_list_prunes_only_entries_past_every_token_lifetime(tmp_path) -> None:
    from api.security import RevocationList

    path = tmp_path / "auth" / "revoked-jti"
    rl = RevocationList(path, keep_s=100.0)
    assert not rl.is_revoked("a" * 32)  # no file: nothing revoked
    assert rl.revoke("a" * 32, now=1000.0) and not rl.revoke("a" * 32, now=1001.0)
    assert rl.is_revoked("a" * 32) and not rl.is_revoked("b" * 32)
    rl.revoke("b" * 32, now=1099.0)  # "a" (revoked at 1000) is still within 100 s: kept
    assert RevocationList(path, 100.0).is_revoked("a" * 32)
    rl.revoke("c" * 32, now=1101.0)  # now it is older than any token with its id: dropped
    fresh = RevocationList(path, 100.0)
    assert not fresh.is_revoked("a" * 32) and fresh.is_revoked("b" * 32) and fresh.is_revoked("c" * 32)
    assert path.stat().st_mode & 0o777 == 0o600


def test_revocation_list_refuses_a_malformed_id(tmp_path) -> None:
    from api.security import RevocationList
    from pixring.errors import PixringError

    with pytest.raises(PixringError):
        RevocationList(tmp_path / "r", 10.0).revoke("a b\nc")


def test_a_revoked_jwt_is_refused_and_others_are_not(tmp_path) -> None:
    import jwt as pyjwt

    from api.security import Authenticator, AuthError, RevocationList, mint_token, token_id
    from pixring.settings import ApiSettings

    api = ApiSettings()
    rl = RevocationList(tmp_path / "r", 3600.0)
    auth = Authenticator(api, local=False, revoked=rl)
    t1, t2 = (mint_token(api, "ana@banco", "investigator", 1) for _ in range(2))
    assert auth.authenticate(f"Bearer {t1}", "r").subject == "ana@banco"
    assert token_id(api, t1) == pyjwt.decode(t1, options={"verify_signature": False})["jti"]
    rl.revoke(token_id(api, t1))
    with pytest.raises(AuthError, match="revoked"):
        auth.authenticate(f"Bearer {t1}", "r")
    assert auth.authenticate(f"Bearer {t2}", "r").role == "investigator"
