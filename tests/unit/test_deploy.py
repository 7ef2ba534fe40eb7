"""The deployment files say what the platform needs (no Docker engine here to run them)."""

from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SERVICES = ("intake", "evidence", "scoring", "notify")


def test_compose_runs_every_service_against_redis_with_aof_postgres_and_minio():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    for name in SERVICES:
        assert compose[name]["command"] == ["serve", name]
    assert "--appendonly" in compose["redis"]["command"] and "yes" in compose["redis"]["command"]
    assert compose["minio"]["image"].startswith("minio/")
    assert compose["postgres"]["image"].startswith("postgres:")


def test_kubernetes_has_a_deployment_service_and_route_per_service():
    docs = list(yaml.safe_load_all((DEPLOY / "k8s" / "inovasi.yaml").read_text()))
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    services = {d["metadata"]["name"] for d in docs if d["kind"] == "Service"}
    assert set(deployments) == set(SERVICES) == services
    for name, deployment in deployments.items():
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["args"] == ["serve", name]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    ingress = next(d for d in docs if d["kind"] == "Ingress")
    paths = {p["path"] for p in ingress["spec"]["rules"][0]["http"]["paths"]}
    assert paths == {f"/{name}" for name in SERVICES}


def test_gateway_routes_the_same_prefixes_as_inovasi_up():
    conf = (DEPLOY / "nginx.conf").read_text()
    for name in SERVICES:
        assert f"location /{name}/" in conf
