"""The deployment files say what the platform needs (no Docker engine here to run them)."""

import re
from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
APIS = ("intake", "evidence", "scoring", "notify")
SERVICES = (*APIS, "web")


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
    routes = {p["path"]: p["backend"]["service"]["name"] for p in ingress["spec"]["rules"][0]["http"]["paths"]}
    assert routes == {**{f"/{name}": name for name in APIS}, "/": "web"}


def test_gateway_routes_the_same_prefixes_as_inovasi_up_and_the_rest_to_the_web_app():
    conf = (DEPLOY / "nginx.conf").read_text()
    for name in APIS:
        assert f"location /{name}/" in conf
    web = conf.split("location / {", 1)[1].split("}", 1)[0]
    assert "proxy_pass http://web:8000;" in web
    assert "X-Forwarded-Proto $scheme" in conf and "X-Forwarded-For $proxy_add_x_forwarded_for" in conf


def test_the_web_app_reaches_the_apis_and_believes_only_its_proxy():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    web = compose["web"]["environment"]
    assert web["INOVASI_WEB_API_URL"] == "http://gateway:8000"
    assert web["INOVASI_WEB_TRUSTED_PROXIES"] == "*"
    assert "ports" not in compose["web"]  # reached only through the gateway
    docs = list(yaml.safe_load_all((DEPLOY / "k8s" / "inovasi.yaml").read_text()))
    deployment = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "web")
    env = {e["name"]: e["value"] for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["INOVASI_WEB_API_URL"] == "http://{service}:8000"
    services = {d["metadata"]["name"] for d in docs if d["kind"] == "Service"}
    assert set(APIS) <= services  # each {service} the URL names exists


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
