"""The evidence service against real PostgreSQL, Redis and S3 (moto's server): uploads
streamed to storage and read back through presigned URLs, events in `evidence.events`,
verifiers' decisions, bad input refused with nothing stored, tenancy, and the projection of
innovations fed from `intake.events`."""

from __future__ import annotations

import hashlib
import random
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from redis.asyncio import Redis

from services.common import events as ev
from services.common.tokens import UploadGrant, UploadGrants, issue_token
from services.evidence.adapters import file_checks
from services.evidence.app import create_app
from services.evidence.handlers import project_innovations
from services.evidence.settings import EvidenceSettings
from tests.integration.evidence import samples
from tests.integration.evidence.streams import MiB, large_pdf
from tests.support import events as sample
from tests.support.infra import unique_suffix, wait_until
from tests.support.platform import AUTH_SECRET, cleanup, isolated_settings, running, token
from tests.support.s3 import S3Endpoint

pytestmark = pytest.mark.integration

REGION = "62.10"  # Kabupaten Gunung Mas
OTHER_REGION = "62.11"
CAP = 6 * MiB  # small upload cap: just over one 5 MiB part, so "over the cap" is cheap to send
PDF = samples.minimal_pdf()  # real ones: a PDF and a PNG are read before they are accepted
PNG = samples.tiny_png()
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + random.Random(2).randbytes(3000)


@dataclass
class Service:
    client: httpx.AsyncClient
    settings: EvidenceSettings
    redis: Redis
    app: Any
    s3: Any  # boto3 client looking at the bucket from outside

    @property
    def pool(self):
        return self.app.state.runtime.pool

    async def innovation(self, agency: str = "dinkes", *, region: str = REGION, cycle: int = 2026, **kw: Any) -> str:
        """Feed the projection an innovation (as intake would) and wait until it is known."""
        innovation_id = kw.pop("innovation_id", f"inn-{unique_suffix()}")
        await self.publish_innovation(innovation_id, agency, region=region, cycle=cycle, **kw)

        async def known():
            async with self.pool.acquire() as conn:
                return await conn.fetchval("SELECT version FROM innovations WHERE id = $1", innovation_id)

        await wait_until(known, timeout=10)
        return innovation_id

    async def publish_innovation(
        self, innovation_id: str, agency: str, *, region: str = REGION, cycle: int = 2026,
        type: str = "innovation.created", version: int = 1,
    ) -> ev.Envelope:
        event = sample.innovation(
            type, innovation_id, data={"agency_id": agency}, region=region, cycle=cycle, version=version
        )
        await self.redis.xadd(self.settings.stream(ev.INTAKE_STREAM), ev.to_entry(event))
        return event

    async def relay_idle(self) -> bool:
        async with self.pool.acquire() as conn:
            return await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0

    async def events(self) -> list[ev.Envelope]:
        entries = await self.redis.xrange(self.settings.stream(ev.EVIDENCE_STREAM))
        return [ev.from_entry(fields) for _, fields in entries]

    async def events_of(self, evidence_id: str, count: int) -> list[ev.Envelope]:
        async def arrived():
            found = [e for e in await self.events() if e.subject == evidence_id]
            return found if len(found) >= count else None

        return await wait_until(arrived, timeout=10)

    async def footprint(self) -> dict[str, int]:
        """Everything an upload or a decision leaves behind, to show that a refusal left nothing."""
        await wait_until(self.relay_idle)  # events of earlier requests are all on the stream
        async with self.pool.acquire() as conn:
            rows = await conn.fetchval("SELECT count(*) FROM evidence")
            versions = await conn.fetchval("SELECT coalesce(sum(version), 0) FROM evidence")
            outbox = await conn.fetchval("SELECT count(*) FROM outbox")
        bucket = self.settings.s3_bucket
        objects = self.s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0)
        uploads = len(self.s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []))
        stream = await self.redis.xlen(self.settings.stream(ev.EVIDENCE_STREAM))
        return {"rows": rows, "versions": versions, "outbox": outbox, "objects": objects,
                "multipart_uploads": uploads, "events": stream}


@pytest.fixture(scope="module")
async def service(s3_endpoint: S3Endpoint, s3_inspector: Any) -> AsyncIterator[Service]:
    base = isolated_settings(
        s3_endpoint=s3_endpoint.url,
        s3_access_key=s3_endpoint.access_key,
        s3_secret_key=s3_endpoint.secret_key,
        s3_region=s3_endpoint.region,
        s3_bucket=f"evidence-{unique_suffix()}",  # created by the service at start
    )
    settings = EvidenceSettings(**{**base.model_dump(), "evidence_max_upload_bytes": CAP})
    app = create_app(settings)
    redis = Redis.from_url(settings.redis_url)
    try:
        async with running(app) as client:
            yield Service(client, settings, redis, app, s3_inspector)
    finally:
        await redis.aclose()
        await cleanup(settings)


def operator(agency: str = "dinkes", region: str = REGION) -> dict[str, str]:
    return token("operator", region, agency)


async def upload(
    service: Service, body: bytes, *, headers: dict[str, str], content_type: str = "application/octet-stream",
    **query: Any,
) -> httpx.Response:
    params = {"cycle": 2026, **query}
    return await service.client.post(
        "/v1/evidence", params=params, content=body, headers={**headers, "Content-Type": content_type}
    )


def problem_fields(response: httpx.Response) -> list[str]:
    return [p["field"] for p in response.json().get("problems", [])]


# --------------------------------------------------------------------------- uploads


