"""The deployment files say what the platform needs (no Docker engine here to run them)."""

import re
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


# `inovasi serve` listens on loopback unless INOVASI_HOST says otherwise; in a container that
# would leave the service unreachable, so every deployment sets it.


def test_the_image_listens_on_every_interface():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    final_stage = dockerfile.rsplit("\nFROM ", 1)[1]
    assert re.search(r"^ENV .*\bINOVASI_HOST=0\.0\.0\.0\b", final_stage, re.MULTILINE)


def test_compose_services_listen_on_every_interface():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    for name in SERVICES:
        assert compose[name]["environment"]["INOVASI_HOST"] == "0.0.0.0", name


def test_kubernetes_containers_listen_on_every_interface():
    docs = list(yaml.safe_load_all((DEPLOY / "k8s" / "inovasi.yaml").read_text()))
    config_maps = {d["metadata"]["name"]: d.get("data", {}) for d in docs if d["kind"] == "ConfigMap"}
    for deployment in (d for d in docs if d["kind"] == "Deployment"):
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            env = {}
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    env.update(config_maps[source["configMapRef"]["name"]])
            env.update({item["name"]: item.get("value") for item in container.get("env", [])})
            assert env.get("INOVASI_HOST") == "0.0.0.0", container["name"]
