"""The local services pixring starts itself: Kafka (KRaft), Neo4j (Bolt), MLflow and Prometheus.

Each service is a child process started in its own session, with a log file under
``$PIXRING_HOME/logs`` and a pid file under ``$PIXRING_HOME/run``, a readiness check and ports from
settings. On a cluster none of this runs: the same settings point at managed endpoints.

A child gets only the environment it needs (:func:`child_env`): the system's and the runtimes' variables,
never a secret it does not use (``PIXRING_PII_SECRET`` only to the stream and the API, which tokenise keys).
It inherits the CLI's umask 077 (:mod:`pixring.security`).
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from pixring.errors import PixringError
from pixring.settings import FOREIGN_SECRET_VARS, MLFLOW_CLIENT_SECRET_VARS, SECRET_VARS, Settings

log = logging.getLogger(__name__)


@dataclass
class ServiceStatus:
    name: str
    state: str  # ready | starting | stopped | stale
    pid: int | None
    endpoint: str
    rss_mb: float | None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is not alive
    with contextlib.suppress(OSError):
        with open(f"/proc/{pid}/stat") as fh:
            if fh.read().split(") ", 1)[1].startswith("Z"):
                return False
    return True


def _rss_mb(pid: int) -> float | None:
    """Resident memory of a process and its children, in MiB."""
    try:
        import psutil

        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
        return sum(p.memory_info().rss for p in procs) / 2**20
    except Exception:  # noqa: BLE001 - gone between the check and the read
        return None


#: variables every child gets when set (the system's and the JVM's / Python's); anything else is named
BASE_ENV: tuple[str, ...] = ("PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TMPDIR",
                             "JAVA_HOME", "VIRTUAL_ENV", "SSL_CERT_FILE", "SSL_CERT_DIR")
BASE_ENV_PREFIXES: tuple[str, ...] = ("LC_",)
#: what a pixring command (stream, api) also gets: its runtimes' knobs and pixring's non-secret settings
PIXRING_ENV_PREFIXES: tuple[str, ...] = ("PIXRING_", "PYTHON", "PYSPARK_", "SPARK_", "HADOOP_", "OMP_", "MKL_",
                                         "MLFLOW_")
_SECRETS = frozenset((*SECRET_VARS, *(f"{v}_FILE" for v in SECRET_VARS), *FOREIGN_SECRET_VARS))


def child_env(*, prefixes: tuple[str, ...] = (), secrets: tuple[str, ...] = (),
              environ: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a child: :data:`BASE_ENV`, variables starting with one of ``prefixes`` that are not
    secrets, and the named ``secrets`` (each with its ``_FILE`` form) when set."""
    env = os.environ if environ is None else environ
    keep = set(secrets) | {f"{v}_FILE" for v in secrets}
    out = {}
    for k, v in env.items():
        if k in keep or (k not in _SECRETS and (k in BASE_ENV or k.startswith((*BASE_ENV_PREFIXES, *prefixes)))):
            out[k] = v
    return out


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def java_bin() -> str:
    home = os.environ.get("JAVA_HOME")
    if home and Path(home, "bin", "java").exists():
        return str(Path(home, "bin", "java"))
    found = shutil.which("java")
    if not found:
        raise PixringError("java not found: install a Java 17 runtime or set JAVA_HOME")
    return found