async def test_uploaded_files_read_back_byte_for_byte_through_the_download_url(service: Service) -> None:
    innovation = await service.innovation("dinkes")
    cases = [("sid-16", PDF, "pdf", "application/pdf"), ("sid-19", PNG, "image", "image/png")]
    for indicator, content, kind, content_type in cases:
        response = await upload(service, content, headers=operator(), innovation=innovation, indicator=indicator)
        assert response.status_code == 201, response.text
        item = response.json()
        digest = hashlib.sha256(content).hexdigest()
        assert (item["kind"], item["state"], item["size"], item["sha256"]) == (kind, "pending", len(content), digest)
        owner = (item["innovation"], item["region"], item["agency"], item["version"])
        assert owner == (innovation, REGION, "dinkes", 1)
        assert response.headers["location"].endswith(f"/v1/evidence/{item['id']}")

        read = await service.client.get(f"/v1/evidence/{item['id']}", headers=operator())
        assert read.status_code == 200
        download = read.json()["download"]
        query = parse_qs(urlsplit(download["url"]).query)
        assert int(query["X-Amz-Expires"][0]) <= 300  # short-lived
        async with httpx.AsyncClient(timeout=10) as outside:
            fetched = await outside.get(download["url"])
        assert fetched.status_code == 200
        assert hashlib.sha256(fetched.content).hexdigest() == digest
        assert fetched.headers["content-type"] == content_type
        assert f"{indicator}-{item['id']}" in fetched.headers["content-disposition"]

        (stored,) = await service.events_of(item["id"], 1)
        assert isinstance(stored, ev.EvidenceStored)
        assert (stored.version, stored.cycle, stored.region) == (1, 2026, REGION)
        assert stored.data.model_dump() == {
            "evidence_id": item["id"], "innovation_id": innovation, "indicator": indicator, "state": "pending",
            "reason": None, "kind": kind, "sha256": digest, "size": len(content), "content_type": content_type,
        }


async def test_region_admin_uploads_spd_evidence_and_video_indicators_take_files_or_links(service: Service) -> None:
    spd = await upload(service, PNG, headers=token("region_admin"), region=REGION, indicator="spd-01")
    assert spd.status_code == 201, spd.text
    assert (spd.json()["innovation"], spd.json()["agency"], spd.json()["kind"]) == (None, None, "image")
    (stored,) = await service.events_of(spd.json()["id"], 1)
    assert stored.data.innovation_id is None and stored.region == REGION

    innovation = await service.innovation("dinkes")
    video = await upload(service, MP4, headers=operator(), innovation=innovation, indicator="sid-35")
    assert video.status_code == 201 and video.json()["kind"] == "video", video.text

    link = await service.client.post(
        "/v1/evidence", params={"cycle": 2026, "innovation": innovation, "indicator": "sid-35"},
        json={"link": "https://www.youtube.com/watch?v=posyandu"}, headers=operator(),
    )
    assert link.status_code == 201, link.text
    item = link.json()
    youtube = "https://www.youtube.com/watch?v=posyandu"
    assert (item["kind"], item["link"], item["sha256"], item["size"]) == ("link", youtube, None, None)
    read = await service.client.get(f"/v1/evidence/{item['id']}", headers=token("verifier"))
    assert read.status_code == 200 and read.json()["download"] is None
    (stored,) = await service.events_of(item["id"], 1)
    assert stored.data.kind == "link" and stored.data.sha256 is None


@pytest.mark.parametrize("length_declared", [True, False], ids=["content-length", "chunked"])
async def test_a_file_larger_than_one_part_streams_through_in_pieces(service: Service, length_declared: bool) -> None:
    innovation = await service.innovation("dinkes")
    # Sent in odd-sized chunks as a network would. With its length declared (as browsers and
    # curl do) it goes to storage as one streamed PUT; without, as a multipart upload.
    source = large_pdf(CAP - 1000, (300_007,), seed=3)
    length = {"Content-Length": str(source.total)} if length_declared else {}
    response = await service.client.post(
        "/v1/evidence", params={"cycle": 2026, "innovation": innovation, "indicator": "sid-21"},
        content=source, headers={**operator(), "Content-Type": "application/pdf", **length},
    )
    assert response.status_code == 201, response.text
    assert (response.json()["size"], response.json()["sha256"]) == (source.produced, source.sha256)
    async with service.pool.acquire() as conn:
        key = await conn.fetchval("SELECT object_key FROM evidence WHERE id = $1", response.json()["id"])
    etag = service.s3.head_object(Bucket=service.settings.s3_bucket, Key=key)["ETag"]
    assert ("-" not in etag) == length_declared, etag  # a multipart upload's ETag ends in -<parts>
    read = await service.client.get(f"/v1/evidence/{response.json()['id']}", headers=operator())
    url = read.json()["download"]["url"]
    digest = hashlib.sha256()
    async with httpx.AsyncClient(timeout=30) as outside, outside.stream("GET", url) as download:
        async for block in download.aiter_bytes():
            digest.update(block)
    assert digest.hexdigest() == source.sha256


# --------------------------------------------------------------------------- decisions


