"""Brazilian documents and Pix key formats: CPF and CNPJ with check digits, E.164 phones, EVP keys.

Scalar functions (``cpf_check_digits``, ``is_valid_cpf``, ...) are the reference; the ``generate_*``
functions are their vectorised numpy counterparts used by the generator, drawing from a seeded
:class:`numpy.random.Generator` so that output is reproducible.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np

_CPF_W1 = np.arange(10, 1, -1)  # 10..2
_CPF_W2 = np.arange(11, 1, -1)  # 11..2
_CNPJ_W1 = np.array([5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2])
_CNPJ_W2 = np.array([6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2])


def _dv(total: int) -> int:
    r = total % 11
    return 0 if r < 2 else 11 - r


# ------------------------------------------------------------------------------------------ CPF
def cpf_check_digits(base: str) -> str:
    """The two check digits of a CPF whose first nine digits are ``base``."""
    if len(base) != 9 or not base.isdigit():
        raise ValueError(f"CPF base must be 9 digits, got {base!r}")
    d = [int(c) for c in base]
    d1 = _dv(sum(w * x for w, x in zip(range(10, 1, -1), d)))
    d2 = _dv(sum(w * x for w, x in zip(range(11, 1, -1), d + [d1])))
    return f"{d1}{d2}"


def is_valid_cpf(value: str) -> bool:
    """True for an 11-digit CPF (digits only, or formatted ``000.000.000-00``) with valid check digits.

    Sequences of one repeated digit (``111.111.111-11``) are rejected, as the Receita Federal does.
    """
    digits = re.sub(r"[.\-]", "", value)
    if len(digits) != 11 or not digits.isdigit() or len(set(digits)) == 1:
        return False
    return cpf_check_digits(digits[:9]) == digits[9:]


def format_cpf(value: str) -> str:
    """``12345678909`` -> ``123.456.789-09``."""
    return f"{value[:3]}.{value[3:6]}.{value[6:9]}-{value[9:]}"


# ----------------------------------------------------------------------------------------- CNPJ
def cnpj_check_digits(base: str) -> str:
    """The two check digits of a CNPJ whose first twelve digits are ``base``."""
    if len(base) != 12 or not base.isdigit():
        raise ValueError(f"CNPJ base must be 12 digits, got {base!r}")
    d = [int(c) for c in base]
    d1 = _dv(sum(int(w) * x for w, x in zip(_CNPJ_W1, d)))
    d2 = _dv(sum(int(w) * x for w, x in zip(_CNPJ_W2, d + [d1])))
    return f"{d1}{d2}"


def is_valid_cnpj(value: str) -> bool:
    """True for a 14-digit numeric CNPJ (digits only or ``00.000.000/0000-00``) with valid check digits."""
    digits = re.sub(r"[./\-]", "", value)
    if len(digits) != 14 or not digits.isdigit() or len(set(digits)) == 1:
        return False
    return cnpj_check_digits(digits[:12]) == digits[12:]


def format_cnpj(value: str) -> str:
    """``11222333000181`` -> ``11.222.333/0001-81``."""
    return f"{value[:2]}.{value[2:5]}.{value[5:8]}/{value[8:12]}-{value[12:]}"


# ------------------------------------------------------------------------------- vectorised docs
def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """int64 array -> (n, width) array of decimal digits, most significant first."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return (values[:, None] // powers[None, :]) % 10


def _vec_dv(total: np.ndarray) -> np.ndarray:
    r = total % 11
    return np.where(r < 2, 0, 11 - r)


def _unique_draw(rng: np.random.Generator, n: int, low: int, high: int,
                 ok: "np.ndarray | None" = None) -> np.ndarray:
    """``n`` distinct integers in ``[low, high)``, in draw order (deterministic for a given ``rng``)."""
    out = np.empty(0, dtype=np.int64)
    while out.size < n:
        draw = rng.integers(low, high, size=int((n - out.size) * 1.1) + 16, dtype=np.int64)
        merged = np.concatenate([out, draw])
        _, first = np.unique(merged, return_index=True)
        out = merged[np.sort(first)]
    return out[:n]


def _not_repdigit(digits: np.ndarray) -> np.ndarray:
    return ~(digits == digits[:, :1]).all(axis=1)


