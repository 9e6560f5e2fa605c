"""Resolve the project's JVM dependencies with ``mvn`` into ``$PIXRING_HOME/jars/<group>``.

Each group has a pom under ``infra/`` (``maven/spark``, ``maven/kafka``, ``neo4j``). Resolution is skipped
when the pom has not changed since the last successful run (a stamp file holds its hash), so a warm
``make setup`` costs nothing. Spark's own Ivy resolution is never used: it ignores Maven settings.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pixring.errors import PixringError
from pixring.settings import get_settings

log = logging.getLogger(__name__)

INFRA = Path(__file__).resolve().parent


@dataclass(frozen=True)
class JarGroup:
    name: str
    pom: Path
    goals: tuple[str, ...] = ("dependency:copy-dependencies",)
    # jars whose artifactId pyspark already ships are dropped (a second copy on the classpath conflicts)
    skip_pyspark_duplicates: bool = False


GROUPS: dict[str, JarGroup] = {
    "spark": JarGroup("spark", INFRA / "maven" / "spark" / "pom.xml", skip_pyspark_duplicates=True),
    "kafka": JarGroup("kafka", INFRA / "maven" / "kafka" / "pom.xml"),
    "neo4j": JarGroup("neo4j", INFRA / "neo4j" / "pom.xml", goals=("package", "dependency:copy-dependencies")),
}

_VERSIONED = re.compile(r"^(?P<artifact>.+)-\d+(?:\.\d+)+[\w.\-]*\.jar$")


def artifact_id(jar_name: str) -> str:
    """``delta-spark_4.1_2.13-4.4.0.jar`` -> ``delta-spark_4.1_2.13``."""
    m = _VERSIONED.match(jar_name)
    return m.group("artifact") if m else jar_name.removesuffix(".jar")


def pyspark_jars_dir() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent / "jars"


def _fingerprint(group: JarGroup) -> str:
    h = hashlib.sha256()
    for path in sorted(group.pom.parent.rglob("*")):
        if path.is_file() and "target" not in path.parts:
            h.update(path.relative_to(group.pom.parent).as_posix().encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def jar_dir(name: str) -> Path:
    return get_settings().paths.jars / name


def resolve(name: str, force: bool = False) -> Path:
    """Resolve one group; returns the folder that holds its jars."""
    group = GROUPS[name]
    out = jar_dir(name)
    stamp = out / ".stamp"
    fingerprint = _fingerprint(group)
    if not force and stamp.exists() and stamp.read_text() == fingerprint:
        log.debug("jars %s up to date in %s", name, out)
        return out
    if shutil.which("mvn") is None:
        raise PixringError("mvn not found on PATH: install Maven (apt-get install maven)")
    log_file = get_settings().paths.logs / f"mvn-{name}.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    cmd = [
        "mvn", "-B", "-q", "-f", str(group.pom), *group.goals,
        f"-DoutputDirectory={tmp}", "-DincludeScope=runtime",
    ]
    log.info("resolving %s jars with mvn (log: %s)", name, log_file)
    with log_file.open("w") as fh:
        rc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, check=False).returncode
    if rc != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise PixringError(f"jar resolution for {name} failed (mvn exit {rc}); see {log_file}")
    if group.skip_pyspark_duplicates:
        shipped = {artifact_id(p.name) for p in pyspark_jars_dir().glob("*.jar")}
        for jar in tmp.glob("*.jar"):
            if artifact_id(jar.name) in shipped or artifact_id(jar.name) == "shims":
                jar.unlink()
    target = Path(group.pom.parent, "target")
    for built in target.glob("*.jar") if target.exists() else ():
        shutil.copy2(built, tmp / built.name)
    (tmp / ".stamp").write_text(fingerprint)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    log.info("%s jars: %d files in %s", name, len(list(out.glob("*.jar"))), out)
    return out


def resolve_all(force: bool = False) -> dict[str, Path]:
    return {name: resolve(name, force) for name in GROUPS if GROUPS[name].pom.exists()}


def classpath(name: str) -> list[Path]:
    """The jars of one resolved group; a clear error if ``pixring jars`` has not run."""
    folder = jar_dir(name)
    jars = sorted(folder.glob("*.jar"))
    if not jars:
        raise PixringError(f"no {name} jars in {folder}: run `make setup` (or `pixring jars`)")
    return jars