async def test_decisions_publish_the_new_state_with_increasing_versions(service: Service) -> None:
    innovation = await service.innovation("dinkes")
    uploaded = await upload(service, PDF, headers=operator(), innovation=innovation, indicator="sid-17")
    evidence_id = uploaded.json()["id"]
    url = f"/v1/evidence/{evidence_id}/decision"
    verifier = token("verifier")

    accepted = await service.client.post(url, json={"decision": "accepted"}, headers=verifier)
    assert accepted.status_code == 200, accepted.text
    assert (accepted.json()["state"], accepted.json()["version"]) == ("accepted", 2)

    # Repeating the current decision changes nothing and publishes nothing.
    again = await service.client.post(url, json={"decision": "accepted"}, headers=verifier)
    assert again.status_code == 200 and again.json()["version"] == 2

    reason = "SK kepala daerah tidak ditandatangani"
    rejected = await service.client.post(url, json={"decision": "rejected", "reason": reason}, headers=verifier)
    assert rejected.status_code == 200
    assert (rejected.json()["state"], rejected.json()["reason"], rejected.json()["version"]) == ("rejected", reason, 3)

    events = await service.events_of(evidence_id, 3)
    assert [(type(e), e.version, e.data.state) for e in events] == [
        (ev.EvidenceStored, 1, "pending"), (ev.EvidenceAccepted, 2, "accepted"), (ev.EvidenceRejected, 3, "rejected"),
    ]
    # Each write names the event it caused (body and X-Event-Id); a repeated decision none.
    writes = [uploaded, accepted, rejected]
    assert [w.json()["event_id"] for w in writes] == [str(e.event_id) for e in events]
    assert [w.headers["x-event-id"] for w in writes] == [str(e.event_id) for e in events]
    assert again.json()["event_id"] is None and "x-event-id" not in again.headers
    assert events[2].data.reason == reason and events[2].data.sha256 == hashlib.sha256(PDF).hexdigest()
    assert events[2].data.innovation_id == innovation and events[2].data.kind == "pdf"

    history = (await service.client.get(f"/v1/evidence/{evidence_id}", headers=operator())).json()["decisions"]
    decisions = [(d["version"], d["decision"], d["reason"]) for d in history]
    assert decisions == [(2, "accepted", None), (3, "rejected", reason)]


async def test_bad_decisions_are_refused_naming_the_field_and_change_nothing(service: Service) -> None:
    innovation = await service.innovation("dinkes")
    uploaded = await upload(service, PDF, headers=operator(), innovation=innovation, indicator="sid-18")
    evidence_id = uploaded.json()["id"]
    await service.events_of(evidence_id, 1)
    url = f"/v1/evidence/{evidence_id}/decision"
    before = await service.footprint()
    cases = [
        ({"json": {"decision": "rejected"}}, 422, "body.reason"),
        ({"json": {"decision": "rejected", "reason": "   "}}, 422, "body.reason"),
        ({"json": {"decision": "maybe"}}, 422, "body.decision"),
        ({"json": {}}, 422, "body.decision"),
        ({"json": {"decision": "accepted", "score": 3}}, 422, "body.score"),
        ({"json": ["accepted"]}, 422, "body"),
        ({"content": b"accepted", "headers": {"Content-Type": "application/json"}}, 422, "body"),
        ({"json": {"decision": "rejected", "reason": "x" * 2001}}, 422, "body.reason"),
        ({"json": {"decision": "rejected", "reason": "buram\u0000"}}, 422, "body.reason"),
        ({"content": b"{" * 20_000, "headers": {"Content-Type": "application/json"}}, 413, "body"),
    ]
    for kwargs, status, field in cases:
        headers = {**token("verifier"), **kwargs.pop("headers", {})}
        response = await service.client.post(url, headers=headers, **kwargs)
        assert response.status_code == status, (kwargs, response.text)
        assert field in problem_fields(response), (kwargs, response.json())
    missing = await service.client.post(
        "/v1/evidence/no-such-id/decision", json={"decision": "accepted"}, headers=token("verifier")
    )
    assert missing.status_code == 404
    for path in ("/v1/evidence/a%00b", "/v1/evidence/a%00b/decision"):
        method = "POST" if path.endswith("decision") else "GET"
        odd = await service.client.request(method, path, json={"decision": "accepted"}, headers=token("verifier"))
        assert odd.status_code == 422 and problem_fields(odd) == ["path.evidence_id"], odd.text
    nul_queries = (
        {"after": "x\x00", "region": REGION},
        {"indicator": "sid\x00", "region": REGION},
        {"innovation": "i\x00"},
    )
    for query in nul_queries:
        odd = await service.client.get("/v1/evidence", params={"cycle": 2026, **query}, headers=token("verifier"))
        assert odd.status_code == 422, odd.text
    assert await service.footprint() == before
    unchanged = await service.client.get(f"/v1/evidence/{evidence_id}", headers=token("verifier"))
    assert unchanged.json()["state"] == "pending"


async def test_json_the_parser_cannot_read_is_refused_on_both_endpoints(service: Service) -> None:
    innovation = await service.innovation("dinkes")
    uploaded = await upload(service, PDF, headers=operator(), innovation=innovation, indicator="sid-18")
    evidence_id = uploaded.json()["id"]
    await service.events_of(evidence_id, 1)
    before = await service.footprint()
    json_type = {"Content-Type": "application/json"}
    bodies = [
        (b"[" * 10_000, "nested too deeply"),  # RecursionError in json.loads
        (b'{"link": ' * 1_500, "nested too deeply"),
        (b'{"decision": "accepted", "reason": ' + b"[" * 5_000 + b"]" * 5_000 + b"}", "nested too deeply"),
        (b"1" * 5_000, "too many digits"),  # int() refuses more than 4300 digits: ValueError
        (b'{"link": ' + b"9" * 5_000 + b"}", "too many digits"),
        (b"\xff\xfe{\x00", "JSON"),
    ]
    for body, words in bodies:
        link = await upload(service, body, headers=operator(), content_type="application/json",
                            innovation=innovation, indicator="sid-35")
        decision = await service.client.post(
            f"/v1/evidence/{evidence_id}/decision", content=body, headers={**token("verifier"), **json_type}
        )
        for response in (link, decision):
            assert response.status_code == 422, (body[:40], response.text)
            assert response.json()["problems"][0]["field"] == "body", (body[:40], response.text)
            assert words in response.json()["problems"][0]["reason"], (body[:40], response.text)
    assert await service.footprint() == before


# --------------------------------------------------------------------------- bad uploads


