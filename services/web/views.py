"""The typed results of the web service's use cases: the signed-in person, accounts,
sessions and tokens, and one view-model per page (what its template shows, nothing else).

A page's template reads only its view-model; a new page adds a model here, a builder in
`handlers/pages.py` and a template in `templates/`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.common.data.regions import load_regions
from services.common.principal import Role
from services.web.adapters.api import Agency, Webhook
from services.web.adapters.store import AccountRecord, SessionRecord, TokenRecord
from services.web.domain.accounts import MANAGEABLE_ROLES, AccountStatus
from services.web.domain.chart import Chart
from services.web.domain.sessions import landing_path


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


def region_name(code: str | None) -> str | None:
    info = load_regions().get(code or "")
    return info.name if info is not None else None


# --- people ------------------------------------------------------------------------------


class AccountView(_View):
    id: str
    username: str
    role: Role
    region: str | None
    region_name: str | None
    agency: str | None
    email: str | None
    status: AccountStatus
    locked_until: datetime | None
    last_login_at: datetime | None
    created_at: datetime
    created_by: str

    @classmethod
    def of(cls, record: AccountRecord) -> AccountView:
        return cls(
            id=record.id, username=record.username, role=record.role, region=record.region,
            region_name=region_name(record.region), agency=record.agency, email=record.email,
            status=record.status, locked_until=record.locked_until, last_login_at=record.last_login_at,
            created_at=record.created_at, created_by=record.created_by,
        )


class NavItem(_View):
    label: str
    href: str


class SignedIn(_View):
    """The person behind a request: its account and its browser session."""

    account: AccountView
    session_id: str
    csrf_token: str = Field(repr=False)

    @property
    def landing(self) -> str:
        return landing_path(self.account.role, self.account.region)

    @property
    def nav(self) -> list[NavItem]:
        """The menu of the person's role (the server checks every page again)."""
        role, region = self.account.role, self.account.region
        items: list[NavItem] = []
        if role == "operator":
            items.append(NavItem(label="Inovasi saya", href="/inovasi"))
        if role == "verifier":
            items.append(NavItem(label="Verifikasi", href="/verifikasi"))
        if region is not None and role != "province_admin":
            items.append(NavItem(label="Dasbor daerah", href=f"/daerah/{region}"))
        items.append(NavItem(label="Peringkat", href="/peringkat"))
        items.append(NavItem(label="Pengaturan", href="/pengaturan"))
        items.append(NavItem(label="Akun saya", href="/akun"))
        return items


class LoginResult(_View):
    """A new session: its secret goes into the cookie, once; the person lands at `landing`."""

    session_secret: str = Field(repr=False)
    person: SignedIn
    landing: str


class SessionView(_View):
    id: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    user_agent: str | None
    address: str | None
    current: bool

    @classmethod
    def of(cls, record: SessionRecord, current_id: str) -> SessionView:
        return cls(
            id=record.id, created_at=record.created_at, last_seen_at=record.last_seen_at,
            expires_at=record.expires_at, user_agent=record.user_agent, address=record.address,
            current=record.id == current_id,
        )


class TokenView(_View):
    id: str
    name: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime
    revoked_at: datetime | None
    state: Literal["active", "expired", "revoked"]

    @classmethod
    def of(cls, record: TokenRecord, now: datetime) -> TokenView:
        state: Literal["active", "expired", "revoked"] = (
            "revoked" if record.revoked_at is not None else "expired" if record.expires_at <= now else "active"
        )
        return cls(
            id=record.id, name=record.name, created_at=record.created_at, last_used_at=record.last_used_at,
            expires_at=record.expires_at, revoked_at=record.revoked_at, state=state,
        )


class CreatedToken(_View):
    """A new personal API token: `secret` is shown in this answer only (only its hash is kept)."""

    token: TokenView
    secret: str = Field(repr=False)


class AccountList(_View):
    region: str
    accounts: list[AccountView]


# --- forms -------------------------------------------------------------------------------


