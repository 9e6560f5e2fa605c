"""``ModelHolder.predict_soon``: concurrent requests share one model call (pure logic; the model is a fake
rows path, the real one is checked against the pyfunc in tests/gnn/test_train_registry.py)."""

from __future__ import annotations

import asyncio

import pytest

from api.scoring import ModelHolder
from gnn.serving import TX_FEATURES


def _holder(rows_path) -> ModelHolder:
    holder = ModelHolder("http://unused", "m")
    holder.model, holder.predict_rows, holder.version = object(), rows_path, "7"
    return holder


def _feats(v: float) -> dict[str, float]:
    return {c: v for c in TX_FEATURES}


def test_requests_of_one_loop_turn_share_one_call_and_keep_their_own_answer() -> None:
    calls: list[int] = []

    def rows_path(rows):
        calls.append(len(rows))
        return [r[0] / 100 for r in rows]

    holder = _holder(rows_path)

    async def main():
        first = await asyncio.gather(*(holder.predict_soon(_feats(float(i))) for i in range(10)))
        alone = await holder.predict_soon(_feats(42.0))
        return first, alone

    first, alone = asyncio.run(main())
    assert first == [(i / 100, "7") for i in range(10)]
    assert alone == (0.42, "7")
    assert calls == [10, 1]
    assert (holder.batches, holder.batched_rows) == (2, 11)


def test_a_cancelled_request_is_dropped_and_an_error_reaches_every_waiter() -> None:
    seen: list[list[float]] = []

    def rows_path(rows):
        seen.append([r[0] for r in rows])
        if any(r[0] < 0 for r in rows):
            raise ValueError("bad row")
        return [0.5] * len(rows)

    holder = _holder(rows_path)

    async def main():
        gone = asyncio.ensure_future(holder.predict_soon(_feats(1.0)))
        kept = asyncio.ensure_future(holder.predict_soon(_feats(2.0)))
        await asyncio.sleep(0)  # both are waiting; the flush is scheduled
        gone.cancel()
        assert await kept == (0.5, "7")
        results = await asyncio.gather(holder.predict_soon(_feats(-1.0)), holder.predict_soon(_feats(3.0)),
                                       return_exceptions=True)
        return results

    results = asyncio.run(main())
    assert seen[0] == [2.0]  # the cancelled request was not predicted
    assert [type(r) for r in results] == [ValueError, ValueError]


def test_no_model_is_an_error_not_a_hang() -> None:
    holder = ModelHolder("http://unused", "m")
    with pytest.raises(RuntimeError, match="no model"):
        asyncio.run(holder.predict_soon(_feats(1.0)))


def test_a_short_answer_fails_every_waiter_instead_of_leaving_some_hanging() -> None:
    holder = _holder(lambda rows: [0.5])  # one probability whatever the rows

    async def main():
        return await asyncio.wait_for(asyncio.gather(*(holder.predict_soon(_feats(float(i))) for i in range(3)),
                                                     return_exceptions=True), timeout=5)

    results = asyncio.run(main())
    assert [type(r) for r in results] == [RuntimeError] * 3 and "1 probabilities for 3 rows" in str(results[0])


def test_a_loop_stopped_before_its_flush_does_not_block_the_next_one() -> None:
    holder = _holder(lambda rows: [0.25] * len(rows))
    old = asyncio.new_event_loop()
    abandoned = old.create_task(holder.predict_soon(_feats(1.0)))
    old.call_soon(old.stop)  # stops after the task queued its request, before the flush ran
    old.run_forever()
    old.close()
    abandoned._log_destroy_pending = False  # left pending on purpose: no "Task was destroyed" noise
    assert asyncio.run(asyncio.wait_for(holder.predict_soon(_feats(2.0)), timeout=5)) == (0.25, "7")
