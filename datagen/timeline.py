"""Time in the generator: the window, the Brazilian calendar (holidays, paydays) and daily/hourly profiles.

All instants are ``int64`` seconds since ``1970-01-01T00:00:00`` of *local* wall-clock time
(America/Sao_Paulo, which has had no daylight saving time since 2019), so arithmetic is plain integer
arithmetic and formatting is ``numpy.datetime64`` without any time-zone conversion.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from datagen.schema import DICT_START, REFERENCE_DATE, WINDOW_DAYS
from pixring.contract import is_night_hour

DAY = 86_400
HOUR = 3_600
MINUTE = 60

_EPOCH = dt.date(1970, 1, 1)


def date_to_s(d: dt.date) -> int:
    """Midnight of ``d`` in local epoch seconds."""
    return (d - _EPOCH).days * DAY


REF_DATE = dt.date.fromisoformat(REFERENCE_DATE)
#: First second of the window and first second after it (exclusive).
WINDOW_END = date_to_s(REF_DATE) + DAY
WINDOW_START = WINDOW_END - WINDOW_DAYS * DAY
#: Last representable instant of the snapshot, 23:59:59 of the reference date.
REF_END = WINDOW_END - 1
DICT_START_S = date_to_s(dt.date.fromisoformat(DICT_START))
PIX_LAUNCH_S = date_to_s(dt.date(2020, 11, 16))

#: National holidays (fixed and Easter-based) for the years the window may touch.
HOLIDAYS: frozenset[dt.date] = frozenset(
    dt.date.fromisoformat(s)
    for s in (
        "2026-01-01", "2026-02-16", "2026-02-17", "2026-04-03", "2026-04-21", "2026-05-01",
        "2026-06-04", "2026-09-07", "2026-10-12", "2026-11-02", "2026-11-15", "2026-11-20",
        "2026-12-25",
    )
)


def is_business_day(d: dt.date) -> bool:
    return d.weekday() < 5 and d not in HOLIDAYS


def nth_business_day(year: int, month: int, n: int) -> dt.date:
    d = dt.date(year, month, 1)
    count = 0
    while True:
        if is_business_day(d):
            count += 1
            if count == n:
                return d
        d += dt.timedelta(days=1)


def last_business_day(year: int, month: int) -> dt.date:
    d = (dt.date(year + (month == 12), month % 12 + 1, 1)) - dt.timedelta(days=1)
    while not is_business_day(d):
        d -= dt.timedelta(days=1)
    return d


def previous_business_day_on_or_before(d: dt.date) -> dt.date:
    while not is_business_day(d):
        d -= dt.timedelta(days=1)
    return d


def window_days() -> list[dt.date]:
    """The calendar days of the window, oldest first."""
    first = REF_DATE - dt.timedelta(days=WINDOW_DAYS - 1)
    return [first + dt.timedelta(days=i) for i in range(WINDOW_DAYS)]


def paydays() -> dict[dt.date, float]:
    """Salary days touching the window -> strength: 5th business day (salary, strongest), the 20th
    (``adiantamento``/vale, moved back to the previous business day) and the last business day."""
    out: dict[dt.date, float] = {}
    months = sorted({(d.year, d.month) for d in window_days()})
    for y, m in months:
        out[nth_business_day(y, m, 5)] = 1.0
        out[previous_business_day_on_or_before(dt.date(y, m, 20))] = 0.45
        out.setdefault(last_business_day(y, m), 0.35)
    return out


_WEEKDAY_FACTOR = (1.00, 0.97, 0.98, 1.02, 1.18, 0.92, 0.70)  # Mon..Sun


def day_weights() -> np.ndarray:
    """Relative transaction volume of each window day: weekday profile, holidays, payday peaks."""
    pays = paydays()
    w = []
    for d in window_days():
        f = _WEEKDAY_FACTOR[d.weekday()]
        if d in HOLIDAYS:
            f = 0.72
        f *= 1.0 + 0.45 * pays.get(d, 0.0)
        nxt = d - dt.timedelta(days=1)
        f *= 1.0 + 0.15 * pays.get(nxt, 0.0)  # spending spills over to the next day
        w.append(f)
    arr = np.array(w, dtype=float)
    return arr / arr.sum()


def payday_strength() -> np.ndarray:
    """Payday strength (0..1) of each window day, for the company-to-person share."""
    pays = paydays()
    return np.array([pays.get(d, 0.0) for d in window_days()], dtype=float)


def is_weekend_like(d: dt.date) -> bool:
    return d.weekday() >= 5 or d in HOLIDAYS


# Hour-of-day profiles (relative weights for hours 0..23).
_H = {
    "pessoa_util": [0.35, 0.2, 0.12, 0.08, 0.08, 0.15, 0.45, 0.95, 1.5, 1.9, 2.1, 2.3, 2.6, 2.3, 2.1, 2.1,
                    2.2, 2.4, 2.7, 2.8, 2.5, 2.0, 1.4, 0.8],
    "pessoa_fds": [0.6, 0.4, 0.25, 0.15, 0.1, 0.1, 0.2, 0.45, 0.9, 1.4, 1.9, 2.2, 2.5, 2.3, 2.0, 1.9,
                   1.9, 2.0, 2.3, 2.5, 2.5, 2.2, 1.7, 1.1],
    "comercio": [0.2, 0.1, 0.05, 0.03, 0.03, 0.08, 0.4, 1.1, 1.6, 1.7, 1.8, 2.4, 3.0, 2.6, 1.8, 1.7,
                 1.8, 2.1, 2.6, 2.9, 2.6, 2.0, 1.2, 0.6],
    "empresa": [0.02, 0.01, 0.01, 0.01, 0.01, 0.03, 0.2, 0.9, 2.2, 3.0, 3.1, 2.7, 1.6, 2.0, 2.6, 2.6,
                2.4, 1.9, 1.0, 0.5, 0.25, 0.12, 0.06, 0.03],
}
HOUR_PROFILES: dict[str, np.ndarray] = {k: np.array(v) / np.sum(v) for k, v in _H.items()}


def sample_times(rng: np.random.Generator, day_start: int, n: int, profile: str) -> np.ndarray:
    """``n`` instants within the day starting at ``day_start`` following an hour-of-day profile."""
    hours = rng.choice(24, size=n, p=HOUR_PROFILES[profile])
    secs = rng.integers(0, HOUR, size=n)
    return day_start + hours * HOUR + secs


def hour_of(ts: np.ndarray) -> np.ndarray:
    return (ts % DAY) // HOUR


def is_night(ts: np.ndarray) -> np.ndarray:
    """Night period 20:00-06:00 (BCB night-limit rule)."""
    return is_night_hour(hour_of(ts))


def night_id(ts: np.ndarray) -> np.ndarray:
    """An id of the night period containing ``ts`` (the day index of its 20:00 start)."""
    return (ts - 20 * HOUR) // DAY


def to_iso(ts: np.ndarray) -> np.ndarray:
    """int64 local epoch seconds -> ``YYYY-MM-DDTHH:MM:SS`` strings."""
    return np.datetime_as_string(np.asarray(ts, dtype=np.int64).astype("datetime64[s]"), unit="s")


def from_iso(text: str) -> int:
    """``YYYY-MM-DDTHH:MM:SS`` -> local epoch seconds."""
    return int(np.datetime64(text, "s").astype(np.int64))
