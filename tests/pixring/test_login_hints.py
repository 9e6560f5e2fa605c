"""The laptop login hints of ``pixring status``, the demo and ``/ui``: a default secret is shown only while it is
the public laptop default; a secret of one's own never is."""

from __future__ import annotations

from pixring.security import api_token_hint, neo4j_login_hint


def test_hints_show_only_the_public_laptop_defaults(make_settings, tmp_path) -> None:
    local = make_settings(tmp_path / "a")
    assert "pixring-local-dev" in neo4j_login_hint(local) and "laptop default" in neo4j_login_hint(local)
    hint = api_token_hint(local)
    assert hint["laptop"] is True and hint["token"] == "pixring-dev-investigator-token"

    own = make_settings(tmp_path / "b", PIXRING_NEO4J_PASSWORD="a-password-of-my-own",
                        PIXRING_API_TOKEN_INVESTIGATOR="a-token-of-my-own-0123456789")
    assert "a-password-of-my-own" not in neo4j_login_hint(own) and "PIXRING_NEO4J_PASSWORD" in neo4j_login_hint(own)
    hint = api_token_hint(own)
    assert hint["laptop"] is False and "token" not in hint and "a-token-of-my-own" not in str(hint)

    prod = make_settings(tmp_path / "c", PIXRING_ENV="production")
    assert "pixring-local-dev" not in neo4j_login_hint(prod) and api_token_hint(prod)["laptop"] is False