class Service(ABC):
    """A process pixring starts, watches and stops."""

    name: str
    start_timeout_s: float = 90.0
    #: started only when asked for by name (the pipeline's own commands), not by a plain ``pixring up``
    on_demand: bool = False

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.paths.home / self.name
        self.pid_file = settings.paths.run / f"{self.name}.pid"
        self.log_file = settings.paths.logs / f"{self.name}.log"

    # --- what a service defines ----------------------------------------------------------------
    @abstractmethod
    def command(self) -> list[str]: ...

    @abstractmethod
    def ports(self) -> list[tuple[str, int]]: ...

    @abstractmethod
    def is_ready(self) -> bool: ...

    @property
    @abstractmethod
    def endpoint(self) -> str: ...

    def prepare(self) -> None:
        """One-time set-up before the first start (config files, storage format)."""

    def env(self) -> dict[str, str]:
        """The child's environment: no secret unless the service overrides this."""
        return child_env()

    # --- lifecycle -------------------------------------------------------------------------------
    def pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def status(self) -> ServiceStatus:
        pid = self.pid()
        if pid is None:
            return ServiceStatus(self.name, "stopped", None, self.endpoint, None)
        if not _pid_alive(pid):
            return ServiceStatus(self.name, "stale", pid, self.endpoint, None)
        state = "ready" if self.probe_ready() else "starting"
        return ServiceStatus(self.name, state, pid, self.endpoint, _rss_mb(pid))

    def probe_ready(self) -> bool:
        try:
            return self.is_ready()
        except Exception as exc:  # noqa: BLE001 - a readiness probe never raises
            log.debug("%s not ready: %s", self.name, exc)
            return False

    def start(self) -> float:
        """Start the service unless it already runs; returns seconds until ready."""
        st = self.status()
        if st.state in ("ready", "starting"):
            log.info("%s already running (pid %s)", self.name, st.pid)
            return self.wait_ready(st.pid or 0, time.monotonic())
        if st.state == "stale":
            self.pid_file.unlink(missing_ok=True)
        for host, port in self.ports():
            if not port_free(host, port):
                raise PixringError(
                    f"{self.name}: port {host}:{port} is taken by another process; "
                    f"free it or change the port in settings (log: {self.log_file})"
                )
        self.home.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        self.prepare()
        cmd = self.command()
        log.info("starting %s (log: %s)", self.name, self.log_file)
        with self.log_file.open("ab") as fh:
            fh.write(f"\n==== pixring start {time.strftime('%Y-%m-%dT%H:%M:%S')} ====\n".encode())
            fh.flush()
            proc = subprocess.Popen(
                cmd, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=self.home, env=self.env(), start_new_session=True,
            )
        self.pid_file.write_text(str(proc.pid))
        return self.wait_ready(proc.pid, t0)

    def wait_ready(self, pid: int, t0: float) -> float:
        deadline = t0 + self.start_timeout_s
        while time.monotonic() < deadline:
            if pid and not _pid_alive(pid):
                self.pid_file.unlink(missing_ok=True)
                raise PixringError(f"{self.name} exited during start-up; see {self.log_file}")
            if self.probe_ready():
                elapsed = time.monotonic() - t0
                log.info("%s ready at %s in %.1fs", self.name, self.endpoint, elapsed)
                return elapsed
            time.sleep(0.5)
        raise PixringError(
            f"{self.name} not ready after {self.start_timeout_s:.0f}s; see {self.log_file}"
        )

    def stop(self, timeout_s: float = 30.0) -> str:
        pid = self.pid()
        if pid is None:
            return "not running"
        if not _pid_alive(pid):
            self.pid_file.unlink(missing_ok=True)
            return "stale pid file removed"
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and _pid_alive(pid):
            time.sleep(0.2)
        if _pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            time.sleep(0.5)
        self.pid_file.unlink(missing_ok=True)
        return "stopped"


