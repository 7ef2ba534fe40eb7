"""The deployment files say what the platform needs (no Docker engine, kubectl or Grafana
here to run them): parsed, and checked against the code they deploy."""

import importlib
import json
import re
from pathlib import Path
from typing import Any, cast
from unittest.mock import Mock
from urllib.parse import urlsplit

import pytest
import yaml
from fastapi.routing import APIRoute
from prometheus_client.metrics import MetricWrapperBase

from services.common.bus import EventConsumer
from services.common.settings import Settings
from services.evidence.settings import EvidenceSettings
from services.notify.settings import NotifySettings
from services.web.entrypoints import region_pages
from services.web.settings import WebSettings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
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
    docs = manifests()
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
    docs = manifests()
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
    docs = manifests()
    config_maps = {d["metadata"]["name"]: d.get("data", {}) for d in docs if d["kind"] == "ConfigMap"}
    for deployment in (d for d in docs if d["kind"] == "Deployment"):
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            env = {}
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    env.update(config_maps[source["configMapRef"]["name"]])
            env.update({item["name"]: item.get("value") for item in container.get("env", [])})
            assert env.get("INOVASI_HOST") == "0.0.0.0", container["name"]


# --- Kubernetes: credentials, disruption budgets, probes, scaling on every consumed stream ---

K8S = DEPLOY / "k8s"
# Labels a Prometheus scrape adds to every series (queries may group by them).
TARGET_LABELS = {"instance", "job", "pod", "namespace"}
# Names of settings or variables that hold credentials, and URLs with a password in them.
CREDENTIAL_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|ACCESS_KEY|CREDENTIAL", re.IGNORECASE)
URL_WITH_PASSWORD = re.compile(r"://[^/\s:@]*:[^/\s@]+@")


