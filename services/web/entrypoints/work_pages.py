"""The pages where work gets done: an operator's innovations (`/inovasi`, the profile form,
answers, evidence uploads, submit and withdraw) and a verifier's queue (`/verifikasi`, one
item with its document, accept or reject, next item), and an evidence file served through
this site (`/bukti/{id}/berkas`).

As in `http.py`, each route only translates: the form, path or body → a command, one
handler, the result → a page, a redirect (Post/Redirect/Get with `?pesan=`), JSON for the
upload script, or the file. A form a rule refused comes back on its page (`PageRejected`,
rebuilt as it is now with the form's problems next to its fields); a stale version comes
back with the current values and the person's own beside them.

Uploads stream. The upload script sends the file's bytes as the request body
(`POST /bukti/unggah?inovasi=&indikator=`, CSRF token in `X-CSRF-Token`): they go on to the
evidence API chunk by chunk as they arrive — `request.stream()` is the API request's
content, over the in-process transport under `inovasi up` or HTTP otherwise — so memory
holds a chunk, not the file. Without JavaScript the form posts `multipart/form-data`
(`POST /bukti/formulir?…`): Starlette spools the file part to a temporary file (1 MB in
memory, the rest on disk) while checking the CSRF field, then it is streamed from there.
Both routes take up to INOVASI_EVIDENCE_MAX_UPLOAD_BYTES (`body_limits`); beyond, 413 before
a byte is read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.background import BackgroundTask
from starlette.datastructures import FormData, UploadFile

from services.common.body_limit import Route
from services.common.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    StaleVersion,
    TooLarge,
)
from services.common.logging import get_logger
from services.web import handlers
from services.web.dependencies import WebDeps
from services.web.domain import work
from services.web.domain.sessions import csrf_matches
from services.web.entrypoints import texts, work_texts
from services.web.entrypoints.http import (
    CheckedForm,
    CsrfRefused,
    Deps,
    FormRejected,
    Person,
    error_page,
    page_status,
)
from services.web.entrypoints.rendering import Pages
from services.web.settings import WebSettings
from services.web.views import FormState, SignedIn

log = get_logger(__name__)
router = APIRouter()

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$"
INDICATOR_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,31}$"
InnovationId = Annotated[str, Path(pattern=ID_PATTERN)]
EvidenceId = Annotated[str, Path(pattern=ID_PATTERN)]
InnovationQuery = Annotated[str, Query(alias="inovasi", pattern=ID_PATTERN)]
IndicatorQuery = Annotated[str, Query(alias="indikator", pattern=INDICATOR_PATTERN)]
AfterQuery = Annotated[str | None, Query(alias="setelah", pattern=ID_PATTERN)]

UPLOAD_PATH = "/bukti/unggah"  # the upload script's: the body is the file
UPLOAD_FORM_PATH = "/bukti/formulir"  # without JavaScript: multipart/form-data
MULTIPART_OVERHEAD = 64 * 1024  # boundaries, part headers and the small fields
CSRF_HEADER = "x-csrf-token"
FILE_FIELD = "berkas"
CHUNK = 64 * 1024


def body_limits(settings: WebSettings) -> dict[Route, int]:
    """The upload routes' body caps for the web app's `BodyLimit` (the rest: the default)."""
    limit = settings.evidence_max_upload_bytes
    return {("POST", UPLOAD_PATH): limit, ("POST", UPLOAD_FORM_PATH): limit + MULTIPART_OVERHEAD}


# --- refused forms ------------------------------------------------------------------------------


class PageRejected(FormRejected):
    """A form refused on a page with a path parameter: shown again on `page` (a key of
    `WORK_PAGES`), rebuilt for `ref` as it is now; `unsaved` holds what the person typed
    when the page shows the current values instead (a stale version)."""

    def __init__(self, page: str, ref: Any, error: DomainError, state: FormState, person: SignedIn,
                 unsaved: Mapping[str, str] | None = None) -> None:
        super().__init__(page, error, state, person)
        self.ref = ref
        self.unsaved = dict(unsaved or {})


Builder = Callable[[WebDeps, SignedIn, Any], Awaitable[Any]]
WORK_PAGES: dict[str, tuple[str, Builder]] = {
    "inovasi": ("inovasi_form.html", lambda deps, person, ref: handlers.innovation_page(deps, person, ref)),
    "inovasi_baru": ("inovasi_form.html", lambda deps, person, _ref: handlers.new_innovation_page(deps, person)),
    "verifikasi_item": ("verifikasi_item.html",
                        lambda deps, person, ref: handlers.verification_item_page(deps, person, ref)),
}
REFUSED = (InvalidInput, Conflict, Forbidden, NotFound, StaleVersion, TooLarge)


def _place(location: str, default: str) -> str:
    """Where a problem goes on the form: `body.name` → name, `answers.sid-16` → sid-16; the
    body as a whole, its Content-Type or the indicator of an upload → `default`."""
    place = location.removeprefix("body.")
    if place.startswith("answers."):
        return place.removeprefix("answers.")
    if place in ("body", "header.content-type", "header.Content-Type", "query.indicator", "query.cycle", ""):
        return default
    return place.split(".", 1)[0].split("[", 1)[0]


def _message(error: DomainError) -> str:
    if isinstance(error, StaleVersion):
        return work_texts.STALE
    if error.code == "not_eligible" or (isinstance(error, InvalidInput) and any(
            p.field.startswith("answers.") or p.field == "cycle" for p in error.problems)):
        return work_texts.NOT_ELIGIBLE
    if error.code == "submission_window_closed":
        return work_texts.WINDOW_CLOSED
    if isinstance(error, Conflict):
        return work_texts.WRONG_STATUS
    if isinstance(error, TooLarge):
        return work_texts.reason(error.problems[0].reason) if error.problems else work_texts.INVALID
    if isinstance(error, InvalidInput):
        return work_texts.INVALID
    if error.code in texts.CODES:
        return texts.CODES[error.code]
    return texts.CODES["invalid_request"]


def work_state(form_name: str, error: DomainError, values: Mapping[str, str] | None = None,
               default_field: str = "form") -> FormState:
    """The refused form's state in Bahasa Indonesia: each problem at its field."""
    problems: dict[str, list[str]] = {}
    for problem in error.problems:
        if problem.field.startswith("header.If-Match"):
            continue
        problems.setdefault(_place(problem.field, default_field), []).append(work_texts.reason(problem.reason))
    return FormState(form=form_name, values=dict(values or {}), problems=problems, reason=_message(error),
                     code=error.code)