class KafkaService(Service):
    """Apache Kafka, one process acting as KRaft controller and broker."""

    name = "kafka"

    @property
    def endpoint(self) -> str:
        k = self.settings.kafka
        return f"kafka://{k.host}:{k.port}" + (f" ssl://{k.host}:{k.ssl_port}" if k.tls else "")

    def ports(self) -> list[tuple[str, int]]:
        k = self.settings.kafka
        return [(k.host, k.port), (k.host, k.controller_port),
                ("127.0.0.1", self.settings.prometheus.kafka_exporter_port), *([(k.host, k.ssl_port)] if k.tls else [])]

    def _tls_lines(self) -> dict[str, str]:
        """With ``PIXRING_KAFKA_TLS``: an ``SSL`` listener on ``ssl_port`` with a certificate of the local CA
        (:mod:`infra.tls`, a PKCS#12 keystore), TLS 1.2 and 1.3 only, client certificates not asked for."""
        from infra.tls import ensure_server_tls

        k = self.settings.kafka
        tls = ensure_server_tls(self.home / "tls", "pixring-kafka", (k.host,))
        password = tls.keystore_password
        return {"ssl.keystore.type": "PKCS12", "ssl.keystore.location": str(tls.keystore),
                "ssl.keystore.password": password, "ssl.key.password": password,
                "ssl.enabled.protocols": "TLSv1.3,TLSv1.2", "ssl.client.auth": "none"}

    @property
    def config_file(self) -> Path:
        return self.home / "server.properties"

    def _classpath(self) -> str:
        from infra.jars import classpath

        return os.pathsep.join(str(p) for p in classpath("kafka"))

    def _write_config(self) -> None:
        k = self.settings.kafka
        data = self.home / "data"
        ssl = f",SSL://{k.host}:{k.ssl_port}" if k.tls else ""
        lines = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{k.host}:{k.controller_port}",
            "listeners": f"PLAINTEXT://{k.host}:{k.port},CONTROLLER://{k.host}:{k.controller_port}" + ssl,
            "advertised.listeners": f"PLAINTEXT://{k.host}:{k.port}" + ssl,
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT" + (",SSL:SSL" if k.tls else ""),
            "log.dirs": str(data),
            "num.partitions": "2",
            "default.replication.factor": "1",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "4",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "true",
            "log.retention.hours": "168",
            "num.network.threads": "2",
            "num.io.threads": "2",
            **(self._tls_lines() if k.tls else {}),
        }
        self.config_file.write_text("".join(f"{key}={value}\n" for key, value in lines.items()))
        self.config_file.chmod(0o600)  # it may hold the keystore's password
        (self.home / "log4j2.properties").write_text(
            "rootLogger.level = WARN\nrootLogger.appenderRef.stdout.ref = STDOUT\n"
            "appender.stdout.type = Console\nappender.stdout.name = STDOUT\n"
            "appender.stdout.layout.type = PatternLayout\n"
            "appender.stdout.layout.pattern = [%d] %p %m (%c)%n\n"
            "logger.kafka.name = kafka.server.KafkaRaftServer\nlogger.kafka.level = INFO\n"
            "logger.broker.name = kafka.server.BrokerServer\nlogger.broker.level = INFO\n"
        )

    def _java(self, main: str, *args: str, heap: str = "256m") -> list[str]:
        return [
            java_bin(), f"-Xmx{heap}", f"-Xms{heap}" if heap != "256m" else "-Xms64m",
            "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.home / 'logs'}",
            "-cp", self._classpath(), main, *args,
        ]

    def prepare(self) -> None:
        self._write_config()
        if (self.home / "data" / "meta.properties").exists():
            return
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        # "--cluster-id=ID", not "-t ID": a random id may start with "-" and would be read as an option
        cmd = self._java("kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}",
                         "-c", str(self.config_file), "--ignore-formatted")
        with self.log_file.open("ab") as fh:
            rc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=self.home).returncode
        if rc != 0:
            raise PixringError(f"kafka storage format failed (exit {rc}); see {self.log_file}")

    def _jmx_agent(self) -> str:
        """``-javaagent``: the Prometheus JMX exporter serving broker metrics on 127.0.0.1:<port>/metrics."""
        from infra.jars import classpath

        agent = next((p for p in classpath("jmx") if p.name.startswith("jmx_prometheus_javaagent")), None)
        if agent is None:
            raise PixringError("no jmx_prometheus_javaagent jar: run `make setup` (or `pixring jars`)")
        rules = Path(__file__).resolve().parent / "prometheus" / "kafka-jmx.yml"
        return f"-javaagent:{agent}=127.0.0.1:{self.settings.prometheus.kafka_exporter_port}:{rules}"

    def command(self) -> list[str]:
        cmd = self._java("kafka.Kafka", str(self.config_file), heap=self.settings.kafka.heap)
        return [cmd[0], self._jmx_agent(), *cmd[1:]]

    def is_ready(self) -> bool:
        from pixring import kafka

        md = kafka.admin(self.settings.kafka, log_level=0).list_topics(timeout=2)
        return bool(md.brokers)


