"""The one Neo4j driver factory (:func:`driver`): the API, the loader, ``gnn embed``, the erasure and the service
probe all connect through it, so the URI, the credentials and TLS are decided in one place.

TLS (Bolt): ``PIXRING_NEO4J_URI=bolt+s://…`` / ``neo4j+s://…`` trusts the system CAs; with
``PIXRING_NEO4J_TLS_CA=/path/ca.pem`` the connection is encrypted whatever the URI's scheme and the server's
certificate must chain to that CA (a bank's own PKI, or a local CA from :mod:`infra.tls`); hostname checked
either way. ``bolt://`` without a CA is plaintext: loopback only outside ``PIXRING_ENV=local``
(:mod:`pixring.security`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from neo4j import Driver

    from pixring.settings import Neo4jSettings

#: schemes whose ``+s`` / ``+ssc`` suffix the driver reads as its own TLS settings
_TLS_SUFFIXES = ("+s", "+ssc")


def driver_args(n: Neo4jSettings) -> tuple[str, dict[str, Any]]:
    """The URI and the TLS keywords of :func:`driver` (pure: what the tests check)."""
    uri = n.bolt_uri
    if n.tls_ca is None:
        return uri, {}
    scheme, sep, rest = uri.partition("://")
    for suffix in _TLS_SUFFIXES:
        scheme = scheme.removesuffix(suffix)
    return f"{scheme}{sep}{rest}", {"encrypted": True, "trusted_certificates": ("custom", str(n.tls_ca))}


def driver(n: Neo4jSettings, **kwargs: Any) -> Driver:
    """A driver for the settings' Neo4j, authenticated, TLS as above; ``kwargs`` go to the driver (pool size,
    timeouts, ``notifications_min_severity``)."""
    from neo4j import GraphDatabase, TrustCustomCAs

    uri, tls = driver_args(n)
    if tls:
        tls["trusted_certificates"] = TrustCustomCAs(tls["trusted_certificates"][1])
    return GraphDatabase.driver(uri, auth=(n.user, n.password.get_secret_value()), **tls, **kwargs)