class FormState(_View):
    """A form sent back with what was wrong: each field's problems (reasons, in English; the
    templates say them in Bahasa Indonesia), the values to show again (never a password), and
    an overall reason."""

    form: str
    values: dict[str, str] = {}
    problems: dict[str, list[str]] = {}
    reason: str | None = None
    code: str | None = None


# --- pages -------------------------------------------------------------------------------


class LoginPage(_View):
    csrf_token: str = Field(repr=False)
    username: str = ""
    next: str | None = None


class AccountPage(_View):
    person: SignedIn
    sessions: list[SessionView]


class PlaceholderPage(_View):
    """A landing page still to be built: its title and who it is for."""

    person: SignedIn
    title: str
    lead: str


class SettingsPage(_View):
    """`/pengaturan`: every person's personal API tokens; for a region admin also the
    region's agencies, accounts and webhooks. `created_token` / `created_webhook` carry a
    secret shown once, right after it was made."""

    person: SignedIn
    manages_region: bool
    tokens: list[TokenView]
    agencies: list[Agency] = []
    accounts: list[AccountView] = []
    webhooks: list[Webhook] = []
    grantable_roles: list[Role] = list(MANAGEABLE_ROLES)
    webhook_kinds: list[str] = ["score.updated", "category.changed", "evidence.rejected"]
    # The region's services could not be read (an API down): the sections say so.
    unavailable: list[str] = []


# --- region pages: the dashboard (/daerah/{code}), its live feed, the region's profile
# (/wilayah/{code}) and the rankings (/peringkat) ------------------------------------------

FigureName = Literal["claimed", "provisional", "validated"]


class RankView(_View):
    position: int
    of: int


class FigureView(_View):
    """One of a region's three figures as the score API answers it, with the catalogue's
    label of its category and its ranks now (by type nationally, within the province)."""

    figure: FigureName
    iid: Decimal
    category: str
    category_label: str
    innovations_counted: int = 0
    rank_type: RankView | None = None
    rank_province: RankView | None = None  # None for a provinsi


class ScoreView(_View):
    region: str
    name: str
    type: str
    type_label: str
    province: str | None  # the province a kabupaten or kota is ranked within
    province_name: str | None
    version: int  # 0: nothing reported yet
    computed_at: datetime | None
    figures: list[FigureView]


class HistoryRow(_View):
    at: datetime | None
    version: int
    cause: str
    claimed: Decimal
    provisional: Decimal
    validated: Decimal


class HistoryView(_View):
    """The IID over time: the chart (None before any score) and the same values as a table,
    newest first (`more`: versions older than those shown)."""

    chart: Chart | None
    rows: list[HistoryRow]
    first: HistoryRow | None
    last: HistoryRow | None
    more: bool = False


class ActionItem(_View):
    """An answer to act on: an innovation's SID answer, or (innovation None) an SPD answer."""

    innovation: str | None
    innovation_name: str | None
    indicator: str
    indicator_name: str
    note: str | None = None  # why (missing), or the verifier's reason (rejected)


class InnovationItem(_View):
    id: str
    name: str
    status: str
    status_label: str


class AgencyPanel(_View):
    """An agency (OPD) on the dashboard: whether it has submitted an innovation ("satu OPD
    satu inovasi"), its innovations, and what is missing, pending and rejected."""

    id: str
    name: str
    reported: bool
    draft: int = 0
    submitted: int = 0
    withdrawn: int = 0
    innovations: list[InnovationItem] = []
    missing: list[ActionItem] = []
    pending: list[ActionItem] = []
    rejected: list[ActionItem] = []

    @property
    def open_items(self) -> int:
        return len(self.missing) + len(self.pending) + len(self.rejected)


class GapActionView(_View):
    kind: str
    text: str  # what to do, in words
    innovation: str | None
    innovation_name: str | None  # None: an SPD answer of the region
    agency_name: str | None
    indicator: str
    indicator_name: str
    iid_after: Decimal


class GapView(_View):
    """The fewest actions that lift the validated figure into the next category."""

    figure: FigureName
    target: str
    target_label: str
    target_min: Decimal
    iid_now: Decimal
    reached: bool
    actions: list[GapActionView]
    iid_after_actions: Decimal
    more_count: int | None = None  # new innovations still needed when the actions do not reach it
    more_maturity: Decimal | None = None
    more_iid_after: Decimal | None = None