async def test_bad_uploads_are_refused_naming_the_problem_and_store_nothing(service: Service) -> None:
    innovation = await service.innovation("dinkes")
    before = await service.footprint()
    sid = {"innovation": innovation}
    cases: list[tuple[str, dict[str, Any], int, str, str]] = [
        # (what, upload kwargs, status, field, words the reason must contain)
        ("PNG bytes for a PDF-only indicator", {"body": PNG, "indicator": "sid-16", **sid}, 422, "body", "PNG image"),
        ("text calling itself a PDF", {"body": b"Surat Keputusan Bupati", "content_type": "application/pdf",
                                       "indicator": "sid-16", **sid}, 422, "body", "not a recognised format"),
        ("a PNG labelled as a PDF", {"body": PNG, "content_type": "application/pdf", "indicator": "sid-19", **sid},
         422, "header.content-type", "PNG image"),
        ("a video where an image is wanted", {"body": MP4, "indicator": "sid-30", **sid}, 422, "body", "image"),
        ("a Word document", {"body": b"PK\x03\x04" + bytes(100), "indicator": "sid-16", **sid}, 422, "body", "ZIP"),
        ("an empty file", {"body": b"", "indicator": "sid-16", **sid}, 422, "body", "empty"),
        ("over the cap", {"body": PDF + bytes(CAP), "indicator": "sid-16", **sid}, 413, "body", str(CAP)),
        ("unknown indicator", {"body": PDF, "indicator": "sid-99", **sid}, 422, "query.indicator", "sid-99"),
        ("SPD indicator with innovation=", {"body": PDF, "indicator": "spd-01", **sid}, 422, "query.innovation", "SPD"),
        ("SID indicator with region=", {"body": PDF, "indicator": "sid-16", "region": REGION},
         422, "query.region", "SID"),
        ("no innovation nor region", {"body": PDF, "indicator": "sid-16"}, 422, "query.innovation", "required"),
        ("unknown cycle", {"body": PDF, "indicator": "sid-16", "cycle": 1999, **sid}, 422, "query.cycle", "1999"),
        ("cycle not a number", {"body": PDF, "indicator": "sid-16", "cycle": "next", **sid}, 422, "query.cycle", ""),
        ("unknown region", {"body": PDF, "indicator": "spd-01", "region": "99.99"}, 422, "query.region", "99.99"),
        ("a multipart form", {"body": b"--x\r\n", "content_type": "multipart/form-data; boundary=x",
                              "indicator": "sid-16", **sid}, 415, "header.content-type", "bytes"),
        ("a link for a PDF-only indicator", {"body": b'{"link": "https://example.org/sk.pdf"}',
                                             "content_type": "application/json", "indicator": "sid-16", **sid},
         422, "body.link", "pdf"),
        ("a link that is not http(s)", {"body": b'{"link": "javascript:alert(1)"}', "content_type": "application/json",
                                        "indicator": "sid-35", **sid}, 422, "body.link", "http"),
        ("a link with a broken IPv6 host", {"body": b'{"link": "https://[::1/"}', "content_type": "application/json",
                                            "indicator": "sid-35", **sid}, 422, "body.link", "not a valid URL"),
        ("a link with a port out of range", {"body": b'{"link": "https://example.org:99999/v"}',
                                             "content_type": "application/json", "indicator": "sid-35", **sid},
         422, "body.link", "not a valid URL"),
        ("a link with a port that is no number", {"body": b'{"link": "https://example.org:x/v"}',
                                                  "content_type": "application/json", "indicator": "sid-35", **sid},
         422, "body.link", "not a valid URL"),
        ("a link body that is not JSON", {"body": b"https://youtu.be/x", "content_type": "application/json",
                                          "indicator": "sid-35", **sid}, 422, "body", "JSON"),
        ("a link body without link", {"body": b'{"url": "https://youtu.be/x"}', "content_type": "application/json",
                                      "indicator": "sid-35", **sid}, 422, "body.link", ""),
    ]
    for what, kwargs, status, field, words in cases:
        body = kwargs.pop("body")
        headers = operator() if "region" not in kwargs else token("region_admin")
        response = await upload(service, body, headers=headers, **kwargs)
        assert response.status_code == status, (what, response.text)
        problems = response.json()["problems"]
        assert field in [p["field"] for p in problems], (what, problems)
        assert words in " ".join(p["reason"] for p in problems), (what, problems)
    missing_indicator = await service.client.post(
        "/v1/evidence", params={"cycle": 2026, **sid}, content=PDF, headers=operator()
    )
    assert missing_indicator.status_code == 422 and "query.indicator" in problem_fields(missing_indicator)
    missing_cycle = await service.client.post(
        "/v1/evidence", params={"indicator": "sid-16", **sid}, content=PDF, headers=operator()
    )
    assert missing_cycle.status_code == 422 and "query.cycle" in problem_fields(missing_cycle)
    assert await service.footprint() == before


DAMAGED = "(the file may be truncated or damaged; export or download it again)"


@pytest.fixture(autouse=True)
def own_temp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The uploads' temporary copies go to this test's own directory: other runs of the
    suite on the machine at the same time write theirs to the shared one."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


def scratch_copies() -> set[Path]:
    """The temporary copies of uploads now on disk (each is deleted when its upload ends)."""
    return set(Path(tempfile.gettempdir()).glob("inovasi-evidence-*"))