def generate_cpfs(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct valid CPFs (11-digit strings), vectorised."""
    bases = _unique_draw(rng, int(n * 1.001) + 4, 1_000, 1_000_000_000)
    d = _digits(bases, 9)
    d = d[_not_repdigit(d)][:n]
    if d.shape[0] < n:  # pragma: no cover - astronomically unlikely
        raise RuntimeError("could not draw enough CPF bases")
    d1 = _vec_dv(d @ _CPF_W1)
    d2 = _vec_dv(np.concatenate([d, d1[:, None]], axis=1) @ _CPF_W2)
    full = np.concatenate([d, d1[:, None], d2[:, None]], axis=1)
    return _digits_to_str(full)


def generate_cnpjs(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct valid CNPJs (14-digit strings) of head offices (branch ``0001``), vectorised."""
    roots = _unique_draw(rng, n, 1_000_000, 100_000_000)
    d = np.concatenate([_digits(roots, 8), np.tile(np.array([0, 0, 0, 1]), (n, 1))], axis=1)
    d1 = _vec_dv(d @ _CNPJ_W1)
    d2 = _vec_dv(np.concatenate([d, d1[:, None]], axis=1) @ _CNPJ_W2)
    full = np.concatenate([d, d1[:, None], d2[:, None]], axis=1)
    return _digits_to_str(full)


def _digits_to_str(d: np.ndarray) -> np.ndarray:
    width = d.shape[1]
    buf = (d.astype(np.uint8) + ord("0")).tobytes()
    return np.frombuffer(buf, dtype=f"S{width}").astype(f"U{width}").astype(object)


# ---------------------------------------------------------------------------------------- phones
#: Brazilian area codes (DDD) with a rough weight by population.
DDD_WEIGHTS: dict[int, float] = {
    11: 21.0, 12: 2.4, 13: 1.8, 14: 1.6, 15: 2.0, 16: 1.7, 17: 1.5, 18: 1.0, 19: 3.5,
    21: 11.0, 22: 1.2, 24: 1.2, 27: 2.8, 28: 0.6,
    31: 5.5, 32: 1.4, 33: 0.8, 34: 1.4, 35: 1.3, 37: 0.8, 38: 1.0,
    41: 3.5, 42: 1.0, 43: 1.3, 44: 1.0, 45: 0.9, 46: 0.5, 47: 2.2, 48: 1.6, 49: 1.0,
    51: 4.5, 53: 1.0, 54: 1.1, 55: 0.9,
    61: 3.4, 62: 3.0, 63: 0.8, 64: 1.0, 65: 1.4, 66: 0.6, 67: 1.4, 68: 0.5, 69: 0.9,
    71: 4.0, 73: 1.2, 74: 0.8, 75: 1.2, 77: 0.8, 79: 1.1,
    81: 4.2, 82: 1.6, 83: 1.9, 84: 1.7, 85: 4.2, 86: 1.6, 87: 1.0, 88: 1.4, 89: 0.6,
    91: 3.0, 92: 2.1, 93: 0.8, 94: 0.8, 95: 0.3, 96: 0.4, 97: 0.3, 98: 2.2, 99: 1.0,
}
_PHONE_RE = re.compile(r"^\+55[1-9][1-9]9[6-9]\d{7}$")


def is_valid_mobile_e164(value: str) -> bool:
    """True for a Brazilian mobile number in E.164 form: ``+55`` + DDD + ``9`` + 8 digits."""
    return bool(_PHONE_RE.match(value)) and int(value[3:5]) in DDD_WEIGHTS


def generate_mobiles(rng: np.random.Generator, n: int, exclude: "np.ndarray | None" = None) -> np.ndarray:
    """``n`` distinct mobile numbers ``+55DD9XXXXXXXX`` (E.164), none of them in ``exclude``."""
    ddds = np.array(sorted(DDD_WEIGHTS), dtype=np.int64)
    w = np.array([DDD_WEIGHTS[d] for d in ddds], dtype=float)
    # encode as one int: DDD * 10^9 + 9 * 10^8 + [6..9]xxxxxxx
    excl = np.empty(0, dtype=np.int64)
    if exclude is not None and len(exclude):
        excl = np.array([int(x[3:]) for x in exclude], dtype=np.int64)
    out = np.empty(0, dtype=np.int64)
    while out.size < n:
        m = int((n - out.size) * 1.05) + 16
        ddd = rng.choice(ddds, size=m, p=w / w.sum())
        local = rng.integers(60_000_000, 100_000_000, size=m, dtype=np.int64)
        num = ddd * 1_000_000_000 + 900_000_000 + local
        merged = np.concatenate([out, num])
        _, first = np.unique(merged, return_index=True)
        keep = np.sort(first)
        merged = merged[keep]
        if excl.size:
            merged = merged[~np.isin(merged, excl)]
        out = merged
    return np.array(["+55" + str(x) for x in out[:n]], dtype=object)


# ------------------------------------------------------------------------------------ EVP (UUID)
_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def is_valid_evp(value: str) -> bool:
    """True for a random Pix key (EVP): a lowercase version-4 UUID."""
    return bool(_UUID_RE.match(value))


def generate_evps(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` random keys (EVP): version-4 UUIDs drawn from ``rng`` (so reproducible)."""
    b = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    b[:, 6] = (b[:, 6] & 0x0F) | 0x40
    b[:, 8] = (b[:, 8] & 0x3F) | 0x80
    out = np.empty(n, dtype=object)
    raw = b.tobytes()
    for i in range(n):
        h = raw[16 * i: 16 * i + 16].hex()
        out[i] = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    return out


# ----------------------------------------------------------------------------------------- email
def slug(text: str) -> str:
    """ASCII lowercase slug of a name part, for e-mail local parts: ``João`` -> ``joao``."""
    norm = unicodedata.normalize("NFKD", text)
    ascii_text = norm.encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]", "", ascii_text)


_EMAIL_RE = re.compile(r"^[a-z0-9._]+@[a-z0-9.\-]+\.[a-z]{2,}$")


def is_valid_email(value: str) -> bool:
    """A conservative check of the e-mail keys this generator writes."""
    return bool(_EMAIL_RE.match(value)) and len(value) <= 77