def _rejected(page: str, ref: Any, form_name: str, error: DomainError, person: SignedIn,
              values: Mapping[str, str] | None = None, default_field: str = "form") -> PageRejected:
    """The form again: a stale one with the current values (the person's kept as `unsaved`)."""
    if isinstance(error, StaleVersion):
        return PageRejected(page, ref, error, work_state(form_name, error), person, unsaved=values)
    return PageRejected(page, ref, error, work_state(form_name, error, values, default_field), person)


# --- small translations ---------------------------------------------------------------------------


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _pages(request: Request) -> Pages:
    pages: Pages = request.app.state.pages
    return pages


def _done(request: Request) -> str | None:
    return work_texts.DONE.get(request.query_params.get("pesan", ""))


def _see_other(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def _profile_values(form: FormData) -> dict[str, str]:
    return {name: _text(form, name) for name in work.PROFILE_FIELDS if name != "urusan_lain"}


def _urusan_lain(form: FormData) -> tuple[str, ...]:
    return tuple(value for value in form.getlist("urusan_lain") if isinstance(value, str) and value)


def _length(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isdigit() and len(text) <= 18 else None


# --- Inovasi saya -----------------------------------------------------------------------------------


@router.get("/inovasi", include_in_schema=False)
async def innovations(request: Request, person: Person, deps: Deps, after: AfterQuery = None) -> Response:
    page = await handlers.innovations_page(deps, person, work.PageQuery(after))
    return _pages(request).render(request, "inovasi.html", page=page, person=person, done=_done(request))


@router.get("/inovasi/baru", include_in_schema=False)
async def new_innovation(request: Request, person: Person, deps: Deps) -> Response:
    page = await handlers.new_innovation_page(deps, person)
    return _pages(request).render(request, "inovasi_form.html", page=page, person=person)


@router.post("/inovasi/baru", include_in_schema=False)
async def create_innovation(person: Person, form: CheckedForm, deps: Deps) -> Response:
    values = _profile_values(form)
    command = work.SaveProfile(ref=None, version=None, values=values, urusan_lain=_urusan_lain(form),
                               idempotency_key=_text(form, "idempotency_key") or None)
    try:
        created = await handlers.save_profile(deps, person, command)
    except REFUSED as error:
        kept = {**values, "urusan_lain": "\n".join(_urusan_lain(form))}
        raise _rejected("inovasi_baru", None, "profil", error, person, kept) from None
    return _see_other(f"/inovasi/{quote(created.id)}?pesan=inovasi-dibuat")


@router.get("/inovasi/{innovation_id}", include_in_schema=False)
async def innovation(innovation_id: InnovationId, request: Request, person: Person, deps: Deps) -> Response:
    page = await handlers.innovation_page(deps, person, work.InnovationRef(innovation_id))
    return _pages(request).render(request, "inovasi_form.html", page=page, person=person, done=_done(request))


@router.post("/inovasi/{innovation_id}", include_in_schema=False)
async def save_profile(innovation_id: InnovationId, person: Person, form: CheckedForm, deps: Deps) -> Response:
    ref = work.InnovationRef(innovation_id)
    values = _profile_values(form)
    version = work.parse_version(_text(form, "version"))
    command = work.SaveProfile(ref=ref, version=version, values=values, urusan_lain=_urusan_lain(form))
    try:
        saved = await handlers.save_profile(deps, person, command)
    except REFUSED as error:
        kept = {**values, "urusan_lain": "\n".join(_urusan_lain(form))}
        raise _rejected("inovasi", ref, "profil", error, person, kept) from None
    message = "profil-tetap" if saved.version == version else "profil-disimpan"
    return _see_other(f"/inovasi/{quote(saved.id)}?pesan={message}#profil")


@router.post("/inovasi/{innovation_id}/jawaban", include_in_schema=False)
async def save_answers(innovation_id: InnovationId, person: Person, form: CheckedForm, deps: Deps) -> Response:
    ref = work.InnovationRef(innovation_id)
    chosen = {name: _text(form, name) for name in form if name.startswith("sid-")}
    levels = {code: (0 if (level := work.parse_level(text)) == "invalid" else level) for code, text in chosen.items()}
    command = work.SaveAnswers(ref=ref, version=work.parse_version(_text(form, "version")), levels=levels)
    try:
        await handlers.save_answers(deps, person, command)
    except REFUSED as error:
        raise _rejected("inovasi", ref, "jawaban", error, person, chosen) from None
    return _see_other(f"/inovasi/{quote(innovation_id)}?pesan=jawaban-disimpan#indikator")


@router.post("/inovasi/{innovation_id}/ajukan", include_in_schema=False)
async def submit_innovation(innovation_id: InnovationId, person: Person, form: CheckedForm, deps: Deps) -> Response:
    ref = work.InnovationRef(innovation_id)
    command = work.ChangeStatus(ref=ref, version=work.parse_version(_text(form, "version")), action="submit")
    try:
        await handlers.change_status(deps, person, command)
    except REFUSED as error:
        raise _rejected("inovasi", ref, "status", error, person) from None
    return _see_other(f"/inovasi/{quote(innovation_id)}?pesan=diajukan#kelayakan")


@router.post("/inovasi/{innovation_id}/tarik", include_in_schema=False)
async def withdraw_innovation(innovation_id: InnovationId, person: Person, form: CheckedForm,
                              deps: Deps) -> Response:
    ref = work.InnovationRef(innovation_id)
    command = work.ChangeStatus(ref=ref, version=work.parse_version(_text(form, "version")), action="withdraw")
    try:
        await handlers.change_status(deps, person, command)
    except REFUSED as error:
        raise _rejected("inovasi", ref, "status", error, person) from None
    return _see_other(f"/inovasi/{quote(innovation_id)}?pesan=ditarik#kelayakan")


@router.post("/inovasi/{innovation_id}/tautan", include_in_schema=False)
async def add_link(innovation_id: InnovationId, person: Person, form: CheckedForm, deps: Deps) -> Response:
    ref = work.InnovationRef(innovation_id)
    indicator = _text(form, "indicator")
    command = work.AddLink(ref=ref, indicator=indicator, link=_text(form, "link"))
    try:
        await handlers.add_link(deps, person, command)
    except REFUSED as error:
        raise _rejected("inovasi", ref, f"tautan-{indicator}", error, person, {"link": command.link},
                        default_field="link") from None
    return _see_other(f"/inovasi/{quote(innovation_id)}?pesan=tautan-ditambahkan#indikator-{quote(indicator)}")


# --- evidence uploads -----------------------------------------------------------------------------


async def checked_upload(request: Request, person: Person) -> SignedIn:
    """The upload script's request, once its CSRF token (a header: the body is the file) is
    the session's."""
    if not csrf_matches(person.csrf_token, request.headers.get(CSRF_HEADER, "")):
        log.warning("upload refused: CSRF token missing or wrong", account=person.account.id)
        raise CsrfRefused()
    return person


CheckedUpload = Annotated[SignedIn, Depends(checked_upload)]


def _upload_answer(error: DomainError) -> JSONResponse:
    """A refused upload for the script: the message in Bahasa Indonesia, for beside the file input."""
    problems = [work_texts.reason(p.reason) for p in error.problems if not p.field.startswith("header.If")]
    message = problems[0] if problems else _message(error)
    status = page_status(error)
    headers = {"Retry-After": str(error.retry_after_s)} if error.retry_after_s is not None else {}
    return JSONResponse({"error": error.code, "message": message}, status_code=status, headers=headers)


@router.post(UPLOAD_PATH, include_in_schema=False)
async def upload_evidence(request: Request, person: CheckedUpload, deps: Deps, innovation_id: InnovationQuery,
                          indicator: IndicatorQuery) -> Response:
    command = work.UploadFile(
        ref=work.InnovationRef(innovation_id), indicator=indicator,
        content_type=request.headers.get("content-type") or "application/octet-stream",
        length=_length(request.headers.get("content-length")), body=request.stream(),
    )
    try:
        item = await handlers.upload_file(deps, person, command)
    except DomainError as error:
        return _upload_answer(error)
    return JSONResponse({
        "id": item.id, "indicator": item.indicator, "kind": item.kind, "state": item.state,
        "state_label": work_texts.EVIDENCE_STATES.get(item.state, item.state), "size": item.size,
        "size_label": work_texts.size_label(item.size), "file_url": f"/bukti/{quote(item.id)}/berkas",
        "message": work_texts.DONE["bukti-diunggah"],
    }, status_code=201)


async def _spooled(upload: UploadFile) -> AsyncIterator[bytes]:
    """The spooled file part, read back chunk by chunk."""
    while chunk := await upload.read(CHUNK):
        yield chunk


@router.post(UPLOAD_FORM_PATH, include_in_schema=False)
async def upload_evidence_form(person: Person, form: CheckedForm, deps: Deps, innovation_id: InnovationQuery,
                               indicator: IndicatorQuery) -> Response:
    ref = work.InnovationRef(innovation_id)
    upload = form.get(FILE_FIELD)
    if not isinstance(upload, UploadFile) or not upload.filename or not upload.size:
        error = InvalidInput.at("file", "choose a file to upload")
        raise _rejected("inovasi", ref, f"bukti-{indicator}", error, person, default_field="file")
    command = work.UploadFile(ref=ref, indicator=indicator,
                              content_type=upload.content_type or "application/octet-stream",
                              length=upload.size, body=_spooled(upload))
    try:
        await handlers.upload_file(deps, person, command)
    except REFUSED as error:
        raise _rejected("inovasi", ref, f"bukti-{indicator}", error, person, default_field="file") from None
    return _see_other(f"/inovasi/{quote(innovation_id)}?pesan=bukti-diunggah#indikator-{quote(indicator)}")


# --- Verifikasi ------------------------------------------------------------------------------------


@router.get("/verifikasi", include_in_schema=False)
async def verification(request: Request, person: Person, deps: Deps, after: AfterQuery = None) -> Response:
    page = await handlers.verification_page(deps, person, work.PageQuery(after))
    return _pages(request).render(request, "verifikasi.html", page=page, person=person, done=_done(request))


@router.get("/verifikasi/{evidence_id}", include_in_schema=False)
async def verification_item(evidence_id: EvidenceId, request: Request, person: Person, deps: Deps) -> Response:
    page = await handlers.verification_item_page(deps, person, work.EvidenceRef(evidence_id))
    return _pages(request).render(request, "verifikasi_item.html", page=page, person=person, done=_done(request))


@router.post("/verifikasi/{evidence_id}/keputusan", include_in_schema=False)
async def decide(evidence_id: EvidenceId, person: Person, form: CheckedForm, deps: Deps) -> Response:
    ref = work.EvidenceRef(evidence_id)
    command = work.Decide(ref=ref, decision=_text(form, "decision"), reason=work.plain_text(_text(form, "reason")))
    try:
        decided = await handlers.decide(deps, person, command)
    except REFUSED as error:
        raise _rejected("verifikasi_item", ref, "keputusan", error, person, {"reason": command.reason},
                        default_field="reason") from None
    done = "diterima" if decided.item.state == "accepted" else "ditolak"
    if decided.next_id is None:
        return _see_other(f"/verifikasi?pesan={done}")
    return _see_other(f"/verifikasi/{quote(decided.next_id)}?pesan={done}")


@router.get("/verifikasi/{evidence_id}/lewati", include_in_schema=False)
async def skip(evidence_id: EvidenceId, person: Person, deps: Deps) -> Response:
    following = await handlers.next_item(deps, person, work.EvidenceRef(evidence_id))
    return _see_other(f"/verifikasi/{quote(following)}" if following else "/verifikasi?pesan=antrean-selesai")


# --- an evidence file, through this site ------------------------------------------------------------

# The file is shown inside this site's pages (frame-ancestors 'self'), never run: no script,
# no form, nothing loaded from anywhere. `sandbox` makes it a unique origin besides — except
# for PDFs: Chromium refuses to start its PDF viewer in a sandboxed document, whatever the
# flags (crbug.com/413851), so a PDF (whose type the evidence service read from its bytes,
# and which nosniff keeps a PDF) gets the same policy without `sandbox`.
FILE_POLICY = "default-src 'none'; img-src 'self'; media-src 'self'; frame-ancestors 'self'; base-uri 'none'; " \
              "form-action 'none'"
FILE_POLICY_PDF = "default-src 'none'; object-src 'self'; frame-ancestors 'self'; base-uri 'none'; " \
                  "form-action 'none'"


def file_headers(content_type: str, display: str, inline: bool, filename: str, length: int | None) -> dict[str, str]:
    headers = {
        "Content-Disposition": f'{"inline" if inline else "attachment"}; filename="{filename}"',
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": FILE_POLICY_PDF if display == "pdf" else f"sandbox; {FILE_POLICY}",
        "X-Frame-Options": "SAMEORIGIN",
        "Cache-Control": "private, no-store",
        "Cross-Origin-Resource-Policy": "same-origin",
        "Referrer-Policy": "no-referrer",
    }
    if length is not None:
        headers["Content-Length"] = str(length)
    return headers


@router.get("/bukti/{evidence_id}/berkas", include_in_schema=False)
async def evidence_file(evidence_id: EvidenceId, person: Person, deps: Deps) -> Response:
    served = await handlers.evidence_file(deps, person, work.EvidenceRef(evidence_id))
    headers = file_headers(served.content_type, served.display, served.inline, served.filename, served.length)
    return StreamingResponse(served.chunks, media_type=served.content_type, headers=headers,
                             background=BackgroundTask(served.close))


# --- wiring -----------------------------------------------------------------------------------------


def install(app: FastAPI) -> None:
    """The pages' router, their refused forms, and their template filters."""
    app.include_router(router)

    async def page_rejected(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageRejected) and exc.person is not None
        template, build = WORK_PAGES[exc.page]
        deps: WebDeps = request.app.state.runtime.deps
        try:
            page = await build(deps, exc.person, exc.ref)
        except DomainError as error:  # the page itself cannot be shown (gone, service down)
            return error_page(request, page_status(error), _message(error), exc.person)
        if exc.unsaved:
            page = page.model_copy(update={"unsaved": exc.unsaved})
        return _pages(request).render(request, template, status_code=page_status(exc.error), page=page,
                                      person=exc.person, form=exc.state)

    app.add_exception_handler(PageRejected, page_rejected)
    app.state.pages.env.filters.update(
        kerja_label=work_texts.field_label,
        kerja_alasan=work_texts.reason,
        status_inovasi=lambda status: work_texts.STATUS_LABELS.get(status, status),
        status_bukti=lambda state: work_texts.EVIDENCE_STATES.get(state, state),
        jenis_bukti=work_texts.kinds_label,
        ukuran=work_texts.size_label,
        aturan=lambda rule: work_texts.RULE_LABELS.get(rule, rule),
        kelompok_urusan=lambda group: work_texts.URUSAN_GROUPS.get(group or "", group or ""),
    )


__all__ = ["PageRejected", "body_limits", "install", "router"]