# (the file, indicator, how its refusal starts); sid-16 takes PDFs, sid-19 images
REFUSED_FILES = [
    pytest.param(samples.pdf_with_garbage_after_signature, "sid-16", "the PDF cannot be read: ", id="pdf-garbage"),
    pytest.param(samples.truncated_pdf, "sid-16", "the PDF cannot be read: ", id="pdf-truncated"),
    pytest.param(samples.pdf_without_pages, "sid-16", "the PDF has no pages", id="pdf-no-pages"),
    pytest.param(samples.password_protected_pdf, "sid-16",
                 "the PDF is protected by a password, so verifiers cannot open it", id="pdf-password"),
    pytest.param(samples.png_with_garbage_after_signature, "sid-19", "the PNG image cannot be decoded: ",
                 id="png-garbage"),
    pytest.param(samples.png_with_broken_pixels, "sid-19", "the PNG image cannot be decoded: ", id="png-broken-pixels"),
    pytest.param(samples.truncated_png, "sid-19", "the PNG image cannot be decoded: ", id="png-truncated"),
    pytest.param(samples.jpeg_with_garbage_after_header, "sid-19", "the JPEG image cannot be decoded: ",
                 id="jpeg-garbage"),
    pytest.param(samples.truncated_jpeg, "sid-19", "the JPEG image cannot be decoded: ", id="jpeg-truncated"),
    pytest.param(lambda: samples.png_declaring(10_000, 10_000), "sid-19", "the PNG image is 10000 x 10000 pixels",
                 id="png-bomb"),  # over Pillow's limit: it only warns
    pytest.param(lambda: samples.png_declaring(100_000, 100_000), "sid-19", "the PNG image has more pixels than",
                 id="png-bomb-huge"),  # over twice the limit: Pillow refuses to open it
]


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # Pillow's, for the bombs
@pytest.mark.parametrize(("make", "indicator", "reason_start"), REFUSED_FILES)
async def test_a_file_that_only_starts_like_its_type_is_refused_and_leaves_nothing(
    service: Service, make: Callable[[], bytes], indicator: str, reason_start: str
) -> None:
    innovation = await service.innovation("dinkes")
    before, copies_before = await service.footprint(), scratch_copies()

    response = await upload(service, make(), headers=operator(), innovation=innovation, indicator=indicator)

    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_request"
    (problem,) = response.json()["problems"]
    assert problem["field"] == "body" and problem["reason"].startswith(reason_start), problem
    if "cannot be" in reason_start:
        assert problem["reason"].endswith(DAMAGED), problem
    if "pixels" in reason_start:
        assert "decompression bombs" in problem["reason"], problem
    # It was stored before it was read: its object is removed, and no row or event written.
    assert await service.footprint() == before
    assert scratch_copies() <= copies_before


async def test_encrypted_pdfs_that_open_without_a_password_and_jpegs_are_accepted(service: Service) -> None:
    innovation = await service.innovation("dinkes")
    copies_before = scratch_copies()
    for content, indicator, kind in [
        (samples.permissions_only_pdf(), "sid-16", "pdf"),  # a password only guards its permissions
        (samples.small_jpeg(), "sid-19", "image"),
    ]:
        response = await upload(service, content, headers=operator(), innovation=innovation, indicator=indicator)
        assert response.status_code == 201, response.text
        assert (response.json()["kind"], response.json()["size"]) == (kind, len(content))
    assert scratch_copies() <= copies_before