class Neo4jService(Service):
    """Neo4j 5.26 LTS community DBMS, embedded in a small launcher, Bolt on localhost, auth on."""

    name = "neo4j"

    @property
    def endpoint(self) -> str:
        return self.settings.neo4j.bolt_uri

    def ports(self) -> list[tuple[str, int]]:
        n = self.settings.neo4j
        return [(n.host, n.bolt_port)]

    def env(self) -> dict[str, str]:
        env = child_env()
        env["PIXRING_NEO4J_PASSWORD"] = self.settings.neo4j.password.get_secret_value()  # the launcher sets it
        return env

    def command(self) -> list[str]:
        from infra.jars import classpath

        n = self.settings.neo4j
        cp = os.pathsep.join(str(p) for p in classpath("neo4j"))
        return [
            java_bin(), f"-Xmx{n.heap}", "-Xms64m", "-XX:+UseG1GC", "-Djava.awt.headless=true",
            # the page cache's fast path needs these (Neo4j's own launcher passes them too)
            "--add-opens=java.base/java.nio=ALL-UNNAMED", "--add-opens=java.base/java.io=ALL-UNNAMED",
            "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
            "-cp", cp, "pixring.neo4j.Launcher",
            "--home", str(self.home / "db"),
            "--bolt", f"{n.host}:{n.bolt_port}",
            "--pagecache", n.pagecache,
        ]

    def is_ready(self) -> bool:
        from pixring import neo4jdriver

        with neo4jdriver.driver(self.settings.neo4j, connection_timeout=2) as driver:
            driver.verify_connectivity()
        return True


class MLflowService(Service):
    """MLflow tracking server: SQLite backend store, local artifact store, one worker."""

    name = "mlflow"

    @property
    def endpoint(self) -> str:
        return self.settings.mlflow.uri

    def ports(self) -> list[tuple[str, int]]:
        m = self.settings.mlflow
        return [(m.host, m.port)]

    @property
    def auth_config(self) -> Path:
        return self.home / "basic_auth.ini"

    def prepare(self) -> None:
        """With ``PIXRING_MLFLOW_AUTH``: the ``basic-auth`` app's config (its user store beside the tracking
        database; users other than the admin get no permission by default) and the Flask secret of its CSRF
        protection (random, kept in ``flask-secret``, 0600)."""
        if not self.settings.mlflow.auth:
            return
        self.auth_config.write_text(
            "[mlflow]\ndefault_permission = NO_PERMISSIONS\n"
            f"database_uri = sqlite:///{self.home / 'basic_auth.db'}\n"
            f"admin_username = {self.settings.mlflow.user}\n"
            "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
            "grant_default_workspace_access = false\n")
        secret = self.home / "flask-secret"
        if not secret.exists():
            import secrets

            fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(32))

    def command(self) -> list[str]:
        m = self.settings.mlflow
        return [
            sys.executable, "-m", "mlflow", "server",
            "--backend-store-uri", f"sqlite:///{self.home / 'mlflow.db'}",
            "--artifacts-destination", str(self.home / "artifacts"),
            "--serve-artifacts",
            "--host", m.host, "--port", str(m.port), "--workers", "1",
            *(["--app-name", "basic-auth"] if m.auth else []),
        ]

    def env(self) -> dict[str, str]:
        env = child_env(prefixes=("MLFLOW_",))
        # no background job runner (GenAI jobs spawn ~8 huey workers, ~1 GiB): tracking + registry only
        env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
        m = self.settings.mlflow
        if m.auth:
            # the admin user is created from these on the first start only (an empty user store)
            env["MLFLOW_AUTH_CONFIG_PATH"] = str(self.auth_config)
            env["MLFLOW_AUTH_ADMIN_USERNAME"] = m.user
            env["MLFLOW_AUTH_ADMIN_PASSWORD"] = m.password.get_secret_value()
            env["MLFLOW_FLASK_SERVER_SECRET_KEY"] = (self.home / "flask-secret").read_text().strip()
        return env

    def is_ready(self) -> bool:
        with urllib.request.urlopen(f"{self.settings.mlflow.uri}/health", timeout=2) as resp:
            return resp.status == 200


