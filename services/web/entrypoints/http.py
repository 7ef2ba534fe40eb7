"""The web app's pages: server-rendered HTML (Jinja2, autoescaped) in Bahasa Indonesia.

Each route only translates: the form or path → a command, one handler, the result → a page
or a redirect (Post/Redirect/Get; `?pesan=` names the message of a change that succeeded).
Cookies, CSRF and templates are this module's; the rules are the handlers'.

- The signed-in person comes from the session cookie (`Person`); without one, a page
  redirects to `/login?next=…`.
- Every POST form carries `csrf_token`: the session's token (`CheckedForm`), or on the login
  form its own token, also in a cookie; a missing or wrong one is a 403 page and changes
  nothing.
- A form a rule refused comes back (`FormRejected`) on its page, each problem next to its
  field, with the status of the refusal (422, 401 wrong password, 423 locked, 429 with
  Retry-After rate-limited).
- An error elsewhere is an error page: 403, 404, 503 "layanan sedang tidak tersedia" with
  Retry-After; a client that does not ask for HTML gets the services' JSON error shape.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.common.db import OUTAGE_ERRORS
from services.common.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound, Problem, Unavailable
from services.common.http import service_dependencies, status_of
from services.common.logging import get_logger
from services.web import handlers
from services.web.dependencies import WebDeps
from services.web.domain.commands import (
    AccountRef,
    ChangePassword,
    CreateAccount,
    CreateToken,
    CreateWebhook,
    Login,
    RegisterAgency,
    SessionCookie,
    SessionRef,
    TokenRef,
    WebhookRef,
)
from services.web.domain.sessions import csrf_matches, safe_next
from services.web.domain.tokens import DEFAULT_TOKEN_DAYS
from services.web.entrypoints import texts
from services.web.entrypoints.rendering import Pages
from services.web.entrypoints.security import client_address, is_https
from services.web.views import FormState, SignedIn

log = get_logger(__name__)
router = APIRouter()
Deps = Annotated[WebDeps, Depends(service_dependencies)]

SESSION_COOKIE = "inovasi_sesi"
LOGIN_CSRF_COOKIE = "inovasi_csrf"  # the login form's token (there is no session yet)
CSRF_FIELD = "csrf_token"


# --- the person, the form ------------------------------------------------------------------


class LoginRequired(Exception):
    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class CsrfRefused(Exception):
    """A POST form without the right CSRF token: nothing was done."""


class FormRejected(Exception):
    """A form a rule refused: shown again on `page` with what was wrong."""

    def __init__(self, page: str, error: DomainError, state: FormState, person: SignedIn | None = None) -> None:
        super().__init__(page)
        self.page, self.error, self.state, self.person = page, error, state, person


async def maybe_signed_in(request: Request, deps: Deps) -> SignedIn | None:
    secret = request.cookies.get(SESSION_COOKIE)
    if not secret:
        return None
    try:
        return await handlers.current_session(deps, SessionCookie(secret))
    except Forbidden:
        return None


async def signed_in(request: Request, person: Annotated[SignedIn | None, Depends(maybe_signed_in)]) -> SignedIn:
    if person is None:
        query = f"?{request.url.query}" if request.url.query else ""
        raise LoginRequired(request.url.path + query)
    return person


Person = Annotated[SignedIn, Depends(signed_in)]
MaybePerson = Annotated[SignedIn | None, Depends(maybe_signed_in)]


async def checked_form(request: Request, person: Person) -> FormData:
    """The form of a signed-in person's POST, once its CSRF token is the session's."""
    form = await request.form()
    if not csrf_matches(person.csrf_token, _text(form, CSRF_FIELD)):
        log.warning("form refused: CSRF token missing or wrong", path=request.url.path, account=person.account.id)
        raise CsrfRefused()
    return form


CheckedForm = Annotated[FormData, Depends(checked_form)]


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _optional(form: FormData, name: str) -> str | None:
    return _text(form, name).strip() or None


def _int(form: FormData, name: str, default: int) -> int:
    text = _text(form, name).strip()
    if not text:
        return default
    return int(text) if text.isdigit() and len(text) <= 6 else -1


def _pages(request: Request) -> Pages:
    pages: Pages = request.app.state.pages
    return pages


def _done(request: Request) -> str | None:
    return texts.DONE.get(request.query_params.get("pesan", ""))


def _see_other(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def _field(location: str) -> str:
    """A problem's place as the form names the field: `scope.region` → `scope`, `kinds[0]` → `kinds`."""
    return location.split(".", 1)[0].split("[", 1)[0]