def manifests() -> list[dict[str, Any]]:
    """Every object of every file in deploy/k8s (inovasi.yaml, keda.yaml, secret.example.yaml)."""
    return [doc for path in sorted(K8S.glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc]


def of_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [text for key, value in node.items() for text in (*strings(key), *strings(value))]
    if isinstance(node, list):
        return [text for item in node for text in strings(item)]
    return []


def consumed_streams() -> dict[str, set[tuple[str, str]]]:
    """(logical stream, consumer group) each service consumes, as its ServiceSpec subscribes
    them on a real EventConsumer (nothing connects until start())."""
    consumed: dict[str, set[tuple[str, str]]] = {}
    for name in SERVICES:
        module = importlib.import_module(f"services.{name}.app")
        spec = module.SPEC if hasattr(module, "SPEC") else module.spec()
        consumer = EventConsumer(Settings(), service=spec.name, pool=cast(Any, None))
        if spec.subscribe is not None:
            spec.subscribe(consumer, Mock())
        consumed[name] = {(sub.stream, sub.group) for sub in consumer.subscriptions}
    return consumed


def credential_settings() -> set[str]:
    """The settings that are credentials: every SecretStr field, and the URLs and key that
    carry or pair with a password."""
    names = {"database_url", "redis_url", "s3_access_key"}
    for model in (Settings, EvidenceSettings, NotifySettings, WebSettings):
        for name, field in model.model_fields.items():
            if "SecretStr" in str(field.annotation):
                names.add(name)
    return {f"INOVASI_{name.upper()}" for name in names}


def test_the_settings_know_which_streams_each_service_consumes():
    consumed = consumed_streams()
    assert consumed["scoring"] and consumed["notify"] and consumed["evidence"]
    assert not consumed["intake"] and not consumed["web"]


def test_every_consumed_stream_scales_its_deployment_on_lag_and_pending_entries():
    docs = manifests()
    deployments, scaled = of_kind(docs, "Deployment"), of_kind(docs, "ScaledObject")
    auths = of_kind(docs, "TriggerAuthentication")
    prefix = of_kind(docs, "ConfigMap")["inovasi"]["data"].get("INOVASI_STREAM_PREFIX", "")
    redis_url = urlsplit(of_kind(docs, "Secret")["inovasi"]["stringData"]["INOVASI_REDIS_URL"])
    targets = {obj["spec"]["scaleTargetRef"]["name"]: obj for obj in scaled.values()}
    assert len(targets) == len(scaled), "one ScaledObject per Deployment"
    assert set(targets) <= set(deployments)
    for name, consumed in consumed_streams().items():
        if not consumed:
            assert name not in targets, f"{name} consumes no stream"
            assert deployments[name]["spec"]["replicas"] >= 2
            continue
        spec = targets[name]["spec"]
        expected = {(prefix + stream, group) for stream, group in consumed}
        by_kind: dict[str, set[tuple[str, str]]] = {"lagCount": set(), "pendingEntriesCount": set()}
        for trigger in spec["triggers"]:
            meta = trigger["metadata"]
            assert trigger["type"] == "redis-streams", name
            assert all(isinstance(value, str) for value in meta.values()), f"{name}: KEDA metadata are strings"
            kinds = [kind for kind in by_kind if kind in meta]
            assert len(kinds) == 1, f"{name}: one of lagCount / pendingEntriesCount per trigger ({meta})"
            assert int(meta[kinds[0]]) > 0
            by_kind[kinds[0]].add((meta["stream"], meta["consumerGroup"]))
            assert meta["address"] == f"{redis_url.hostname}:{redis_url.port}", "the Redis of INOVASI_REDIS_URL"
            assert not {"password", "username"} & set(meta), "Redis credentials come from the TriggerAuthentication"
            assert trigger["authenticationRef"]["name"] in auths
        assert by_kind["lagCount"] == expected, f"{name}: a lagCount trigger per consumed stream"
        assert by_kind["pendingEntriesCount"] == expected, f"{name}: a pendingEntriesCount trigger per consumed stream"
        assert 2 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
        # The autoscaler owns the replica count: a re-apply must not reset it.
        assert "replicas" not in deployments[name]["spec"], name


def test_every_deployment_has_a_disruption_budget_and_startup_liveness_and_readiness_probes():
    docs = manifests()
    budgets = of_kind(docs, "PodDisruptionBudget")
    for name, deployment in of_kind(docs, "Deployment").items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        covering = [b for b in budgets.values() if b["spec"]["selector"]["matchLabels"].items() <= labels.items()]
        assert len(covering) == 1, f"{name}: exactly one PodDisruptionBudget selects its pods"
        budget = covering[0]["spec"]
        assert (budget.get("minAvailable"), budget.get("maxUnavailable")) in {(1, None), (None, 1)}, name
        if "minAvailable" in budget:  # with one replica it would block every drain
            assert deployment["spec"].get("replicas", 0) >= 2, name
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            port = container["ports"][0]["containerPort"]
            startup = container["startupProbe"]
            assert startup["httpGet"] == {"path": "/healthz", "port": port}, name
            # Start-up migrates under a lock and replays web.events: minutes, not seconds.
            assert startup["periodSeconds"] * startup["failureThreshold"] >= 120, name
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name


def test_credentials_are_in_the_secret_and_nowhere_else():
    docs = manifests()
    secrets = of_kind(docs, "Secret")
    app_secret = secrets["inovasi"]["stringData"]
    assert credential_settings() <= set(app_secret), "every credential setting is a key of Secret inovasi"
    for name, deployment in of_kind(docs, "Deployment").items():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            assert {"secretRef": {"name": "inovasi"}} in container["envFrom"], name
            for item in container.get("env", []):
                if item["name"] in credential_settings() or CREDENTIAL_NAME.search(item["name"]):
                    assert "secretKeyRef" in item["valueFrom"], f"{name}: {item['name']} from a Secret"
    for name, config in of_kind(docs, "ConfigMap").items():
        for key in config.get("data", {}):
            assert key not in credential_settings() and not CREDENTIAL_NAME.search(key), f"ConfigMap {name}: {key}"
    # No literal of a Secret, nor a URL with a password in it, outside the Secrets.
    secret_values = {value for s in secrets.values() for value in s["stringData"].values() if len(value) >= 6}
    for doc in docs:
        if doc["kind"] == "Secret":
            continue
        for text in strings(doc):
            assert not URL_WITH_PASSWORD.search(text), f"{doc['kind']} {doc['metadata']['name']}: {text}"
            leaked = [value for value in secret_values if value in text]
            assert not leaked, f"{doc['kind']} {doc['metadata']['name']} holds a credential"


def test_the_example_secret_holds_placeholders_only():
    for secret in of_kind(manifests(), "Secret").values():
        for key, value in secret["stringData"].items():
            assert "CHANGE-ME" in value, f"{secret['metadata']['name']}.{key}: no real credential in the repository"


def test_every_live_feed_route_is_unbuffered_at_the_gateway():
    conf = (DEPLOY / "nginx.conf").read_text()
    locations = dict(re.findall(r"location\s+([^{]+?)\s*\{(.*?)\}", conf, re.DOTALL))
    scoring, web_live = locations["/scoring/"], locations["~ ^/daerah/[^/]+/langsung$"]
    for block in (scoring, web_live):
        assert "proxy_buffering off;" in block and "proxy_read_timeout 1h;" in block
    assert "proxy_pass http://web:8000;" in web_live
    # The web app's live feed route is the one that location matches.
    paths = {route.path for route in region_pages.router.routes if isinstance(route, APIRoute)}
    assert "/daerah/{code}/langsung" in paths
    assert re.fullmatch(r"/daerah/[^/]+/langsung", "/daerah/62.10/langsung")


# --- Grafana --------------------------------------------------------------------------------

GRAFANA = DEPLOY / "grafana" / "inovasi-dashboard.json"
DATASOURCE = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
# Being added to services/common/metrics.py at the time the dashboard was written: checked
# like the others once they are defined, skipped (with their names) until then.
COMING = {"inovasi_http_request_seconds", "inovasi_stream_lag", "inovasi_stream_pending"}
METRIC = re.compile(r"\binovasi_[a-z0-9_]+\b")
SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_created")


def dashboard() -> dict[str, Any]:
    return json.loads(GRAFANA.read_text())


def panels(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p for item in items for p in (item, *panels(item.get("panels", [])))]


def queries() -> list[str]:
    board = dashboard()
    found = [t["expr"] for p in panels(board["panels"]) for t in p.get("targets", [])]
    found += [v["definition"] for v in board["templating"]["list"] if v["type"] == "query"]
    return found


def defined_metrics() -> dict[str, Any]:
    """Every exposed sample name of the collectors in services/*/metrics.py (and
    services/common/metrics.py), looked up now: {name: collector}."""
    exposed: dict[str, Any] = {}
    for path in sorted(ROOT.glob("services/*/metrics.py")):
        module = importlib.import_module(f"services.{path.parent.name}.metrics")
        for collector in vars(module).values():
            if not isinstance(collector, MetricWrapperBase):
                continue
            base = collector._name
            names = {"counter": [f"{base}_total"], "gauge": [base],
                     "histogram": [base, f"{base}_bucket", f"{base}_count", f"{base}_sum"],
                     "summary": [base, f"{base}_count", f"{base}_sum"]}[collector._type]
            exposed.update(dict.fromkeys(names, collector))
    return exposed


def family(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def test_the_dashboard_imports_with_a_prometheus_datasource_variable():
    board = dashboard()
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["DS_PROMETHEUS"]["query"] == "prometheus"
    assert board["uid"] and board["title"] and board["schemaVersion"] >= 30
    ids = [p["id"] for p in panels(board["panels"])]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    cells: set[tuple[int, int]] = set()
    for panel in panels(board["panels"]):
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        mine = {(x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])}
        assert not mine & cells, f"{panel['title']} overlaps another panel"
        cells |= mine
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE and target["expr"] and target["refId"], panel["title"]
    # Nothing bound to one Grafana's datasource: every uid but the dashboard's is the variable.
    uids = re.findall(r'"uid": "([^"]*)"', GRAFANA.read_text())
    assert set(uids) == {board["uid"], "${DS_PROMETHEUS}"}, f"datasource uids other than the variable: {set(uids)}"


def test_the_dashboard_queries_only_metrics_and_labels_the_services_define():
    defined = defined_metrics()
    for query in queries():
        names = set(METRIC.findall(query))
        assert names, query
        if any(family(name) in COMING and name not in defined for name in names):
            continue  # test_the_metrics_being_added_exist says which
        missing = sorted(name for name in names if name not in defined)
        assert not missing, f"not defined in services/*/metrics.py: {missing} (in {query})"
        allowed = TARGET_LABELS | {label for name in names for label in defined[name]._labelnames}
        if any(defined[name]._type == "histogram" for name in names):
            allowed.add("le")
        used = {label.strip() for group in re.findall(r"\bby \(([^)]*)\)", query) for label in group.split(",")}
        used |= {m for matcher in re.findall(r"\{([^}]*)\}", query) for m in re.findall(r"(\w+)\s*=~?", matcher)}
        used |= set(re.findall(r"label_values\(\w+,\s*(\w+)\)", query))
        assert used <= allowed, f"labels {sorted(used - allowed)} are not on {sorted(names)}"


def test_the_metrics_being_added_exist():
    defined = {family(name) for name in defined_metrics()}
    queried = {family(name) for query in queries() for name in METRIC.findall(query)}
    missing = sorted((COMING & queried) - defined)
    if missing:
        pytest.skip(f"the dashboard queries metrics not defined yet in services/*/metrics.py: {missing}")


# --- docs/scaling.md --------------------------------------------------------------------------


def test_the_scaling_guide_names_only_real_settings_and_files():
    text = (ROOT / "docs" / "scaling.md").read_text()
    settings = {f"INOVASI_{name.upper()}" for model in (Settings, EvidenceSettings, NotifySettings, WebSettings)
                for name in model.model_fields}
    named = set(re.findall(r"\bINOVASI_[A-Z0-9_]+", text))
    assert named and named <= settings, f"not settings: {sorted(named - settings)}"
    for path in set(re.findall(r"`((?:deploy|services|docs)/[\w./-]+)`", text)):
        assert (ROOT / path).exists(), path