class PrometheusService(Service):
    """Debian's ``/usr/bin/prometheus`` with our own config (``infra/prometheus/config.py``), never the
    Debian systemd unit: storage under ``$PIXRING_HOME/prometheus``, listening on 127.0.0.1 only."""

    name = "prometheus"
    start_timeout_s = 60.0

    @property
    def endpoint(self) -> str:
        return self.settings.prometheus.url

    def ports(self) -> list[tuple[str, int]]:
        p = self.settings.prometheus
        return [(p.host, p.port)]

    @property
    def config_file(self) -> Path:
        return self.home / "prometheus.yml"

    def prepare(self) -> None:
        from infra.prometheus.config import write_config

        write_config(self.settings, self.home)

    def command(self) -> list[str]:
        p = self.settings.prometheus
        binary = shutil.which(p.binary)
        if binary is None:
            raise PixringError(
                f"{p.binary} not found: run `make setup` (infra/install-system-packages.sh installs "
                "Debian's prometheus)"
            )
        return [
            binary,
            f"--config.file={self.config_file}",
            f"--storage.tsdb.path={self.home / 'data'}",
            f"--storage.tsdb.retention.time={p.retention}",
            f"--web.listen-address={p.host}:{p.port}",
            # no --web.enable-lifecycle: nobody may POST /-/quit or /-/reload (a restart reads the new config)
            "--log.level=warn",
        ]

    def is_ready(self) -> bool:
        with urllib.request.urlopen(f"{self.settings.prometheus.url}/-/ready", timeout=2) as resp:
            return resp.status == 200


class RedisService(Service):
    """Debian's ``redis-server`` as the online store (:mod:`pixring.online`), never the Debian unit: bound to
    ``PIXRING_REDIS_HOST`` (loopback), ``requirepass`` from ``PIXRING_REDIS_PASSWORD`` in a config file only its
    owner reads (never on the command line), persistence (AOF or RDB) under ``$PIXRING_HOME/redis``."""

    name = "redis"
    start_timeout_s = 30.0
    binary = "/usr/bin/redis-server"

    @property
    def endpoint(self) -> str:
        r = self.settings.redis
        return f"redis://{r.host}:{r.port}/{r.db}"

    def ports(self) -> list[tuple[str, int]]:
        r = self.settings.redis
        return [(r.host, r.port)]

    @property
    def config_file(self) -> Path:
        return self.home / "redis.conf"

    def prepare(self) -> None:
        write_redis_config(self.settings, self.home)

    def command(self) -> list[str]:
        binary = shutil.which(self.binary)
        if binary is None:
            raise PixringError(f"{self.binary} not found: run `make setup` (infra/install-system-packages.sh "
                               "installs Debian's redis-server)")
        return [binary, str(self.config_file)]

    def is_ready(self) -> bool:
        from pixring.online import client

        return bool(client(self.settings, timeout=2.0).ping())


def write_redis_config(settings: Settings, home: Path, port: int | None = None) -> Path:
    """``home/redis.conf`` (mode 0600): loopback bind, password, persistence in ``home``, no eviction (a full store
    refuses writes, which the stream retries, rather than dropping receipts)."""
    r = settings.redis
    password = r.password.get_secret_value()
    if any(c in password for c in '"\\\n\r'):
        raise PixringError("PIXRING_REDIS_PASSWORD may not hold quotes, backslashes or newlines")
    lines = [f"bind {r.host}", f"port {port or r.port}", "protected-mode yes", f'requirepass "{password}"',
             f"dir {home}", "daemonize no", 'logfile ""', f"maxmemory {r.maxmemory}", "maxmemory-policy noeviction",
             "databases 16"]
    if r.persistence == "aof":
        lines += ["appendonly yes", "appendfsync everysec", 'save ""']
    else:
        lines += ["appendonly no", "save 60 1000 300 10"]
    path = home / "redis.conf"
    home.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text("\n".join(lines) + "\n")
    return path


class BrowserService(Service):
    """Neo4j Browser's static app served on 127.0.0.1 by a small Python server (:mod:`infra.browser`). A service of
    its own, not a route of the API: it is there after a plain ``pixring up`` (the API is on demand), it holds no
    secret (the user logs in to Neo4j in the Browser's form), and the Browser's origin is not the API's (its
    scripts never share storage with the ``/ui`` bearer token)."""

    name = "browser"
    start_timeout_s = 30.0

    @property
    def endpoint(self) -> str:
        return f"{self.settings.browser.url}/"

    def ports(self) -> list[tuple[str, int]]:
        return [(self.settings.browser.host, self.settings.browser.port)]

    def prepare(self) -> None:
        from infra.browser import app_dir
        from infra.jars import resolve

        resolve("browser")
        self._app = app_dir(self.settings)

    def command(self) -> list[str]:
        b = self.settings.browser
        return [sys.executable, "-m", "infra.browser", "--dir", str(self._app), "--host", b.host,
                "--port", str(b.port), "--bolt", self.settings.neo4j.bolt_uri]

    def env(self) -> dict[str, str]:
        # the non-secret PIXRING_ settings (ports, Bolt address) and PYTHONPATH; no secret at all
        return child_env(prefixes=("PIXRING_", "PYTHON"))

    def is_ready(self) -> bool:
        with urllib.request.urlopen(f"http://{self.settings.browser.host}:{self.settings.browser.port}/",
                                    timeout=2) as resp:
            return resp.status == 200