def form_state(form_name: str, error: DomainError, form: FormData, keep: Sequence[str] = ()) -> FormState:
    """The refused form's state, said in Bahasa Indonesia; `keep`: the fields shown again
    (never a password)."""
    problems: dict[str, list[str]] = {}
    for problem in error.problems:
        problems.setdefault(_field(problem.field), []).append(texts.reason(problem.reason))
    values = {name: _text(form, name) for name in keep}
    return FormState(form=form_name, values=values, problems=problems, reason=_overall(error), code=error.code)


def _overall(error: DomainError) -> str:
    if error.code == "account_locked" and error.details.get("locked_until") is not None:
        return texts.locked_message(error.details["locked_until"])
    if error.code == "rate_limited" and error.retry_after_s is not None:
        return texts.retry_message(error.retry_after_s)
    if error.code in texts.CODES:
        return texts.CODES[error.code]
    if isinstance(error, Unavailable):
        return texts.CODES["unavailable"]
    return error.reason or texts.CODES["invalid_request"]


STATUS_BY_CODE = {"invalid_credentials": 401, "account_locked": 423, "rate_limited": 429}


def page_status(error: DomainError) -> int:
    return STATUS_BY_CODE.get(error.code) or status_of(error)


def _retry_headers(error: DomainError) -> dict[str, str]:
    return {"Retry-After": str(error.retry_after_s)} if error.retry_after_s is not None else {}


REFUSED_BY_FORMS = (InvalidInput, Conflict, Forbidden, NotFound)


def _rejected(page: str, form_name: str, form: FormData, person: SignedIn, keep: Sequence[str] = ()) -> Callable[
        [DomainError], FormRejected]:
    return lambda error: FormRejected(page, error, form_state(form_name, error, form, keep), person)


# --- front door and login ---------------------------------------------------------------------


@router.get("/", include_in_schema=False)
async def home(person: MaybePerson) -> RedirectResponse:
    """The person's own page, or the login form."""
    return _see_other(handlers.home(person))


def _login_cookie(response: Response, request: Request, deps: WebDeps, token: str) -> None:
    response.set_cookie(LOGIN_CSRF_COOKIE, token, path="/login", httponly=True, samesite="lax",
                        secure=is_https(request, deps.settings))


@router.get("/login", include_in_schema=False)
async def login_form(request: Request, person: MaybePerson, deps: Deps) -> Response:
    if person is not None:
        return _see_other(person.landing)
    page = handlers.login_page(request.query_params.get("next"))
    response = _pages(request).render(request, "login.html", page=page, csrf=page.csrf_token)
    _login_cookie(response, request, deps, page.csrf_token)
    return response


@router.post("/login", include_in_schema=False)
async def login(request: Request, deps: Deps) -> Response:
    form = await request.form()
    if not csrf_matches(request.cookies.get(LOGIN_CSRF_COOKIE), _text(form, CSRF_FIELD)):
        log.warning("login form refused: CSRF token missing or wrong")
        raise CsrfRefused()
    command = Login(username=_text(form, "username"), password=_text(form, "password"),
                    address=client_address(request, deps.settings), user_agent=request.headers.get("user-agent"))
    previous = request.cookies.get(SESSION_COOKIE)
    try:
        result = await handlers.login(deps, command, SessionCookie(previous) if previous else None)
    except (InvalidInput, Conflict, Forbidden) as error:
        raise FormRejected("login", error, form_state("login", error, form, keep=("username", "next"))) from None
    response = _see_other(safe_next(_text(form, "next")) or result.landing)
    response.set_cookie(SESSION_COOKIE, result.session_secret, max_age=deps.settings.web_session_ttl_s, path="/",
                        httponly=True, samesite="lax", secure=is_https(request, deps.settings))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout", include_in_schema=False)
