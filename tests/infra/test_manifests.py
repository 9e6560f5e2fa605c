"""The path to a cluster, validated offline: kustomize builds, Kubernetes + CRD schemas, cross-references,
Terraform (parse, variables, formatting) and the Workload Identity bindings between the two.

Each check is also shown to fail on a broken copy, so a green run means something.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest

from infra import validate as v


@pytest.fixture(scope="module")
def built() -> dict[str, list[dict]]:
    return {name: v.kustomize_build(folder) for name, folder in v.overlays().items()}


@pytest.fixture(scope="module")
def terraform() -> dict[str, dict]:
    return v.load_terraform()


def _find(docs: list[dict], kind: str, name: str) -> dict:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def test_everything_validates() -> None:
    report = v.validate_all()
    assert report.ok, "\n".join(report.errors)
    assert report.checked["kustomize build base"] == 1 and report.checked["kustomize build gke"] == 1
    assert report.checked["custom resources (vendored schema)"] == 14  # 7 CRs in base and in gke
    assert report.checked["resources (Kubernetes schema)"] >= 40
    assert report.checked["Workload Identity bindings"] == 4


def test_base_holds_the_required_resources(built) -> None:
    kinds = {(d["kind"], d["metadata"]["name"]) for d in built["base"]}
    assert {
        ("Deployment", "pixring-api"), ("HorizontalPodAutoscaler", "pixring-api"), ("Service", "pixring-api"),
        ("SparkApplication", "pixring-stream"), ("Kafka", "pixring"), ("KafkaNodePool", "dual-role"),
        ("KafkaTopic", "pix.transacoes"), ("KafkaTopic", "pix.transacoes.scored"),
        ("KafkaTopic", "pix.transacoes.dlq"), ("KafkaTopic", "pix.alertas"), ("StatefulSet", "neo4j"),
        ("Deployment", "mlflow"), ("NetworkPolicy", "default-deny-ingress"),
    } <= kinds
    assert {n for k, n in kinds if k == "ServiceAccount"} == {
        "pixring-api", "pixring-spark", "pixring-mlflow", "pixring-neo4j"}


def test_gke_overlay_binds_identities_and_scales(built) -> None:
    gke = built["gke"]
    sa = _find(gke, "ServiceAccount", "pixring-spark")
    assert sa["metadata"]["annotations"][v.WI_ANNOTATION] == "pixring-spark@pixring-prod.iam.gserviceaccount.com"
    assert _find(gke, "KafkaTopic", "pix.transacoes")["spec"]["partitions"] == 48
    assert _find(built["base"], "KafkaTopic", "pix.transacoes")["spec"]["partitions"] == 12
    assert _find(gke, "SparkApplication", "pixring-stream")["spec"]["image"] == "pixring/pixring:0.1.0"


@pytest.mark.parametrize("mutate, expect", [
    (lambda d: _find(d, "Deployment", "pixring-api")["spec"].__setitem__("replicas", "two"), "is not of type"),
    (lambda d: _find(d, "Deployment", "pixring-api")["spec"].__setitem__("replica", 2), "replica"),
    (lambda d: _find(d, "KafkaTopic", "pix.alertas")["spec"].__setitem__("partitions", 0), "minimum"),
    (lambda d: _find(d, "SparkApplication", "pixring-stream")["spec"]["executor"].__setitem__("cores", "2"),
     "is not of type"),
    (lambda d: _find(d, "Kafka", "pixring")["spec"]["kafka"]["listeners"][0].__setitem__("type", "public"),
     "is not one of"),
    (lambda d: _find(d, "KafkaNodePool", "dual-role")["spec"].pop("roles"), "'roles' is a required property"),
])
def test_schema_errors_are_caught(built, mutate, expect) -> None:
    docs = copy.deepcopy(built["base"])
    mutate(docs)
    report = v.Report()
    v.validate_schemas(docs, report, "base")
    assert any(expect in e for e in report.errors), report.errors


@pytest.mark.parametrize("mutate, expect", [
    (lambda d: _find(d, "Deployment", "pixring-api")["spec"]["template"]["spec"]["containers"][0]
     ["readinessProbe"]["httpGet"].__setitem__("path", "/healthz"), "readiness probe is not GET /readyz"),
    (lambda d: _find(d, "HorizontalPodAutoscaler", "pixring-api")["spec"]["scaleTargetRef"].__setitem__(
        "name", "nope"), "which is not defined"),
    (lambda d: _find(d, "KafkaTopic", "pix.alertas")["metadata"].__setitem__("name", "pix.alerts"),
     "the settings' topics"),
    (lambda d: _find(d, "StatefulSet", "neo4j")["spec"]["template"]["spec"].__setitem__(
        "serviceAccountName", "default"), "'default', which is not defined"),
    (lambda d: _find(d, "StatefulSet", "neo4j")["spec"]["template"]["spec"]["containers"][0]["resources"].pop(
        "limits"), "lacks cpu/memory limits"),
    (lambda d: next(c for c in d if c["kind"] == "ConfigMap" and c["metadata"]["name"].startswith(
        "pixring-settings"))["data"].__setitem__("PIXRING_KAFKA_BOOTSTRAP", "x"), "PIXRING_KAFKA_BOOTSTRAP is not a setting"),
    (lambda d: d.remove(_find(d, "NetworkPolicy", "default-deny-ingress")), "no default-deny ingress"),
    (lambda d: _find(d, "KafkaTopic", "pix.alertas")["spec"].__setitem__("replicas", 5), "but there are 3 brokers"),
    (lambda d: d.remove(_find(d, "RoleBinding", "pixring-spark-driver")), "no RoleBinding"),
])
def test_reference_errors_are_caught(built, mutate, expect) -> None:
    docs = copy.deepcopy(built["base"])
    v.check_references(copy.deepcopy(docs), clean := v.Report(), "base")
    assert clean.ok, clean.errors
    mutate(docs)
    report = v.Report()
    v.check_references(docs, report, "base")
    assert any(expect in e for e in report.errors), report.errors


def test_workload_identity_must_match_terraform(built, terraform) -> None:
    docs = copy.deepcopy(built["gke"])
    _find(docs, "ServiceAccount", "pixring-api")["metadata"]["annotations"][v.WI_ANNOTATION] = (
        "pixring-spark@pixring-prod.iam.gserviceaccount.com")
    docs.append({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "rogue"}})
    report = v.Report()
    v.check_workload_identity(docs, terraform, report, "gke")
    text = "\n".join(report.errors)
    assert "pixring-api is bound to pixring-spark@" in text
    assert "rogue has no entry in terraform var.workloads" in text and "rogue lacks" in text
    # and the base (no annotations) is not a valid GKE deployment
    report = v.Report()
    v.check_workload_identity(built["base"], terraform, report, "base")
    assert sum("lacks the iam.gke.io" in e for e in report.errors) == 4


def test_terraform_checks_catch_errors(tmp_path) -> None:
    bad = tmp_path / "tf"
    shutil.copytree(v.TERRAFORM, bad)
    main = bad / "main.tf"
    text = main.read_text()
    text = text.replace("var.spark_max_nodes", "var.spark_max_nodez")
    text = text.replace('resource "google_storage_bucket" "mlflow" {', 'resource "google_storage_bucket" "mlflow" {\n\tname = "x" ')
    main.write_text(text)
    report = v.Report()
    v.check_terraform(report, bad)
    errors = "\n".join(report.errors)
    assert "var.spark_max_nodez is used but not declared" in errors
    assert "variable 'spark_max_nodes' is declared but never used" in errors
    assert "main.tf: line" in errors and "tab" in errors
    if shutil.which("terraform"):
        assert "terraform fmt -check failed" in errors
    (bad / "outputs.tf").write_text('output "x" {\n  value = google_storage_bucket.nope.name\n')
    with pytest.raises(v.PixringError, match="outputs.tf: HCL does not parse"):
        v.check_terraform(v.Report(), bad)


def test_terraform_formatting_is_checked_by_terraform_or_our_subset() -> None:
    report = v.Report()
    v.check_terraform(report)
    assert report.ok, report.errors
    if shutil.which("terraform"):
        assert report.checked.get("terraform fmt -check") == 1
    else:
        assert any("terraform fmt -check not run" in n for n in report.notes)
    assert v.fmt_problems("a {\n   b = 1\n}") == ["line 2: indentation of 3 spaces", "no final newline"]


def test_broken_kustomization_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources:\n  - missing.yaml\n")
    with pytest.raises(v.PixringError, match="kustomize build of .* failed"):
        v.kustomize_build(tmp_path)


def test_sizing_plan_matches_the_gke_overlay(built) -> None:
    from infra.sizing import AVG_TPS, PEAK_FACTOR, plan

    assert round(AVG_TPS) == 3623 and round(AVG_TPS * PEAK_FACTOR) == 18113
    p = plan(AVG_TPS * PEAK_FACTOR, stream_per_core=1000, broker_cpu_s_per_million=30, bytes_per_message=43)
    assert (p.executor_cores, p.executors, p.brokers) == (28, 7, 3)
    assert p.partitions <= _find(built["gke"], "KafkaTopic", "pix.transacoes")["spec"]["partitions"]
    app = _find(built["gke"], "SparkApplication", "pixring-stream")["spec"]["executor"]
    # the overlay's executor cores match the partitions (one Kafka partition per task)
    assert app["instances"] * app["cores"] == _find(built["gke"], "KafkaTopic", "pix.transacoes")["spec"]["partitions"]
    with pytest.raises(ValueError):
        plan(18000, stream_per_core=0, broker_cpu_s_per_million=30, bytes_per_message=43)
