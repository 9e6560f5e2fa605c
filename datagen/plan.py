"""What to generate: row counts per file for a scale, and the camouflage knobs of each difficulty."""

from __future__ import annotations

import math
from dataclasses import dataclass

from pixring.errors import PixringError

from datagen.schema import DIFFICULTIES, FORMATS
from pixring.contract import FILES, TIPOLOGIA

#: Row counts of the seed (§10) at scale 1.0.
SEED_COUNTS: dict[str, int] = {
    "transacoes_pix": 50_000,
    "chaves_pix": 25_000,
    "usuarios": 20_000,
    "dispositivos": 30_000,
    "fraudes": 1_000,
    "limites_transacoes": 20_000,
    "log_autenticacao": 100_000,
}
#: Fraudulent transactions at scale 1.0 (0.5 % of the transactions).
SEED_FRAUD_TX = 250

#: Below this scale there are too few users to plant a ring; above it a run would take hours.
MIN_SCALE = 0.01
MAX_SCALE = 1000.0


def validate_scale(scale: float) -> float:
    """Return ``scale`` as a float or raise :class:`PixringError`."""
    if isinstance(scale, bool) or not isinstance(scale, (int, float)):
        raise PixringError(f"scale must be a number, got {scale!r}")
    s = float(scale)
    if not math.isfinite(s) or s <= 0:
        raise PixringError(f"scale must be a positive number, got {scale!r}")
    if s < MIN_SCALE:
        raise PixringError(f"scale {scale!r} is too small: the minimum is {MIN_SCALE} "
                           f"(about {round(SEED_COUNTS['usuarios'] * MIN_SCALE)} users)")
    if s > MAX_SCALE:
        raise PixringError(f"scale {scale!r} is too large: the maximum is {MAX_SCALE:g}")
    return s


def plan_counts(scale: float) -> dict[str, int]:
    """Rows per data set at ``scale``: ``round(seed_count * scale)``; exactly the seed's at 1.0.

    Besides the seven files, ``transacoes_fraudulentas`` is the number of planted fraudulent
    transactions (part of ``transacoes_pix``, not extra rows).
    """
    s = validate_scale(scale)
    counts = {name: int(round(SEED_COUNTS[name] * s)) for name in FILES}
    counts["limites_transacoes"] = counts["usuarios"]  # one per user, by definition
    counts["transacoes_fraudulentas"] = int(round(SEED_FRAUD_TX * s))
    return counts