async def logout(person: Person, _form: CheckedForm, deps: Deps) -> Response:
    await handlers.logout(deps, person)
    response = _see_other("/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# --- my account -------------------------------------------------------------------------------


@router.get("/akun", include_in_schema=False)
async def account(request: Request, person: Person, deps: Deps) -> Response:
    page = await handlers.account_page(deps, person)
    return _pages(request).render(request, "akun.html", page=page, person=person, done=_done(request))


@router.post("/akun/kata-sandi", include_in_schema=False)
async def change_password(person: Person, form: CheckedForm, deps: Deps) -> Response:
    command = ChangePassword(current=_text(form, "current_password"), new=_text(form, "new_password"),
                             repeated=_text(form, "repeat_password"))
    try:
        await handlers.change_password(deps, person, command)
    except REFUSED_BY_FORMS as error:
        raise _rejected("akun", "password", form, person)(error) from None
    return _see_other("/akun?pesan=kata-sandi-diubah")


@router.post("/akun/sesi/{session_id}/akhiri", include_in_schema=False)
async def end_session(session_id: str, person: Person, _form: CheckedForm, deps: Deps) -> Response:
    await handlers.end_session(deps, person, SessionRef(session_id))
    return _see_other("/akun?pesan=sesi-diakhiri#sesi")


# --- settings ---------------------------------------------------------------------------------


@router.get("/pengaturan", include_in_schema=False)
async def settings(request: Request, person: Person, deps: Deps) -> Response:
    page = await handlers.settings_page(deps, person)
    return _pages(request).render(request, "pengaturan.html", page=page, person=person, done=_done(request))


@router.post("/pengaturan/opd", include_in_schema=False)
async def register_agency(person: Person, form: CheckedForm, deps: Deps) -> Response:
    command = RegisterAgency(agency_id=_text(form, "id").strip(), name=_text(form, "name").strip())
    try:
        await handlers.register_agency(deps, person, command)
    except REFUSED_BY_FORMS as error:
        raise _rejected("pengaturan", "agency", form, person, keep=("id", "name"))(error) from None
    return _see_other("/pengaturan?pesan=opd-dibuat#opd")


@router.post("/pengaturan/akun", include_in_schema=False)
async def create_account(person: Person, form: CheckedForm, deps: Deps) -> Response:
    role: Any = _text(form, "role")
    command = CreateAccount(
        username=_text(form, "username").strip(), password=_text(form, "password"), role=role,
        region=person.account.region, agency=_optional(form, "agency") if role == "operator" else None,
        email=_optional(form, "email"),
    )
    try:
        await handlers.create_account(deps, person, command)
    except REFUSED_BY_FORMS as error:
        raise _rejected("pengaturan", "account", form, person, keep=("username", "role", "agency", "email"))(
            error) from None
    return _see_other("/pengaturan?pesan=akun-dibuat#akun")


@router.post("/pengaturan/akun/{account_id}/nonaktifkan", include_in_schema=False)
async def disable_account(account_id: str, person: Person, _form: CheckedForm, deps: Deps) -> Response:
    await handlers.disable_account(deps, person, AccountRef(account_id))
    return _see_other("/pengaturan?pesan=akun-dinonaktifkan#akun")


@router.post("/pengaturan/akun/{account_id}/aktifkan", include_in_schema=False)
async def enable_account(account_id: str, person: Person, _form: CheckedForm, deps: Deps) -> Response:
    await handlers.enable_account(deps, person, AccountRef(account_id))
    return _see_other("/pengaturan?pesan=akun-diaktifkan#akun")


@router.post("/pengaturan/token", include_in_schema=False)
async def create_token(request: Request, person: Person, form: CheckedForm, deps: Deps) -> Response:
    command = CreateToken(name=_text(form, "name"), days=_int(form, "days", DEFAULT_TOKEN_DAYS))
    try:
        created = await handlers.create_token(deps, person, command)
    except REFUSED_BY_FORMS as error:
        raise _rejected("pengaturan", "token", form, person, keep=("name", "days"))(error) from None
    # Shown on this answer only (no redirect: the secret is kept nowhere to show it again).
    return _pages(request).render(request, "token_dibuat.html", page=created, person=person, status_code=201)


@router.post("/pengaturan/token/{token_id}/cabut", include_in_schema=False)
async def revoke_token(token_id: str, person: Person, _form: CheckedForm, deps: Deps) -> Response:
    await handlers.revoke_token(deps, person, TokenRef(token_id))
    return _see_other("/pengaturan?pesan=token-dicabut#token")


@router.post("/pengaturan/webhook", include_in_schema=False)
async def create_webhook(request: Request, person: Person, form: CheckedForm, deps: Deps) -> Response:
    kinds = tuple(kind for kind in form.getlist("kinds") if isinstance(kind, str))
    command = CreateWebhook(url=_text(form, "url").strip(), kinds=kinds)
    try:
        created = await handlers.create_webhook(deps, person, command)
    except REFUSED_BY_FORMS as error:
        raise _rejected("pengaturan", "webhook", form, person, keep=("url",))(error) from None
    return _pages(request).render(request, "webhook_dibuat.html", page=created, person=person, status_code=201)


@router.post("/pengaturan/webhook/{subscription_id}/hapus", include_in_schema=False)
async def delete_webhook(subscription_id: str, person: Person, _form: CheckedForm, deps: Deps) -> Response:
    await handlers.delete_webhook(deps, person, WebhookRef(subscription_id))
    return _see_other("/pengaturan?pesan=webhook-dihapus#webhook")


# --- landing pages ------------------------------------------------------------------------
# (The region dashboard /daerah/{code}, its live feed, /wilayah/{code} and /peringkat are in
# entrypoints/region_pages.py; /inovasi and /verifikasi, the operator's and the verifier's
# pages, in entrypoints/work_pages.py.)


# --- refusals and errors --------------------------------------------------------------------

PageBuilder = Callable[[WebDeps, SignedIn], Awaitable[Any]]
# The page a refused form is shown again on, rebuilt as it is now.
FORM_PAGES: dict[str, tuple[str, PageBuilder]] = {
    "akun": ("akun.html", handlers.account_page),
    "pengaturan": ("pengaturan.html", handlers.settings_page),
}


def _wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept or request.method == "POST" and "application/json" not in accept


async def _person_for_error(request: Request) -> SignedIn | None:
    try:
        deps: WebDeps = request.app.state.runtime.deps
        return await maybe_signed_in(request, deps)
    except Exception:  # the error page must not fail: no person in its header then
        return None


def error_page(request: Request, status: int, message: str, person: SignedIn | None,
               headers: dict[str, str] | None = None) -> Response:
    title = {403: "Akses ditolak", 404: "Halaman tidak ditemukan", 503: "Layanan sedang tidak tersedia"}.get(
        status, "Permintaan tidak dapat diproses")
    return _pages(request).render(request, "galat.html", status_code=status, headers=headers, person=person,
                                  error={"status": status, "title": title, "message": message})


def install_error_pages(app: FastAPI, api_prefixes: Sequence[str] = ()) -> None:
    async def login_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        response = _see_other("/login" + (f"?next={_quote(exc.next_path)}" if safe_next(exc.next_path) else ""))
        if request.cookies.get(SESSION_COOKIE):
            response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    async def csrf_refused(request: Request, _exc: Exception) -> Response:
        return error_page(request, 403, texts.CODES["csrf"], await _person_for_error(request))

    async def form_rejected(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, FormRejected)
        status, headers = page_status(exc.error), _retry_headers(exc.error)
        if exc.page == "login":
            page = handlers.login_page(exc.state.values.get("next"), exc.state.values.get("username", ""))
            response = _pages(request).render(request, "login.html", status_code=status, headers=headers, page=page,
                                              form=exc.state, csrf=page.csrf_token)
            deps: WebDeps = request.app.state.runtime.deps
            _login_cookie(response, request, deps, page.csrf_token)
            return response
        assert exc.person is not None
        template, build = FORM_PAGES[exc.page]
        page = await build(request.app.state.runtime.deps, exc.person)
        return _pages(request).render(request, template, status_code=status, headers=headers, page=page,
                                      person=exc.person, form=exc.state)

    async def domain_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, DomainError)
        status, headers = page_status(exc), _retry_headers(exc)
        if isinstance(exc, Unavailable) and "Retry-After" not in headers:
            headers["Retry-After"] = str(request.app.state.runtime.settings.unavailable_retry_after_s)
        if not _wants_html(request):
            return JSONResponse(exc.body(), status_code=status, headers=headers)
        return error_page(request, status, _overall(exc), await _person_for_error(request), headers)

    async def outage(request: Request, exc: Exception) -> Response:
        log.warning("page failed: a server is unreachable", error=repr(exc))
        return await domain_error(request, Unavailable(reason="a server this page needs is unreachable"))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            error: DomainError = NotFound(reason=_not_found_reason(request.url.path, api_prefixes))
            if not _wants_html(request):
                return JSONResponse(error.body(), status_code=404)
            return error_page(request, 404, "Alamat ini tidak ada.", await _person_for_error(request))
        if not _wants_html(request):
            return JSONResponse({"error": "http_error", "reason": exc.detail}, exc.status_code, headers=exc.headers)
        return error_page(request, exc.status_code, str(exc.detail), await _person_for_error(request),
                          dict(exc.headers or {}))

    async def invalid_request(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        problems = [Problem(".".join(str(p) for p in e.get("loc", ())), str(e.get("msg", ""))) for e in exc.errors()]
        return await domain_error(request, InvalidInput(problems=problems))

    app.add_exception_handler(LoginRequired, login_required)
    app.add_exception_handler(CsrfRefused, csrf_refused)
    app.add_exception_handler(FormRejected, form_rejected)
    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    for error in OUTAGE_ERRORS:
        app.add_exception_handler(error, outage)


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")


def _not_found_reason(path: str, api_prefixes: Sequence[str]) -> str:
    where = ", ".join(f"/{name}/" for name in api_prefixes)
    apis = f"; the APIs are under {where} and /api lists their docs" if where else ""
    return f"no such path: {path}{apis}"
