"""Investigator dispositions as labels: confirmed -> positive, dismissed -> negative, each from its date; a
disposition dated at or after the cut never reaches training; the MLflow run records the count."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pandas as pd
import pytest
import torch

from gnn.data import USER, build_graph, cutoff, make_split, mule_labels
from gnn.train import ring_peer_mask
from tests.gnn.world import make_world


def _events(rows: list[tuple[str, list[str], pd.Timestamp]]) -> pd.DataFrame:
    return pd.DataFrame([{"id_caso": f"CS-{i}", "evento": ev, "usuarios": us, "em": em}
                         for i, (ev, us, em) in enumerate(rows)])


def _idx(bundle, ids) -> list[int]:
    return [int(i) for i in bundle.index_of(USER, list(ids))]


def test_dispositions_label_by_date_without_leakage(world) -> None:
    frames = world.frames
    cut = cutoff(frames, 0.7)
    before, after = cut - pd.Timedelta(days=1), cut + pd.Timedelta(hours=1)
    never_claimed = world.rings[7]  # no MED claim ever: only the investigator knows
    claimed_early = world.rings[0][0]  # a MED positive before the cut, dismissed by an investigator
    late = world.rings[6]
    casos = _events([
        ("aberto", never_claimed, before - pd.Timedelta(days=1)),
        ("mula_confirmada", never_claimed, before),
        ("descartado", [claimed_early], before),
        ("precisa_informacao", [world.ordinary[0]], before),  # no label
        ("mula_confirmada", [world.ordinary[1]], after),  # after the cut: evaluation's later view only
        ("descartado", late[:1], after),
    ])
    f2 = replace(frames, casos=casos)
    bundle, _ = build_graph(f2)
    base = make_split(frames, bundle, 0.7)
    split = make_split(f2, bundle, 0.7)
    assert split.cut == base.cut  # the claims alone set the cut

    y = split.y_train
    assert all(y[i] == 1 for i in _idx(bundle, never_claimed))
    assert all(base.y_train[i] == 0 for i in _idx(bundle, never_claimed))
    (ce,) = _idx(bundle, [claimed_early])
    assert base.y_train[ce] == 1 and y[ce] == 0 and split.known_negative[ce]
    (o0, o1) = _idx(bundle, world.ordinary[:2])
    assert y[o0] == 0 and not split.known_negative[o0]
    assert y[o1] == 0  # confirmed after the cut: never trained on ...
    assert split.test_mask[o1] and split.y_test[o1] == 1  # ... but a later positive, like a late MED claim
    assert split.n_investigator_pos == len(never_claimed) and split.n_investigator_neg == 1
    assert split.n_investigator_labels == len(never_claimed) + 1 and split.n_investigator_after_cut == 2
    # nothing training labelled is evaluated on
    assert not bool(((y == 1) | split.known_negative)[split.test_mask].any())
    # the latest word of an investigator (after the cut) removes a later MED positive from the evaluation
    (l0,) = _idx(bundle, late[:1])
    assert base.y_test[l0] == 1 and split.y_test[l0] == 0
    # a dismissed ring peer of a positive stays in the loss as a negative
    mask = ring_peer_mask(bundle, f2.ring_candidates, y) | split.known_negative
    assert bool(mask[ce])
    labels = mule_labels(f2)
    assert set(never_claimed) <= set(labels["id_usuario"])


def _shift(frames, delta: pd.Timedelta):
    """The same world ``delta`` later (every datetime column moved)."""
    out = {}
    for name in ("graph_vertices", "graph_edges", "graph_features", "features_usuario", "features_chave",
                 "ring_candidates", "fraudes", "transacoes_pix"):
        df = getattr(frames, name).copy()
        for c in df.columns:
            if pd.api.types.is_datetime64_any_dtype(df[c]):
                df[c] = df[c] + delta
        out[name] = df
    return replace(frames, **out)


@pytest.mark.spark
@pytest.mark.mlflow
@pytest.mark.slow
def test_a_confirmed_case_is_a_label_of_the_next_training(spark, gnn_settings, mlflow_uri) -> None:
    """A case opened and confirmed through the API's store (real Delta gold ``cases``) today is read by
    ``read_frames`` and trained on (the world runs past today, so the cut is later); one dated after the cut is not."""
    from mlflow import MlflowClient

    from api.cases import CaseStore
    from gnn import tracking
    from gnn.data import read_frames
    from gnn.train import TrainConfig, run_training
    from tests.gnn.world import write_delta

    unique = uuid.uuid4().hex[:8]
    w = make_world(f"L{unique}")
    now = pd.Timestamp(datetime.now(UTC)).tz_convert("America/Sao_Paulo").tz_localize(None)
    frames = _shift(w.frames, now - cutoff(w.frames, 0.7) + pd.Timedelta(days=2))
    write_delta(spark, gnn_settings, frames)
    store = CaseStore(gnn_settings.paths.lakehouse)
    ring = w.rings[7]
    store.append(id_caso="CS-A", tipo="anel", id_alvo=f"L{unique}CM7", evento="aberto", usuarios=ring,
                 notas="suspeita", por="ana")
    store.append(id_caso="CS-A", tipo="anel", id_alvo=f"L{unique}CM7", evento="mula_confirmada", usuarios=ring,
                 notas=None, por="ana")
    store.append(id_caso="CS-B", tipo="usuario", id_alvo=w.ordinary[3], evento="descartado",
                 usuarios=[w.ordinary[3]], notas=None, por="ana")
    late = datetime.now(UTC) + pd.Timedelta(days=30)
    store.append(id_caso="CS-C", tipo="usuario", id_alvo=w.ordinary[4], evento="mula_confirmada",
                 usuarios=[w.ordinary[4]], notas=None, por="ana", em=late)
    assert [e.evento for e in store.case("CS-A")] == ["aberto", "mula_confirmada"]

    read = read_frames(spark, gnn_settings)
    assert len(read.casos) == 4 and "notas" not in read.casos.columns
    name = f"pixring-test-labels-{unique}"
    try:
        res = run_training(None, gnn_settings, TrainConfig(epochs=5, hidden=8, threads=1), model_name=name,
                           frames=read)
        s = res.scores.set_index("id_usuario")
        assert (s.loc[ring, "y_train"] == 1).all()  # confirmed: positives of this training
        assert s.loc[w.ordinary[3], "y_train"] == 0 and s.loc[w.ordinary[3], "in_test"] == 0  # dismissed: negative
        assert s.loc[w.ordinary[4], "y_train"] == 0  # dated after the cut: not trained on
        assert res.split.n_investigator_labels == len(ring) + 1 and res.split.n_investigator_after_cut == 1
        run = MlflowClient(tracking_uri=mlflow_uri).get_run(res.run_id)
        assert run.data.metrics["n_investigator_labels"] == len(ring) + 1
        assert run.data.params["investigator_labels"] == str(len(ring) + 1)
    finally:
        tracking.delete_model(gnn_settings, name)
    assert torch.is_tensor(res.split.known_negative)