class RegionPage(_View):
    """The region dashboard. `details` (agencies, what to act on, the gap plan) is for the
    region's admin, verifiers and viewers and those who oversee it — not for an operator,
    which sees the figures and their history. A section whose service did not answer is
    named in `unavailable`."""

    person: SignedIn
    code: str
    name: str
    cycle: int
    version: int
    score: ScoreView
    figures: list[FigureView]
    history: HistoryView | None
    live_url: str
    details: bool
    agencies: list[AgencyPanel] = []
    not_reported: int = 0
    spd: AgencyPanel | None = None  # the region's own SPD answers to act on
    gap: GapView | None = None
    top_category: bool = False  # already in the highest category: no plan needed
    unavailable: list[str] = []


class RegionProfilePage(_View):
    """`/wilayah/{code}`: any region's figures, ranks and history, for everyone signed in;
    `dashboard_href` for those who may open its dashboard."""

    person: SignedIn
    code: str
    name: str
    cycle: int
    score: ScoreView
    figures: list[FigureView]
    history: HistoryView | None
    dashboard_href: str | None
    unavailable: list[str] = []


class LiveFigure(_View):
    figure: FigureName
    iid: Decimal
    category: str
    category_label: str
    rank_type: RankView | None
    rank_province: RankView | None


class LiveScore(_View):
    """A region's score on the dashboard's live feed: its current score when the feed
    opens, then every `score.updated` (`entry_id`: the stream entry, the SSE id)."""

    entry_id: str
    region: str
    version: int
    computed_at: datetime | None
    figures: list[LiveFigure]


class LiveRankMove(_View):
    figure: FigureName
    rank_type: RankView | None
    rank_province: RankView | None


class LiveRanks(_View):
    """Another region's new score moved this region's ranks (`ranking.changed`)."""

    entry_id: str
    region: str
    figures: list[LiveRankMove]


class LiveIdle(_View):
    """Nothing for this region for a while (`stream_unavailable`: Redis does not answer)."""

    stream_unavailable: bool = False


LiveItem = LiveScore | LiveRanks | LiveIdle


class Option(_View):
    value: str
    label: str
    selected: bool = False


class RankingRow(_View):
    rank: int
    region: str
    name: str
    iid: Decimal
    category: str
    category_label: str
    own: bool = False  # the person's own region


class RankingsPage(_View):
    """`/peringkat`: one ranking (type, figure, national or one province), filtered by the
    search and shown a page at a time; the form's choices as options."""

    person: SignedIn
    cycle: int
    type: str
    type_label: str
    figure: FigureName
    figure_label: str
    province: str | None
    scope_label: str  # "nasional" or the province's name
    search: str
    rows: list[RankingRow]
    total: int  # regions in the ranking
    matched: int  # of those, matching the search
    page: int
    pages: int
    first: int  # the position, among those matched, of the first row shown
    prev_href: str | None
    next_href: str | None
    types: list[Option]
    figures: list[Option]
    provinces: list[Option]
    province_dropped: bool = False


# --- work pages: Inovasi saya (/inovasi, /inovasi/baru, /inovasi/{id}) and Verifikasi
# (/verifikasi, /verifikasi/{id}); built in handlers/innovations.py and handlers/verification.py

EvidenceDisplay = Literal["pdf", "image", "video", "link", "none"]


class WorkChoice(_View):
    """One option of a select, radio group or checkbox list."""

    value: str
    label: str
    group: str | None = None


class InnovationRow(_View):
    id: str
    name: str
    status: str  # draft, submitted, withdrawn
    version: int
    urusan_utama: str  # its label
    eligible: bool
    open_rules: list[str]  # the eligibility rules not met yet
    mandatory_answered: int
    mandatory_total: int
    updated_at: datetime | None


