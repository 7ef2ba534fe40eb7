"""Property-based fuzzing of the four services from their published OpenAPI documents.

Schemathesis reads each service's `/openapi.json` from the running platform (the four
services under uvicorn, real PostgreSQL and Redis, moto's S3 server), generates requests from
it and sends them, authenticated, to the same server. The test fails on

* any 5xx (`not_a_server_error`);
* an answer the document does not declare: its status, content type, headers or body
  (`status_code_conformance`, `content_type_conformance`, `response_headers_conformance`,
  `response_schema_conformance`);
* a server stricter than its document: data the document allows refused on the data itself
  (`positive_data_acceptance`: a 4xx other than 401, 403, 404, 409 and 412, which are about the
  caller or the state, not the data), and any warning of the run: "schema validation
  mismatch" (every generated request of an operation refused on its data), "missing test
  data", "missing auth" and the rest.

What a JSON Schema cannot state (one field's rule depending on another's value) the document
says in words; `CrossFieldRules` makes the generated valid requests meet those rules, each
named there, so everything else the document allows is still checked. Every operation is
covered, the live feed too (an endless Server-Sent Events response, read for a quarter of a
second), and the upload with files of each type the indicators accept.

One run per service (the parameter), on one platform: the engine runs in a worker thread (it
speaks blocking HTTP) while the platform serves in this module's event loop. Examples are
bounded (`MAX_EXAMPLES` per operation and phase) and the seed fixed, so a run is repeatable;
the four take about two minutes.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import struct
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from hypothesis import strategies as st
from PIL import Image

from services.common.methodology.catalogue import load_methodology
from services.platform import SERVICES, create_platform_app
from tests.support.files import minimal_pdf, tiny_png
from tests.support.journeys import CYCLE, Journey
from tests.support.platform import cleanup, isolated_settings, token
from tests.support.s3 import moto_s3_server
from tests.support.servers import serve

pytestmark = pytest.mark.integration

REGION = "62.10"
AGENCY = "dinkes"
SEED = 20260101
MAX_EXAMPLES = 25
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "positive_data_acceptance",
)
# A 412 says the If-Match sent is stale: the state moved on, as with a 409, the data is fine.
ACCEPTED_STATUSES = ["2xx", "401", "403", "404", "409", "412"]
ADMIN = token("region_admin", REGION)["Authorization"]
OPERATOR = token("operator", REGION, AGENCY)["Authorization"]
VERIFIER = token("verifier", REGION)["Authorization"]


# --- evidence files the indicators accept ----------------------------------------------------


def small_jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


def small_video(brand: bytes) -> bytes:
    """An ISO-BMFF file as far as its first box: what the evidence service looks at."""
    ftyp = b"ftyp" + brand + b"\0\0\0\0" + brand + b"mp41"
    return struct.pack(">I", 4 + len(ftyp)) + ftyp + struct.pack(">I", 16) + b"mdat" + b"\0" * 8


FILES: dict[str, list[bytes]] = {
    "application/pdf": [minimal_pdf(text) for text in ("Surat Keputusan", "Laporan", "Notulen rapat")],
    "image/png": [tiny_png()],
    "image/jpeg": [small_jpeg()],
    "video/mp4": [small_video(b"isom")],
    "video/quicktime": [small_video(b"qt  ")],
}
FILES["application/octet-stream"] = [data for files in FILES.values() for data in files]
KIND_OF = {"application/pdf": "pdf", "image/png": "image", "image/jpeg": "image", "video/mp4": "video",
           "video/quicktime": "video", "application/json": "link"}
FILE_OF_KIND = {"pdf": "application/pdf", "image": "image/png", "video": "video/mp4"}


def kind_of_file(data: bytes) -> str:
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data[4:8] == b"ftyp":
        return "video"
    return "image"


# --- the run's subjects ----------------------------------------------------------------------


@dataclass(frozen=True)
class Subjects:
    """What the generated requests work on, made before the run: without them every request
    naming an id would only find nothing (missing test data)."""

    draft: str  # an innovation to read and change
    eligible: str  # a complete draft: submit succeeds once
    submitted: str  # withdraw succeeds once
    evidence: str  # an SPD item of the region, to read and decide
    subscription: str  # its deliveries are listed


async def make_subjects(client: httpx.AsyncClient) -> Subjects:
    journey = Journey(client, REGION, AGENCY)
    await journey.register_agency()

    async def complete(name: str) -> dict:
        innovation = await journey.create_innovation(name)
        for indicator in load_methodology("iid-2026").mandatory_codes("sid"):
            innovation = await journey.answer(innovation, indicator, 2)
        return innovation

    draft = await journey.create_innovation("Posyandu Digital")
    eligible = await complete("Layanan Antar Obat")
    submitted = await journey.submit(await complete("Sekolah Lapang"))
    evidence = await journey.upload("spd-01")
    body = {"url": "https://bapperinda.example.go.id/log", "scope": {"region": REGION}, "kinds": ["score.updated"]}
    subscription = await journey.check(
        await client.post("/notify/v1/subscriptions", json=body, headers=journey.admin), 201)
    return Subjects(draft["id"], eligible["id"], submitted["id"], evidence["id"], subscription["id"])


# --- configuration -----------------------------------------------------------------------------


# Who calls each operation: a role that may, so requests get past 401/403 to the operation
# itself. The region admin of 62.10 calls the others, but an upload, whose caller depends on
# the answer named (`CrossFieldRules.upload`). A header set here wins over the case's own.
CALLERS = {
    "POST /v1/cycles/{year}/innovations": OPERATOR,
    "PUT /v1/cycles/{year}/innovations/{innovation_id}": OPERATOR,
    "PUT /v1/cycles/{year}/innovations/{innovation_id}/answers/{indicator}": OPERATOR,
    "POST /v1/cycles/{year}/innovations/{innovation_id}/submit": OPERATOR,
    "POST /v1/cycles/{year}/innovations/{innovation_id}/withdraw": OPERATOR,
    "POST /v1/evidence/{evidence_id}/decision": VERIFIER,
    "POST /v1/evidence": None,
}


def operations(subjects: Subjects) -> dict[str, dict[str, Any]]:
    """Per operation, what it works on (a subject made for the run) and how it is run."""
    return {
        "GET /v1/cycles/{year}/innovations/{innovation_id}": {"parameters": {"innovation_id": subjects.draft}},
        "PUT /v1/cycles/{year}/innovations/{innovation_id}": {"parameters": {"innovation_id": subjects.draft}},
        "PUT /v1/cycles/{year}/innovations/{innovation_id}/answers/{indicator}": {
            "parameters": {"innovation_id": subjects.draft},
        },
        "POST /v1/cycles/{year}/innovations/{innovation_id}/submit": {
            "parameters": {"innovation_id": subjects.eligible},
        },
        "POST /v1/cycles/{year}/innovations/{innovation_id}/withdraw": {
            "parameters": {"innovation_id": subjects.submitted},
        },
        "GET /v1/evidence/{evidence_id}": {"parameters": {"evidence_id": subjects.evidence}},
        "POST /v1/evidence/{evidence_id}/decision": {"parameters": {"evidence_id": subjects.evidence}},
        "GET /v1/deliveries": {"parameters": {"subscription": subjects.subscription}},
        # An endless stream: schemathesis reads it for at most the request timeout.
        "GET /v1/cycles/{year}/stream": {
            "request-timeout": 0.25, "max-stream-events": 3, "generation": {"max-examples": 5},
        },
    }


def project_config(service: str, base_url: str, document: dict[str, Any], subjects: Subjects) -> dict[str, Any]:
    labels = sorted(f"{method.upper()} {path}" for path, item in document["paths"].items() for method in item)
    settings = operations(subjects)
    for label in labels:
        caller = CALLERS.get(label, ADMIN)
        if caller is not None:
            settings.setdefault(label, {})["headers"] = {"Authorization": caller}
    return {
        "seed": SEED,
        "base-url": f"{base_url}/{service}",
        "request-timeout": 30,
        "workers": 1,
        "generation": {"max-examples": MAX_EXAMPLES, "database": "none", "no-shrink": True},
        "checks": {
            "enabled": False,
            **{name: {"enabled": True} for name in CHECKS},
            "positive_data_acceptance": {"enabled": True, "expected-statuses": ACCEPTED_STATUSES},
        },
        "parameters": {"year": CYCLE, "code": REGION, "cycle": CYCLE},
        "operations": [{"include-name": label, **settings[label]} for label in labels if label in settings],
    }


# --- rules the documents state in words --------------------------------------------------------


class CrossFieldRules:
    """Makes each positive request meet the rules its document can only describe (one
    field's rule depending on another's value), and sends the If-Match a change needs (the
    version of the subject now, which no document can know). Each rule is named here; the
    server still checks every other published limit on the data as generated."""

    def __init__(self, base_url: str, subjects: Subjects) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30)
        self.subjects = subjects
        self.idempotency_keys: dict[str, str] = {}
        self.rules: dict[str, Callable[[Any], None]] = {
            "POST /v1/cycles/{year}/innovations": self.new_innovation,
            "DELETE /v1/subscriptions/{subscription_id}": self.subscription_to_delete,
            "PUT /v1/cycles/{year}/innovations/{innovation_id}": self.profile,
            "POST /v1/evidence": self.upload,
            "GET /v1/evidence": self.one_subject,
            "GET /v1/cycles/{year}/rankings": self.rankings,
        }

    def __call__(self, context: Any, case: Any, kwargs: dict[str, Any]) -> None:
        label = f"{case.method.upper()} {case.operation.path}"
        if label == "POST /v1/evidence":
            self.uploader(case)
        if case.meta is None or not case.meta.generation.mode.is_positive:
            return
        self.drop_misseeded_headers(case)
        if label in self.rules:
            self.rules[label](case)
        if case.headers and "If-Match" in case.headers:
            version = self.current_version(case)
            if version is not None:
                case.headers["If-Match"] = f'"{version}"'

    @staticmethod
    def drop_misseeded_headers(case: Any) -> None:
        """Not a rule of ours: schemathesis 4.32's coverage phase seeds an optional header
        that has a pattern with a value the pattern refuses ("0") and still calls the case
        positive. Such a header is left out, as a positive case would."""
        for parameter in case.operation.headers:
            definition = parameter.definition
            pattern = definition.get("schema", {}).get("pattern")
            value = (case.headers or {}).get(definition["name"])
            if pattern and not definition.get("required") and isinstance(value, str) and not re.match(pattern, value):
                del case.headers[definition["name"]]

    def current_version(self, case: Any) -> int | None:
        path = case.path_parameters or {}
        if "innovation_id" in path:
            url = f"/intake/v1/cycles/{path['year']}/innovations/{path['innovation_id']}"
            response = self.http.get(url, headers={"Authorization": OPERATOR})
            return response.json()["version"] if response.status_code == 200 else None
        response = self.http.get(f"/intake/v1/cycles/{path['year']}/regions/{path['code']}/spd",
                                 headers={"Authorization": ADMIN})
        if response.status_code != 200:
            return None
        return next((a["version"] for a in response.json()["answers"] if a["indicator"] == path["indicator"]), None)

    def new_innovation(self, case: Any) -> None:
        """A profile as below; an Idempotency-Key used before with another body is a new key
        (reusing one for another body is refused, 422, as the IETF draft says)."""
        self.profile(case)
        key = (case.headers or {}).get("Idempotency-Key")
        if key is None:
            return
        body = json.dumps(case.body, sort_keys=True)
        while self.idempotency_keys.setdefault(key, body) != body:
            key = f"{key}-{len(self.idempotency_keys)}"
        case.headers["Idempotency-Key"] = key

    def subscription_to_delete(self, case: Any) -> None:
        """A subscription that exists (one the run made, or a new one), so deleting succeeds."""
        headers = {"Authorization": ADMIN}
        listed = self.http.get("/notify/v1/subscriptions", headers=headers).json()["subscriptions"]
        ids = [s["id"] for s in listed if s["id"] != self.subjects.subscription]
        if not ids:
            body = {"url": "https://bapperinda.example.go.id/hook", "scope": {"region": REGION},
                    "kinds": ["score.updated"]}
            ids = [self.http.post("/notify/v1/subscriptions", json=body, headers=headers).json()["id"]]
        case.path_parameters["subscription_id"] = ids[0]

    @staticmethod
    def profile(case: Any) -> None:
        """tanggal_penerapan on or after tanggal_uji_coba; urusan_lain without the urusan utama."""
        body = case.body
        if not isinstance(body, dict):
            return
        trial, applied = body.get("tanggal_uji_coba"), body.get("tanggal_penerapan")
        if isinstance(trial, str) and isinstance(applied, str) and applied < trial:
            body["tanggal_uji_coba"], body["tanggal_penerapan"] = applied, trial
        if isinstance(body.get("urusan_lain"), list):
            body["urusan_lain"] = [u for u in body["urusan_lain"] if u != body.get("urusan_utama")]

    @staticmethod
    def uploader(case: Any) -> None:
        """Who uploads (every case, valid or not): an SPD answer's evidence the region admin,
        a SID answer's the operator of the innovation's agency."""
        spd = str((case.query or {}).get("indicator", "")).startswith("spd-")
        case.headers = {**(case.headers or {}), "Authorization": ADMIN if spd else OPERATOR}

    def upload(self, case: Any) -> None:
        """innovation= for a SID indicator, region= for an SPD one (each the uploader's: the
        operator's innovation, the region admin's region); a body of a kind the indicator accepts."""
        query = case.query
        indicator = load_methodology("iid-2026").indicator_by_code[query["indicator"]]
        if indicator.aspect == "spd":
            query.pop("innovation", None)
            query["region"] = REGION
            kinds: tuple[str, ...] = ("pdf", "image")
        else:
            query.pop("region", None)
            query["innovation"] = self.subjects.draft
            kinds = tuple(indicator.evidence.kinds) if indicator.evidence else ("pdf", "image")
        media_type = case.media_type
        kind = KIND_OF.get(media_type) or (kind_of_file(case.body) if isinstance(case.body, bytes) else None)
        if kind in kinds:
            return
        wanted = kinds[0]
        if wanted == "link":
            case.media_type, case.body = "application/json", {"link": "https://www.youtube.com/watch?v=iid"}
        else:
            case.media_type = FILE_OF_KIND[wanted]
            case.body = FILES[case.media_type][0]

    @staticmethod
    def one_subject(case: Any) -> None:
        """innovation= or region=, not both."""
        if "innovation" in case.query:
            case.query.pop("region", None)
        else:
            case.query.setdefault("region", REGION)

    @staticmethod
    def rankings(case: Any) -> None:
        """No province filter on provinsi rankings (a provinsi is ranked nationally only)."""
        if case.query and case.query.get("type") == "provinsi":
            case.query.pop("province", None)


# --- the run ------------------------------------------------------------------------------------


@dataclass
class Findings:
    failures: list[str] = field(default_factory=list)
    warnings: dict[str, list[str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    cases: dict[str, int] = field(default_factory=dict)  # per phase
    statuses: dict[str, dict[int, int]] = field(default_factory=dict)  # per operation
    seconds: float = 0.0

    @property
    def operations(self) -> set[str]:
        return set(self.statuses)

    def report(self, service: str) -> str:
        phases = ", ".join(f"{phase} {count}" for phase, count in self.cases.items())
        lines = [f"{service}: {sum(self.cases.values())} cases ({phases}) over {len(self.operations)} operations "
                 f"in {self.seconds:.0f} s"]
        lines += [f"  {label}: {dict(sorted(counts.items()))}" for label, counts in sorted(self.statuses.items())]
        lines += [f"  FAILURE {text}" for text in self.failures]
        lines += [f"  WARNING {kind}: {', '.join(labels)}" for kind, labels in self.warnings.items()]
        lines += [f"  ERROR {text}" for text in self.errors]
        return "\n".join(lines)

    @property
    def clean(self) -> bool:
        return not (self.failures or self.warnings or self.errors)


def run_schemathesis(service: str, document: dict[str, Any], base_url: str, subjects: Subjects) -> Findings:
    """One schemathesis run over a service's document, as `st run` does it: the engine's
    events go through the CLI's execution context, which is where schemathesis decides its
    warnings (validation mismatch, missing test data, missing auth…)."""
    import schemathesis
    from schemathesis.cli.commands.run.context import ExecutionContext
    from schemathesis.cli.events import LoadingFinished
    from schemathesis.engine import Status, events, from_schema

    config = schemathesis.Config.from_dict(project_config(service, base_url, document, subjects))
    schema = schemathesis.openapi.from_dict(document, config=config)
    context = ExecutionContext(config=schema.config)
    context.on_event(LoadingFinished.from_schema(
        schema, location=f"{base_url}/{service}/openapi.json", start_time=0.0, base_url=f"{base_url}/{service}",
    ))
    findings = Findings()
    started = time.monotonic()
    seen: set[tuple[str, str, str]] = set()
    for event in from_schema(schema).execute():
        context.on_event(event)
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            phase = str(event.phase.value)
            findings.cases[phase] = findings.cases.get(phase, 0) + len(recorder.cases)
            counts = findings.statuses.setdefault(recorder.label, {})
            for interaction in recorder.interactions.values():
                if interaction.response is not None:
                    status = interaction.response.status_code
                    counts[status] = counts.get(status, 0) + 1
            for case_id, checks in recorder.checks.items():
                for check in checks:
                    if check.status != Status.FAILURE or check.failure_info is None:
                        continue
                    failure = check.failure_info.failure
                    key = (recorder.label, check.name, failure.title)
                    if key not in seen:
                        seen.add(key)
                        node = recorder.cases.get(case_id)
                        meta = node.value.meta if node is not None else None
                        where = f"{phase}, {meta.phase.data}" if meta is not None else phase
                        findings.failures.append(
                            f"{recorder.label} [{check.name}] ({where}) {failure.title}: {failure.message}\n"
                            f"{check.failure_info.code_sample}"
                        )
        elif isinstance(event, events.NonFatalError):
            findings.errors.append(f"{event.label}: {event.info.format()}")
        elif isinstance(event, events.FatalError):
            findings.errors.append(f"fatal: {event.exception!r}")
    findings.seconds = time.monotonic() - started
    findings.warnings = {kind: labels for kind, labels in context.warnings.as_labels().items() if labels}
    return findings


@pytest.fixture(scope="module")
async def live_platform() -> AsyncIterator[tuple[str, Subjects]]:
    """The platform, once for the four runs, and the subjects the runs work on."""
    with moto_s3_server() as s3:
        settings = isolated_settings(
            s3_endpoint=s3.netloc, s3_access_key=s3.access_key, s3_secret_key=s3.secret_key,
            s3_bucket="schemathesis-evidence", pg_pool_min=1, pg_pool_max=3,
            notify_deliver=False,  # subscriptions to generated URLs: nothing is sent to them
            log_level="WARNING",  # thousands of requests
            after_event_max_wait_s=0.2,  # `?after_event=` with a generated event id waits this long
        )
        try:
            async with (
                serve(create_platform_app(SERVICES, settings)) as base,
                httpx.AsyncClient(base_url=base, timeout=30) as client,
            ):
                yield base, await make_subjects(client)
        finally:
            await cleanup(settings)


@contextmanager
def extensions(base_url: str, subjects: Subjects) -> Iterator[None]:
    """The evidence files and the cross-field rules, for this test only (schemathesis keeps
    media types and `before_call` hooks process-wide)."""
    import schemathesis
    from schemathesis.core.media_types import MEDIA_TYPE_STRATEGIES
    from schemathesis.hooks import GLOBAL_HOOK_DISPATCHER

    before = dict(MEDIA_TYPE_STRATEGIES)
    for media_type, files in FILES.items():
        schemathesis.openapi.media_type(media_type, st.sampled_from(files))
    rules = CrossFieldRules(base_url, subjects)
    GLOBAL_HOOK_DISPATCHER.register_hook_with_name(rules, "before_call")
    try:
        yield
    finally:
        GLOBAL_HOOK_DISPATCHER.unregister(rules)
        MEDIA_TYPE_STRATEGIES.clear()
        MEDIA_TYPE_STRATEGIES.update(before)
        rules.http.close()


@pytest.mark.parametrize("service", SERVICES)
async def test_the_service_conforms_to_its_published_openapi_document(live_platform, service):
    base, subjects = live_platform
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        document = (await client.get(f"/{service}/openapi.json")).raise_for_status().json()
    with extensions(base, subjects):
        findings = await asyncio.to_thread(run_schemathesis, service, document, base, subjects)
    print(findings.report(service))
    assert findings.clean, findings.report(service)
