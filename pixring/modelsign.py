"""Only models pixring registered itself are loaded: a signed digest per registered version.

At registration (``gnn train``, ``tests.helpers.register_toy_model``) :func:`sign_version` downloads
the version's artifacts, computes :func:`artifact_digest` (SHA-256 over every file's path and content) and
records it as the version tag ``pixring.sha256`` with ``pixring.signature`` = HMAC-SHA256 of the digest under
``settings.security.model_signing_key``. A model version is a pickle: whoever can write to MLflow could
otherwise run code in the stream and the API by moving ``champion``.

:func:`load_verified` (the stream, the API, ``gnn embed`` / ``evaluate``) downloads the version into a
private folder under ``$PIXRING_HOME/run/models``, recomputes the digest, checks both tags, and only then
unpickles *that* copy (never a second download). A version without tags, with a digest that differs (an
artifact replaced after registration) or a signature from another key is refused with
:class:`ModelRefused`.
"""

from __future__ import annotations

import atexit
import hashlib
import hmac
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from pixring.errors import PixringError

log = logging.getLogger(__name__)
# Lives in pixring (not gnn): gnn signs at registration, the stream and the API verify, and the erasure
# (lakehouse) signs again the versions whose artifacts it rewrote.

SHA_TAG = "pixring.sha256"
SIGNATURE_TAG = "pixring.signature"
#: written by MLflow into a ``models:/`` download (name and version of the copy): not part of the digest
_IGNORED = frozenset({"registered_model_meta"})
_CONTEXT = b"pixring-model-v1\n"


class ModelRefused(PixringError):
    """A registered model version whose artifacts pixring did not sign (or that changed since)."""


def artifact_digest(root: Path) -> str:
    """SHA-256 over every file under ``root``: sorted relative paths, each with its content's SHA-256."""
    outer = hashlib.sha256()
    files = sorted(p for p in Path(root).rglob("*") if p.is_file() and p.relative_to(root).as_posix() not in _IGNORED)
    for path in files:
        inner = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                inner.update(block)
        outer.update(path.relative_to(root).as_posix().encode("utf-8") + b"\0" + inner.digest())
    return outer.hexdigest()


def signature(key: bytes, digest: str) -> str:
    return hmac.new(key, _CONTEXT + digest.encode("ascii"), hashlib.sha256).hexdigest()


def _client(uri: str):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _download(uri: str, name: str, version: str, dst: Path) -> Path:
    from mlflow.artifacts import download_artifacts

    return Path(download_artifacts(artifact_uri=f"models:/{name}/{version}", dst_path=str(dst),
                                   tracking_uri=uri, registry_uri=uri))


def _key(settings) -> bytes:
    return settings.security.model_signing_key.get_secret_value().encode("utf-8")


def sign_version(settings, name: str, version: str) -> str:
    """Record the digest and signature of a version pixring just registered; returns the digest."""
    uri = settings.mlflow.uri
    with tempfile.TemporaryDirectory(prefix="pixring-sign-") as tmp:
        digest = artifact_digest(_download(uri, name, version, Path(tmp)))
    client = _client(uri)
    client.set_model_version_tag(name, version, SHA_TAG, digest)
    client.set_model_version_tag(name, version, SIGNATURE_TAG, signature(_key(settings), digest))
    log.info("signed %s version %s (sha256 %s)", name, version, digest[:12])
    return digest


def intact_versions(settings, names: frozenset[str] | None = None) -> list[tuple[str, str]]:
    """Every registered ``(name, version)`` (of ``names`` only, when given) whose artifacts still match the
    digest pixring signed."""
    uri = settings.mlflow.uri
    client = _client(uri)
    intact: list[tuple[str, str]] = []
    for mv in client.search_model_versions(max_results=10_000):
        if names is not None and mv.name not in names:
            continue
        recorded, signed = (mv.tags or {}).get(SHA_TAG), (mv.tags or {}).get(SIGNATURE_TAG)
        if not recorded or not signed or not hmac.compare_digest(signed, signature(_key(settings), recorded)):
            continue
        with tempfile.TemporaryDirectory(prefix="pixring-sign-") as tmp:
            if hmac.compare_digest(artifact_digest(_download(uri, mv.name, mv.version, Path(tmp))), recorded):
                intact.append((mv.name, str(mv.version)))
    return intact


def resign(settings, versions: list[tuple[str, str]]) -> None:
    """Sign ``versions`` again after pixring itself rewrote their artifacts (an erasure): only versions that
    :func:`intact_versions` found intact *before* the rewrite are passed, so a tampered model stays refused."""
    for name, version in versions:
        sign_version(settings, name, version)


def _models_dir(settings) -> Path:
    root = settings.paths.run / "models"
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    return root


def load_verified(settings, name: str, version: str, *, tracking_uri: str | None = None) -> Any:
    """``mlflow.pyfunc`` model of ``name`` version ``version`` after its signature verified; else ModelRefused.

    ``tracking_uri`` defaults to ``settings.mlflow.uri``. The verified copy stays on disk (0700) while the
    process runs: a model reads files of it later (``TxModel.gnn_path``); it is removed at exit.
    """
    import mlflow.pyfunc

    uri = tracking_uri or settings.mlflow.uri
    tags = dict(_client(uri).get_model_version(name, version).tags or {})
    recorded, signed = tags.get(SHA_TAG), tags.get(SIGNATURE_TAG)
    if not recorded or not signed:
        raise ModelRefused(f"model {name} version {version} has no pixring signature (not registered by "
                           "pixring's training): refused")
    if not hmac.compare_digest(signed, signature(_key(settings), recorded)):
        raise ModelRefused(f"model {name} version {version}: signature does not verify with "
                           "PIXRING_MODEL_SIGNING_KEY: refused")
    dst = Path(tempfile.mkdtemp(prefix=f"v{version}-", dir=_models_dir(settings)))
    atexit.register(shutil.rmtree, dst, True)
    local = _download(uri, name, version, dst)
    actual = artifact_digest(local)
    if not hmac.compare_digest(actual, recorded):
        shutil.rmtree(dst, ignore_errors=True)
        raise ModelRefused(f"model {name} version {version}: artifacts changed since registration (sha256 "
                           f"{actual[:12]}, signed {recorded[:12]}): refused")
    model = mlflow.pyfunc.load_model(str(local))
    log.info("model %s version %s verified (sha256 %s)", name, version, recorded[:12])
    return model