async def test_a_check_that_cannot_run_removes_the_stored_object(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    innovation = await service.innovation("dinkes")
    before = await service.footprint()

    async def cannot_read(*_: Any) -> None:
        raise OSError("no such file")

    monkeypatch.setattr(file_checks, "read_structure", cannot_read)
    response = await upload(service, PDF, headers=operator(), innovation=innovation, indicator="sid-16")
    assert response.status_code == 503 and response.json()["error"] == "unavailable", response.text
    assert "could not be checked" in response.json()["reason"]
    assert await service.footprint() == before


async def test_a_declared_length_over_the_cap_is_refused_before_reading(service: Service) -> None:
    innovation = await service.innovation("dinkes")
    before = await service.footprint()

    async def body() -> AsyncIterator[bytes]:
        yield PDF  # a client announcing more than the cap; refused before its bytes are read

    request = service.client.build_request(
        "POST", "/v1/evidence", params={"cycle": 2026, "innovation": innovation, "indicator": "sid-16"},
        content=body(), headers={**operator(), "Content-Length": str(CAP + 1)},
    )
    refused = await service.client.send(request)
    assert refused.status_code == 413 and problem_fields(refused) == ["body"]
    assert await service.footprint() == before


async def test_a_malformed_declared_length_is_ignored_and_a_huge_one_refused(service: Service) -> None:
    innovation = await service.innovation("dinkes")
    params = {"cycle": 2026, "innovation": innovation, "indicator": "sid-16"}

    async def send(content_length: bytes) -> httpx.Response:
        # Raw header bytes (httpx would refuse to encode "²" itself); an HTTP server in front
        # may refuse such a header, but the service must not fail on it either way.
        request = service.client.build_request("POST", "/v1/evidence", params=params, content=PDF, headers=operator())
        request.headers["Content-Length"] = content_length.decode("latin-1")
        return await service.client.send(request)

    before = await service.footprint()
    for huge in (b"9" * 5_000, b"0" * 5_000 + str(CAP + 1).encode()):  # int() refuses over 4300 digits
        refused = await send(huge)
        assert refused.status_code == 413 and problem_fields(refused) == ["body"], refused.text
    assert await service.footprint() == before
    for odd in (b"\xb2", b"\xb9\xb2", b"-1", b"1e9", b"0" * 5_000 + str(len(PDF)).encode()):
        # "²".isdigit() is true but int("²") raises; the cap still holds on the bytes received.
        accepted = await send(odd)
        assert accepted.status_code == 201, (odd[:10], accepted.text)
        assert accepted.json()["size"] == len(PDF)


async def test_a_failed_database_write_removes_the_stored_object(service: Service) -> None:
    innovation = await service.innovation("dinkes")
    before = await service.footprint()
    async with service.pool.acquire() as conn:
        # A real failure of the insert, after the bytes reached storage.
        await conn.execute("ALTER TABLE evidence ADD CONSTRAINT refuse_all CHECK (false) NOT VALID")
    try:
        response = await upload(service, PDF, headers=operator(), innovation=innovation, indicator="sid-16")
    finally:
        async with service.pool.acquire() as conn:
            await conn.execute("ALTER TABLE evidence DROP CONSTRAINT refuse_all")
    assert response.status_code == 503, response.text
    assert await service.footprint() == before


# --------------------------------------------------------------------------- tenancy


async def test_tenants_stay_apart(service: Service) -> None:
    ours = await service.innovation("dinkes")
    theirs = await service.innovation("disdik")
    elsewhere = await service.innovation("dinkes", region=OTHER_REGION)
    mine = (await upload(service, PDF, headers=operator(), innovation=ours, indicator="sid-16")).json()["id"]
    other = (await upload(service, PDF, headers=operator("disdik"), innovation=theirs, indicator="sid-16")).json()["id"]
    spd = (await upload(service, PDF, headers=token("region_admin"), region=REGION, indicator="spd-02a")).json()["id"]

    async def status(method: str, url: str, headers: dict[str, str], **kw: Any) -> int:
        return (await service.client.request(method, url, headers=headers, **kw)).status_code

    # Reading: the owner and the region's admins and verifiers; others do not see it exists.
    assert await status("GET", f"/v1/evidence/{mine}", operator()) == 200
    assert await status("GET", f"/v1/evidence/{mine}", token("region_admin")) == 200
    assert await status("GET", f"/v1/evidence/{mine}", token("verifier")) == 200
    assert await status("GET", f"/v1/evidence/{mine}", operator("disdik")) == 404
    assert await status("GET", f"/v1/evidence/{mine}", operator("dinkes", OTHER_REGION)) == 404
    assert await status("GET", f"/v1/evidence/{mine}", token("verifier", OTHER_REGION)) == 404
    assert await status("GET", f"/v1/evidence/{mine}", token("viewer")) == 403
    assert await status("GET", f"/v1/evidence/{spd}", token("region_admin")) == 200
    assert await status("GET", f"/v1/evidence/{spd}", operator()) == 404
    assert await status("GET", f"/v1/evidence/{mine}", {}) == 401

    # Uploading: another agency's innovation is not found; other roles may not write.
    assert (await upload(service, PDF, headers=operator(), innovation=theirs, indicator="sid-16")).status_code == 404
    assert (await upload(service, PDF, headers=operator(), innovation=elsewhere, indicator="sid-16")).status_code == 404
    for role in ("region_admin", "verifier", "viewer"):
        assert (await upload(service, PDF, headers=token(role), innovation=ours, indicator="sid-16")).status_code == 403
    assert (await upload(service, PDF, headers=operator(), region=REGION, indicator="spd-01")).status_code == 403
    other_admin = token("region_admin", OTHER_REGION)
    assert (await upload(service, PDF, headers=other_admin, region=REGION, indicator="spd-01")).status_code == 403

    # Deciding: only a verifier of the item's region. Anyone outside the region (and, as for
    # reading, another agency's operator) is told "not found", word for word as for an id that
    # does not exist, so a refusal never confirms that an id exists.
    decision = {"json": {"decision": "accepted"}}

    async def refusal(url: str, headers: dict[str, str], **kw: Any) -> tuple[int, Any]:
        response = await service.client.post(url, headers=headers, **kw)
        return response.status_code, response.json()

    strangers = [token(role, OTHER_REGION) for role in ("verifier", "region_admin", "viewer")]
    strangers += [operator("dinkes", OTHER_REGION), operator("disdik")]
    for headers in strangers:
        for item in (mine, spd):
            code, body = await refusal(f"/v1/evidence/{item}/decision", headers, **decision)
            _, absent = await refusal(f"/v1/evidence/{item[:-1]}x/decision", headers, **decision)
            assert code == 404 and body == {**absent, "reason": f"evidence {item} not found"}, body
            assert await status("GET", f"/v1/evidence/{item}", headers) == 404
        # An outsider's malformed body still learns nothing: the item is not found first.
        code, _ = await refusal(f"/v1/evidence/{mine}/decision", headers, content=b"[" * 10_000)
        assert code == 404
    for headers in (operator(), token("region_admin"), token("viewer")):
        assert await status("POST", f"/v1/evidence/{mine}/decision", headers, **decision) == 403
    assert await status("POST", f"/v1/evidence/{spd}/decision", token("region_admin"), **decision) == 403
    assert await status("POST", f"/v1/evidence/{spd}/decision", operator(), **decision) == 404
    assert (await service.client.get(f"/v1/evidence/{mine}", headers=operator())).json()["version"] == 1
    assert (await service.client.get(f"/v1/evidence/{spd}", headers=token("region_admin"))).json()["version"] == 1

    # Listing: what the caller may see, never more.
    def ids(response: httpx.Response) -> set[str]:
        assert response.status_code == 200, response.text
        return {item["id"] for item in response.json()["items"]}

    by_region = {"cycle": 2026, "region": REGION}
    listed_by_operator = ids(await service.client.get("/v1/evidence", params=by_region, headers=operator()))
    assert mine in listed_by_operator and not {other, spd} & listed_by_operator
    listed_by_verifier = ids(await service.client.get("/v1/evidence", params=by_region, headers=token("verifier")))
    assert {mine, other, spd} <= listed_by_verifier
    by_ours, by_theirs = {"cycle": 2026, "innovation": ours}, {"cycle": 2026, "innovation": theirs}
    assert ids(await service.client.get("/v1/evidence", params=by_ours, headers=operator())) == {mine}
    theirs_listed = await service.client.get("/v1/evidence", params=by_theirs, headers=operator())
    assert theirs_listed.status_code == 404
    by_other_region = {"cycle": 2026, "region": OTHER_REGION}
    foreign = await service.client.get("/v1/evidence", params=by_other_region, headers=token("verifier"))
    assert foreign.status_code == 403
    neither = await service.client.get("/v1/evidence", params={"cycle": 2026}, headers=token("verifier"))
    assert neither.status_code == 422 and problem_fields(neither) == ["query.innovation"]


def account(role: str, region: str | None, agency: str | None = None, *, subject: str) -> dict[str, str]:
    """An account's token: its subject is the account's id."""
    jwt = issue_token(AUTH_SECRET, role, region, agency, subject=subject, token_id=f"tok-{subject}")  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {jwt}"}


async def test_province_admins_and_national_principals_read_evidence_and_decide_nothing(service: Service) -> None:
    province_admin, national = token("province_admin", "62"), token("national", None)
    ours = await service.innovation("dinkes")  # 62.10
    neighbours = await service.innovation("dinkes", region=OTHER_REGION)  # 62.11, the same province
    foreign = await service.innovation("dinkes", region="63.01")  # another province
    mine = (await upload(service, PDF, headers=operator(), innovation=ours, indicator="sid-16")).json()["id"]
    near = (await upload(service, PDF, headers=operator("dinkes", OTHER_REGION), innovation=neighbours,
                         indicator="sid-16")).json()["id"]
    far = (await upload(service, PDF, headers=operator("dinkes", "63.01"), innovation=foreign,
                        indicator="sid-16")).json()["id"]
    spd = (await upload(service, PDF, headers=token("region_admin"), region=REGION, indicator="spd-02a")).json()["id"]

    # Reading one item, with its download link: the province's for its admin, any for national.
    for headers, visible in ((province_admin, {mine, near, spd}), (national, {mine, near, far, spd})):
        for item in (mine, near, far, spd):
            response = await service.client.get(f"/v1/evidence/{item}", headers=headers)
            if item in visible:
                assert response.status_code == 200, response.text
                assert response.json()["download"]["url"].startswith("http")
            else:  # outside its reach: not found, as for an id that does not exist
                assert response.status_code == 404, response.text

    # Listing a region's or an innovation's items.
    def listed(headers: dict[str, str], **params: str) -> Any:
        return service.client.get("/v1/evidence", params={"cycle": 2026, **params}, headers=headers)

    by_region = await listed(province_admin, region=REGION)
    assert by_region.status_code == 200 and {mine, spd} <= {i["id"] for i in by_region.json()["items"]}
    assert [i["id"] for i in (await listed(province_admin, innovation=neighbours)).json()["items"]] == [near]
    assert (await listed(province_admin, region="63.01")).status_code == 403
    assert (await listed(province_admin, innovation=foreign)).status_code == 404
    assert [i["id"] for i in (await listed(national, region="63.01")).json()["items"]] == [far]
    assert [i["id"] for i in (await listed(national, innovation=foreign)).json()["items"]] == [far]

    # Nothing changes: no decision, no upload.
    before = await service.footprint()
    for headers in (province_admin, national):
        for item in (mine, spd):
            decided = await service.client.post(f"/v1/evidence/{item}/decision", json={"decision": "accepted"},
                                                headers=headers)
            assert decided.status_code == 403, decided.text
        assert (await upload(service, PDF, headers=headers, innovation=ours, indicator="sid-16")).status_code == 403
        for region in (REGION, "62"):
            assert (await upload(service, PDF, headers=headers, region=region, indicator="spd-01")).status_code == 403
    assert await service.footprint() == before


async def test_evidence_events_name_the_account_that_caused_them(service: Service) -> None:
    innovation = await service.innovation("dinkes")
    uploader = account("operator", REGION, "dinkes", subject="acc-operator-7")
    verifier = account("verifier", REGION, subject="acc-verifier-7")
    item = (await upload(service, PDF, headers=uploader, innovation=innovation, indicator="sid-16")).json()["id"]
    rejected = await service.client.post(f"/v1/evidence/{item}/decision",
                                         json={"decision": "rejected", "reason": "buram"}, headers=verifier)
    assert rejected.status_code == 200, rejected.text
    events = await service.events_of(item, 2)
    assert [(e.type, e.actor) for e in events] == [
        ("evidence.stored", "acc-operator-7"), ("evidence.rejected", "acc-verifier-7"),
    ]


async def test_listing_pages_through_a_region_in_upload_order(service: Service) -> None:
    innovation = await service.innovation("dinsos")
    uploaded = [
        (await upload(service, PDF, headers=operator("dinsos"), innovation=innovation, indicator="sid-20")).json()["id"]
        for _ in range(3)
    ]
    seen: list[str] = []
    after = None
    while True:
        params = {"cycle": 2026, "innovation": innovation, "limit": 2, **({"after": after} if after else {})}
        page = (await service.client.get("/v1/evidence", params=params, headers=token("verifier"))).json()
        seen += [item["id"] for item in page["items"]]
        after = page["next_after"]
        if after is None:
            break
    assert seen == uploaded
    pending = await service.client.get(
        "/v1/evidence", params={"cycle": 2026, "innovation": innovation, "state": "accepted"}, headers=token("verifier")
    )
    assert pending.json()["items"] == []


# --------------------------------------------------------------------------- the projection


def grant_for(innovation_id: str, agency: str = "dinkes", *, secret: str = AUTH_SECRET, **kw: Any) -> dict[str, str]:
    grant = UploadGrant(innovation_id, kw.get("cycle", 2026), kw.get("region", REGION), agency)
    return {"X-Upload-Grant": UploadGrants(secret, ttl_s=kw.get("ttl_s", 3600)).issue(grant, now=kw.get("now"))}


async def test_an_innovation_not_yet_projected_uploads_at_once_with_its_grant(service: Service) -> None:
    innovation_id = f"inn-{unique_suffix()}"  # intake created it; its event has not arrived here
    with_grant = {**operator(), **grant_for(innovation_id)}
    response = await upload(service, PDF, headers=with_grant, innovation=innovation_id, indicator="sid-16")
    assert response.status_code == 201, response.text
    assert response.json()["innovation"] == innovation_id and response.json()["agency"] == "dinkes"
    # Once the event arrives, the projection answers without a grant.
    await service.innovation("dinkes", innovation_id=innovation_id)
    later = await upload(service, PDF, headers=operator(), innovation=innovation_id, indicator="sid-16")
    assert later.status_code == 201, later.text


async def test_unknown_and_foreign_innovations_get_one_answer(service: Service) -> None:
    """No existence oracle: another agency's innovation, one that does not exist, and grants
    that do not fit are answered word for word alike (but for the id)."""
    foreign = await service.innovation("disdik")
    unknown = f"inn-{unique_suffix()}"

    async def refusal(innovation_id: str, **grant: Any) -> tuple[int, dict]:
        headers = {**operator(), **(grant_for(innovation_id, **grant) if grant else {})}
        response = await upload(service, PDF, headers=headers, innovation=innovation_id, indicator="sid-16")
        return response.status_code, response.json()

    for innovation_id, grant in [
        (foreign, {}),
        (unknown, {}),
        (unknown, {"agency": "disdik"}),  # a grant of another agency's innovation
        (unknown, {"secret": "not-the-platform-secret-" * 3}),  # forged
        (unknown, {"ttl_s": 60, "now": 1_000_000}),  # expired long ago
    ]:
        status, body = await refusal(innovation_id, **grant)
        assert (status, body) == (404, {"error": "not_found", "reason": f"innovation {innovation_id} not found"})
    # A grant for one innovation does not open another.
    wrong = {**operator(), **grant_for(f"inn-{unique_suffix()}")}
    response = await upload(service, PDF, headers=wrong, innovation=unknown, indicator="sid-16")
    assert response.status_code == 404
    # Listing: unknown and foreign alike.
    for innovation_id in (foreign, unknown):
        listed = await service.client.get(
            "/v1/evidence", params={"cycle": 2026, "innovation": innovation_id}, headers=operator()
        )
        assert listed.status_code == 404 and listed.json()["reason"] == f"innovation {innovation_id} not found"


async def test_the_projection_keeps_the_newest_version_whatever_the_order(service: Service) -> None:
    innovation_id = f"inn-{unique_suffix()}"
    # The newer event (submitted, moved to another agency for the sake of the test) arrives first.
    newer = await service.publish_innovation(innovation_id, "disdik", type="innovation.submitted", version=2)
    older = await service.publish_innovation(innovation_id, "dinkes", type="innovation.created", version=1)

    async def both_handled():
        pending = await service.redis.xpending(service.settings.stream(ev.INTAKE_STREAM), "evidence")
        async with service.pool.acquire() as conn:
            handled = await conn.fetchval(
                "SELECT count(*) FROM inbox WHERE event_id = ANY($1::uuid[])", [older.event_id, newer.event_id]
            )
        return pending["pending"] == 0 and handled == 2

    await wait_until(both_handled)
    async with service.pool.acquire() as conn:
        found = await conn.fetchrow("SELECT agency_id, status, version FROM innovations WHERE id = $1", innovation_id)
    assert dict(found) == {"agency_id": "disdik", "status": "submitted", "version": 2}
    by_old_agency = await upload(service, PDF, headers=operator("dinkes"), innovation=innovation_id, indicator="sid-16")
    assert by_old_agency.status_code == 404
    by_new_agency = await upload(service, PDF, headers=operator("disdik"), innovation=innovation_id, indicator="sid-16")
    assert by_new_agency.status_code == 201


async def test_one_read_of_many_events_keeps_each_innovations_newest_state(service: Service) -> None:
    """A rush's read: several events of one innovation, in any order and repeated, with
    events of others, applied by one statement (which may touch a row only once)."""
    first, second = f"inn-{unique_suffix()}", f"inn-{unique_suffix()}"
    events = [
        sample.innovation("innovation.updated", first, data={"agency_id": "dinkes"}, region=REGION, version=3),
        sample.innovation("innovation.created", first, data={"agency_id": "dinkes"}, region=REGION, version=1),
        sample.innovation("innovation.submitted", first, data={"agency_id": "disdik"}, region=REGION, version=4),
        sample.innovation("innovation.updated", first, data={"agency_id": "dinkes"}, region=REGION, version=2),
        sample.innovation("innovation.created", second, data={"agency_id": "dinkes"}, region=REGION, version=1),
    ]
    async with service.pool.acquire() as conn, conn.transaction():
        await project_innovations([*events, events[0]], conn)
        await project_innovations([events[3]], conn)  # a late, older one changes nothing
    async with service.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT id, agency_id, status, version FROM innovations WHERE id = ANY($1::text[]) ORDER BY version",
            [first, second],
        )
    assert [tuple(r) for r in rows] == [(second, "dinkes", "draft", 1), (first, "disdik", "submitted", 4)]


async def test_a_cycle_other_than_the_innovations_is_refused(service: Service) -> None:
    innovation = await service.innovation("dinkes", cycle=2025)
    response = await upload(service, PDF, headers=operator(), innovation=innovation, indicator="sid-16")
    assert response.status_code == 422 and problem_fields(response) == ["query.cycle"]
    assert "2025" in response.json()["problems"][0]["reason"]


# --------------------------------------------------------------------------- operations


async def test_readiness_includes_object_storage(service: Service) -> None:
    response = await service.client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"postgres": "ok", "redis": "ok", "s3": "ok"}
    assert service.s3.head_bucket(Bucket=service.settings.s3_bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200