def validate_choice(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise PixringError(f"unknown {what} {value!r}: choose one of {', '.join(allowed)}")
    return value


@dataclass(frozen=True)
class Difficulty:
    """Camouflage knobs. Higher difficulty = legitimate users look more like mules and vice versa,
    while the ring structure (fan-in, fast forwarding, shared devices, cycles) stays in the data."""

    name: str
    #: share of mules that are old "rented" accounts rather than freshly opened ones
    mule_rented_frac: float
    #: ordinary (legitimate-looking) activity of mules relative to an average user, 0 = dormant
    mule_background: float
    #: share of legitimate users whose account was opened in the ~10 weeks before the window end
    new_account_frac: float
    #: share of those new legitimate accounts that are busy receivers (new small merchants / sellers)
    new_popular_frac: float
    #: share of individuals living in a household that shares a device
    household_frac: float
    #: probability that a ring operates its mule accounts from shared device(s)
    ring_device_share: float
    #: share of legitimate users registering a new device during the window
    legit_new_device_frac: float
    #: share of legitimate individuals who sell informally (receive many small QR payments)
    informal_seller_frac: float
    #: share of legitimate users who changed their limits (including shortly before the window)
    limit_change_frac: float
    #: forwarding delay of mules, minutes (min, max), log-uniform
    forward_delay_min: tuple[float, float]
    #: share of legitimate individuals who pass money on soon after receiving it (rent, splitting bills)
    legit_passthrough_frac: float
    #: share of old accounts that registered their first Pix key only recently (late adopters)
    late_key_frac: float
    #: share of additional legitimate keys registered in the last ~4 months
    recent_key_frac: float
    #: typologies planted (None: the six Pix scam typologies in their fixed mix, ``rings.WEIGHTS``);
    #: any other set is planted in balanced rounds
    typologies: tuple[str, ...] | None = None
    #: fraudulent transactions relative to the seed's 0.5 %
    fraud_mult: float = 1.0
    #: share of the transactions that belong to legitimate look-alike structures (``datagen.lookalikes``)
    lookalike_frac: float = 0.0
    #: ring members' ordinary activity drawn per ring from this range (None: ``mule_background`` for all)
    mule_background_range: tuple[float, float] | None = None
    #: share of the AML-structure rings fed by scam victims (the others are funded from outside Pix)
    aml_victim_frac: float = 0.5


DIFFICULTY: dict[str, Difficulty] = {
    "easy": Difficulty("easy", mule_rented_frac=0.10, mule_background=0.0, new_account_frac=0.05,
                       new_popular_frac=0.05, household_frac=0.04, ring_device_share=0.95,
                       legit_new_device_frac=0.01, informal_seller_frac=0.01, limit_change_frac=0.15,
                       forward_delay_min=(1.0, 15.0), legit_passthrough_frac=0.01,
                       late_key_frac=0.03, recent_key_frac=0.15),
    "normal": Difficulty("normal", mule_rented_frac=0.40, mule_background=0.7, new_account_frac=0.12,
                         new_popular_frac=0.25, household_frac=0.10, ring_device_share=0.65,
                         legit_new_device_frac=0.04, informal_seller_frac=0.05, limit_change_frac=0.25,
                         forward_delay_min=(2.0, 90.0), legit_passthrough_frac=0.05,
                         late_key_frac=0.15, recent_key_frac=0.55),
    "hard": Difficulty("hard", mule_rented_frac=0.60, mule_background=1.2, new_account_frac=0.16,
                       new_popular_frac=0.40, household_frac=0.16, ring_device_share=0.45,
                       legit_new_device_frac=0.07, informal_seller_frac=0.08, limit_change_frac=0.35,
                       forward_delay_min=(3.0, 360.0), legit_passthrough_frac=0.10,
                       late_key_frac=0.22, recent_key_frac=0.6),
    # every typology (the six Pix scams and the eight AML structures) in balanced rounds, four times
    # the seed's fraud volume so that each typology has several rings at scale 1, per-ring camouflage,
    # and legitimate look-alikes (merchants, payroll, families, friends' cycles, brokers)
    "diverse": Difficulty("diverse", mule_rented_frac=0.50, mule_background=0.7, new_account_frac=0.12,
                          new_popular_frac=0.25, household_frac=0.10, ring_device_share=0.50,
                          legit_new_device_frac=0.04, informal_seller_frac=0.05, limit_change_frac=0.25,
                          forward_delay_min=(2.0, 90.0), legit_passthrough_frac=0.05,
                          late_key_frac=0.15, recent_key_frac=0.55, typologies=TIPOLOGIA, fraud_mult=4.0,
                          lookalike_frac=0.03, mule_background_range=(0.0, 1.5), aml_victim_frac=0.5),
}


def difficulty_params(name: str) -> Difficulty:
    return DIFFICULTY[validate_choice(name, DIFFICULTIES, "difficulty")]


def validate_format(fmt: str) -> str:
    return validate_choice(fmt, FORMATS, "format")


def parse_typologies(value: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...] | None:
    """``"a,b,c"`` (or a sequence) -> the typologies, validated, in catalogue order; None stays None."""
    if value is None:
        return None
    names = [v.strip() for v in (value.split(",") if isinstance(value, str) else value)]
    names = [v for v in names if v]
    if not names:
        raise PixringError("--typologies is empty: give a comma-separated list of " + ", ".join(TIPOLOGIA))
    bad = [v for v in names if v not in TIPOLOGIA]
    if bad:
        raise PixringError(f"unknown typolog{'y' if len(bad) == 1 else 'ies'} {', '.join(map(repr, bad))}: "
                           f"choose among {', '.join(TIPOLOGIA)}")
    return tuple(t for t in TIPOLOGIA if t in names)
