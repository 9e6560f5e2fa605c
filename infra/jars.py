"""Resolve the project's JVM dependencies with ``mvn`` into ``$PIXRING_CACHE/jars/<group>`` (shared by every data root).

Each group has a pom under ``infra/`` (``maven/spark``, ``maven/kafka``, ``maven/jmx``, ``maven/browser``, ``neo4j``), except ``graphx``: a
small Java bridge compiled with ``javac`` against the jars pyspark ships (``infra/graphx``). A group is
rebuilt only when its folder changed since the last successful run (a stamp file holds its hash), so a
warm ``make setup`` costs nothing. Spark's own Ivy resolution is never used: it ignores Maven settings.
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
    spec: Path  # the pom.xml (mvn) or the source folder (javac)
    goals: tuple[str, ...] = ("dependency:copy-dependencies",)
    builder: str = "mvn"  # or "javac": compile src/ against pyspark's jars into one jar
    # jars whose artifactId pyspark already ships are dropped (a second copy on the classpath conflicts)
    skip_pyspark_duplicates: bool = False


GROUPS: dict[str, JarGroup] = {
    "spark": JarGroup("spark", INFRA / "maven" / "spark" / "pom.xml", skip_pyspark_duplicates=True),
    "kafka": JarGroup("kafka", INFRA / "maven" / "kafka" / "pom.xml"),
    # the Prometheus JMX exporter java agent the Kafka broker runs with (broker metrics on /metrics)
    "jmx": JarGroup("jmx", INFRA / "maven" / "jmx" / "pom.xml"),
    # Neo4j Browser's static web app (one jar, unpacked and served by `pixring up`: infra/browser.py)
    "browser": JarGroup("browser", INFRA / "maven" / "browser" / "pom.xml"),
    "neo4j": JarGroup("neo4j", INFRA / "neo4j" / "pom.xml", goals=("package", "dependency:copy-dependencies")),
    "graphx": JarGroup("graphx", INFRA / "graphx" / "src", builder="javac"),
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
    if group.builder == "javac":
        import pyspark

        h.update(pyspark.__version__.encode())
    for path in sorted(group.spec.parent.rglob("*")):
        if path.is_file() and "target" not in path.parts:
            h.update(path.relative_to(group.spec.parent).as_posix().encode())
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
    tool = group.builder
    if shutil.which(tool) is None:
        raise PixringError(f"{tool} not found on PATH: run `make setup` (infra/install-system-packages.sh)")
    log_file = get_settings().paths.logs / f"{tool}-{name}.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    if tool == "javac":
        _javac(group, tmp, log_file)
    else:
        _mvn(group, tmp, log_file)
    (tmp / ".stamp").write_text(fingerprint)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    log.info("%s jars: %d files in %s", name, len(list(out.glob("*.jar"))), out)
    return out


def _run_logged(cmd: list[str], log_file: Path, what: str, tmp: Path) -> None:
    with log_file.open("w") as fh:
        rc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, check=False).returncode
    if rc != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise PixringError(f"{what} failed (exit {rc}); see {log_file}")


def _javac(group: JarGroup, tmp: Path, log_file: Path) -> None:
    classes = tmp / "classes"
    sources = [str(p) for p in sorted(group.spec.rglob("*.java"))]
    log.info("compiling %s bridge with javac (log: %s)", group.name, log_file)
    _run_logged(
        ["javac", "--release", "17", "-d", str(classes), "-cp", str(pyspark_jars_dir() / "*"), *sources],
        log_file, f"javac for {group.name}", tmp,
    )
    _run_logged(["jar", "cf", str(tmp / f"pixring-{group.name}.jar"), "-C", str(classes), "."],
                log_file, f"jar for {group.name}", tmp)
    shutil.rmtree(classes)


def _mvn(group: JarGroup, tmp: Path, log_file: Path) -> None:
    cmd = [
        "mvn", "-B", "-q", "-f", str(group.spec), *group.goals,
        f"-DoutputDirectory={tmp}", "-DincludeScope=runtime",
    ]
    log.info("resolving %s jars with mvn (log: %s)", group.name, log_file)
    _run_logged(cmd, log_file, f"jar resolution for {group.name} (mvn)", tmp)
    if group.skip_pyspark_duplicates:
        shipped = {artifact_id(p.name) for p in pyspark_jars_dir().glob("*.jar")}
        for jar in tmp.glob("*.jar"):
            if artifact_id(jar.name) in shipped or artifact_id(jar.name) == "shims":
                jar.unlink()


def resolve_all(force: bool = False) -> dict[str, Path]:
    return {name: resolve(name, force) for name, group in GROUPS.items() if group.spec.exists()}


def classpath(name: str) -> list[Path]:
    """The jars of one resolved group; a clear error if ``pixring jars`` has not run."""
    folder = jar_dir(name)
    jars = sorted(folder.glob("*.jar"))
    if not jars:
        raise PixringError(f"no {name} jars in {folder}: run `make setup` (or `pixring jars`)")
    return jars