class _PixringCommand(Service):
    """One of pixring's own long-running commands (``pixring stream``, ``pixring api``) run as a service, so the
    demo can start it in the background and ``pixring down`` stops it. Started only when named (``pixring up
    stream api``) or by the demo, never by a plain ``pixring up``."""

    on_demand = True
    start_timeout_s = 180.0
    args: tuple[str, ...] = ()
    #: the secret variables the command uses (all others are withheld)
    secrets: tuple[str, ...] = ()

    def command(self) -> list[str]:
        return [sys.executable, "-m", "pixring.cli", *self.args]

    def env(self) -> dict[str, str]:
        env = child_env(prefixes=PIXRING_ENV_PREFIXES, secrets=self.secrets)
        env["PIXRING_HOME"] = str(self.settings.paths.home)
        env.setdefault("PIXRING_LOG_FORMAT", "json")  # a service's log file is read by tools: one object a line
        return env


class StreamService(_PixringCommand):
    """The Structured Streaming scorer (``pixring stream``); ready when its Prometheus metrics say the scorer
    query runs (``pixring_stream_scoring 1.0``: Spark up, scored topic drained, state and lookups loaded)."""

    name = "stream"
    args = ("stream",)
    # tokenises the keys of pix.transacoes; verifies the champion's signature; reads MLflow
    secrets = ("PIXRING_PII_SECRET", "PIXRING_MODEL_SIGNING_KEY", "PIXRING_REDIS_PASSWORD", "PIXRING_MLFLOW_PASSWORD",
               *MLFLOW_CLIENT_SECRET_VARS)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.settings.streaming.metrics_port}/metrics"

    def ports(self) -> list[tuple[str, int]]:
        return [(self.settings.streaming.metrics_host, self.settings.streaming.metrics_port)]

    def is_ready(self) -> bool:
        with urllib.request.urlopen(self.endpoint, timeout=2) as resp:
            return resp.status == 200 and b"\npixring_stream_scoring 1.0" in resp.read()


class ApiService(_PixringCommand):
    """The FastAPI service (``pixring api``); ready when ``/readyz`` says Neo4j and the read model are there and
    every worker of ``--workers N`` listens with its read model loaded (``workers``: expected / listening / ready)."""

    name = "api"
    args = ("api",)
    secrets = ("PIXRING_PII_SECRET", "PIXRING_MODEL_SIGNING_KEY", "PIXRING_NEO4J_PASSWORD",
               "PIXRING_API_TOKEN_SERVICE", "PIXRING_API_TOKEN_INVESTIGATOR", "PIXRING_API_TOKEN_INVESTIGATOR_PII",
               "PIXRING_API_JWT_SECRET", "PIXRING_REDIS_PASSWORD", "PIXRING_MLFLOW_PASSWORD", *MLFLOW_CLIENT_SECRET_VARS)

    @property
    def endpoint(self) -> str:
        return self.settings.api.url

    def ports(self) -> list[tuple[str, int]]:
        return [(self.settings.api.host, self.settings.api.port)]

    def is_ready(self) -> bool:
        a = self.settings.api
        tls = ssl.create_default_context(cafile=str(a.tls_cert)) if a.tls else None  # the API's own certificate
        with urllib.request.urlopen(f"{a.url}/readyz", timeout=2, context=tls) as resp:
            w = json.load(resp).get("workers", {}) if resp.status == 200 else {}
        return bool(w) and w["listening"] == w["ready"] == w["expected"] == self.settings.api.workers


SERVICES: dict[str, type[Service]] = {
    "kafka": KafkaService,
    "neo4j": Neo4jService,
    "mlflow": MLflowService,
    "prometheus": PrometheusService,
    "redis": RedisService,


    "browser": BrowserService,
    "stream": StreamService,
    "api": ApiService,
}
