"""PIXRING_CACHE: the jars live outside the data root, shared by every PIXRING_HOME."""

from __future__ import annotations

from pixring.settings import Settings


def test_two_data_roots_share_one_jar_cache(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("PIXRING_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("PIXRING_HOME", str(tmp_path / "a"))
    a = Settings()
    monkeypatch.setenv("PIXRING_HOME", str(tmp_path / "b"))
    b = Settings()
    assert a.paths.home != b.paths.home
    assert a.paths.jars == b.paths.jars == tmp_path / "xdg" / "pixring" / "jars"
    assert not a.paths.jars.is_relative_to(a.paths.home)


def test_pixring_cache_moves_the_cache(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PIXRING_CACHE", str(tmp_path / "c"))
    monkeypatch.setenv("PIXRING_HOME", str(tmp_path / "home"))
    assert Settings().paths.jars == tmp_path / "c" / "jars"
