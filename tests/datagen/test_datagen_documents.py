"""CPF/CNPJ check digits, phone, e-mail and EVP formats (hypothesis property tests)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from datagen import documents as docs


def _ref_dv(digits: list[int], weights: list[int]) -> int:
    """Independent reference: mod-11 check digit as published by the Receita Federal."""
    r = sum(d * w for d, w in zip(digits, weights)) % 11
    return 0 if r < 2 else 11 - r


def _ref_cpf(base: str) -> str:
    d = [int(c) for c in base]
    d1 = _ref_dv(d, list(range(10, 1, -1)))
    d2 = _ref_dv(d + [d1], list(range(11, 1, -1)))
    return base + f"{d1}{d2}"


def _ref_cnpj(base: str) -> str:
    d = [int(c) for c in base]
    d1 = _ref_dv(d, [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2])
    d2 = _ref_dv(d + [d1], [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2])
    return base + f"{d1}{d2}"


digits9 = st.text(alphabet="0123456789", min_size=9, max_size=9).filter(lambda s: len(set(s)) > 1)
digits12 = st.text(alphabet="0123456789", min_size=12, max_size=12).filter(lambda s: len(set(s)) > 1)


def test_known_documents() -> None:
    assert docs.is_valid_cpf("529.982.247-25")
    assert docs.is_valid_cpf("52998224725")
    assert not docs.is_valid_cpf("52998224726")
    assert not docs.is_valid_cpf("111.111.111-11")
    assert docs.is_valid_cnpj("11.222.333/0001-81")
    assert docs.is_valid_cnpj("11222333000181")
    assert not docs.is_valid_cnpj("11222333000182")
    assert docs.format_cpf("52998224725") == "529.982.247-25"
    assert docs.format_cnpj("11222333000181") == "11.222.333/0001-81"


@given(digits9)
def test_cpf_check_digits_match_reference(base: str) -> None:
    full = base + docs.cpf_check_digits(base)
    assert full == _ref_cpf(base)
    assert docs.is_valid_cpf(full)
    assert docs.is_valid_cpf(docs.format_cpf(full))


@given(digits9, st.integers(0, 1), st.integers(1, 9))
def test_cpf_wrong_check_digit_is_rejected(base: str, pos: int, delta: int) -> None:
    full = list(base + docs.cpf_check_digits(base))
    full[9 + pos] = str((int(full[9 + pos]) + delta) % 10)
    assert not docs.is_valid_cpf("".join(full))


@given(digits12)
def test_cnpj_check_digits_match_reference(base: str) -> None:
    full = base + docs.cnpj_check_digits(base)
    assert full == _ref_cnpj(base)
    assert docs.is_valid_cnpj(full)


@given(digits12, st.integers(0, 1), st.integers(1, 9))
def test_cnpj_wrong_check_digit_is_rejected(base: str, pos: int, delta: int) -> None:
    full = list(base + docs.cnpj_check_digits(base))
    full[12 + pos] = str((int(full[12 + pos]) + delta) % 10)
    assert not docs.is_valid_cnpj("".join(full))


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 400))
def test_vectorised_generators_produce_valid_unique_values(seed: int, n: int) -> None:
    rng = np.random.Generator(np.random.PCG64(seed))
    cpfs = docs.generate_cpfs(rng, n)
    cnpjs = docs.generate_cnpjs(rng, n)
    phones = docs.generate_mobiles(rng, n)
    evps = docs.generate_evps(rng, n)
    for values, check, width in ((cpfs, docs.is_valid_cpf, 11), (cnpjs, docs.is_valid_cnpj, 14)):
        assert len(set(values)) == n
        assert all(len(v) == width and check(v) for v in values)
        assert all(v == _ref_cpf(v[:9]) for v in values) if width == 11 else \
            all(v == _ref_cnpj(v[:12]) for v in values)
    assert len(set(phones)) == n and all(docs.is_valid_mobile_e164(p) for p in phones)
    assert len(set(evps)) == n and all(docs.is_valid_evp(e) for e in evps)


def test_generation_is_reproducible() -> None:
    a = docs.generate_cpfs(np.random.Generator(np.random.PCG64(3)), 50)
    b = docs.generate_cpfs(np.random.Generator(np.random.PCG64(3)), 50)
    assert list(a) == list(b)


def test_slug_and_email() -> None:
    assert docs.slug("João Conceição") == "joaoconceicao"
    assert docs.is_valid_email("maria.silva12@gmail.com")
    assert not docs.is_valid_email("Maria@Gmail")