class InnovationsPage(_View):
    """`/inovasi`: the operator's agency's innovations of the cycle."""

    person: SignedIn
    cycle: int
    agency: str
    agency_name: str | None
    items: list[InnovationRow]
    next_after: str | None = None
    after: str | None = None


class EvidenceView(_View):
    id: str
    kind: str  # pdf, image, video, link
    state: str  # pending, accepted, rejected
    reason: str | None
    size: int | None
    content_type: str | None
    link: str | None
    uploaded_at: datetime
    decided_at: datetime | None
    file_url: str | None  # the file through this site (`/bukti/{id}/berkas`); None for a link


class IndicatorLevel(_View):
    level: int
    label: str


class IndicatorBasis(_View):
    id: str
    name: str
    levels: list[IndicatorLevel]


class IndicatorView(_View):
    """An SID indicator as the catalogue describes it, with the innovation's answer and its
    evidence items."""

    code: str
    number: int
    name: str
    variable: str
    weight: Decimal
    mandatory: bool
    assumed: bool
    levels: list[IndicatorLevel]
    bases: list[IndicatorBasis]
    level: int | None
    evidence_rule: str | None  # what the catalogue asks for
    kinds: list[str]  # pdf, image, video, link
    accept: str  # the file input's accept attribute
    accepts_file: bool
    accepts_link: bool
    items: list[EvidenceView]
    evidence_state: str  # none, rejected, pending, accepted (the best item's)


class RuleView(_View):
    """One eligibility rule of the checklist: met or not, and what it names."""

    rule: str
    met: bool
    fields: list[str]
    reasons: list[str]


class EffectView(_View):
    figure: str
    counted: bool
    potential: bool
    answers_counted: int
    maturity: Decimal
    divisor: int
    sid_iid_points: Decimal
    sji_iid_points: Decimal
    iid_points: Decimal
    region_iid: Decimal
    region_category: str


class InnovationFormPage(_View):
    """`/inovasi/baru` (`is_new`) and `/inovasi/{id}`: the profile form, and for an existing
    innovation its indicators with their evidence, the eligibility checklist, submit and
    withdraw, and what it adds to the region's IID."""

    person: SignedIn
    cycle: int
    is_new: bool
    id: str | None = None
    status: str | None = None
    version: int | None = None
    updated_at: datetime | None = None
    values: dict[str, str]
    urusan_lain: list[str]
    rancang_bangun_words: int = 0
    min_words: int = 300
    choices: dict[str, list[WorkChoice]]
    urusan: list[WorkChoice]
    indicators: list[IndicatorView] = []
    checklist: list[RuleView] = []
    eligible: bool = False
    effects: list[EffectView] = []
    region_version: int = 0
    unavailable: list[str] = []  # parts that could not be read: evidence, score
    max_upload_bytes: int
    idempotency_key: str = ""
    unsaved: dict[str, str] = {}  # a stale form's values, shown beside the current ones


class QueueRow(_View):
    id: str
    indicator: str
    indicator_number: int | None
    indicator_name: str
    innovation: str | None  # None: SPD evidence of the region
    innovation_name: str | None
    agency: str | None
    kind: str
    size: int | None
    uploaded_at: datetime


class VerificationPage(_View):
    """`/verifikasi`: the region's pending evidence, oldest first, a page at a time."""

    person: SignedIn
    cycle: int
    region: str
    region_name: str | None
    items: list[QueueRow]
    after: str | None = None
    next_after: str | None = None
    unavailable: bool = False  # the evidence service did not answer


class DecisionView(_View):
    decision: str
    reason: str | None
    decided_at: datetime


class VerificationItemPage(_View):
    """`/verifikasi/{id}`: one evidence item, its document in the page, what was claimed
    with it, its decisions so far, and the form to accept or reject it."""

    person: SignedIn
    cycle: int
    item: EvidenceView
    indicator: str
    indicator_number: int | None
    indicator_name: str
    evidence_rule: str | None
    levels: list[IndicatorLevel]
    claimed_level: int | None
    innovation: str | None
    innovation_name: str | None
    agency: str | None
    display: EvidenceDisplay
    decisions: list[DecisionView]
    unsaved: dict[str, str] = {}
