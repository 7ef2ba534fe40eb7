"""Disabled accounts and revoked tokens, known to every service within seconds, checked in
memory on every request (no Redis round trip per request).

The web app publishes its accounts' changes on `web.events`: `account.created`,
`account.updated`, `account.disabled` (data: the account as it is now, with its `status`)
and `token.revoked` (a personal API token's `jti`). `Revocations` is the pure state built
from them; `RevocationFollower` keeps one up to date in each service process: at start-up it
reads `web.events` from its first entry (the stream is never trimmed, so a restarted service
knows every disabled account and revoked token before it serves), then follows it with a
blocking group-less XREAD (as the live feed reads `scoring.events`). When Redis is
unreachable it retries with backoff, logging the outage once, and the service keeps serving
with what it knows.

`services.common.http.authenticate` asks `Revocations.refusal(principal)`: a principal whose
subject is a disabled account, or whose token id is revoked, is a 401.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError

from services.common.bus import make_redis, read_events
from services.common.events import (
    WEB_STREAM,
    AccountCreated,
    AccountDisabled,
    AccountUpdated,
    BaseEnvelope,
    TokenRevoked,
)
from services.common.logging import get_logger
from services.common.principal import Principal

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from services.common.settings import Settings

log = get_logger(__name__)

ACCOUNT_DISABLED = "account disabled"
TOKEN_REVOKED = "token revoked"


class Revocations:
    """Which accounts are disabled and which token ids revoked, from `web.events`. Pure.

    An account's events carry its state and a per-account version: an event older than the
    one applied is ignored, so redelivery and reordering are harmless. A revoked token stays
    revoked. Events of other types are ignored."""

    def __init__(self) -> None:
        self._disabled: set[str] = set()
        self._revoked: set[str] = set()
        self._versions: dict[str, int] = {}

    def apply(self, event: BaseEnvelope) -> bool:
        """Take in one event; True when it changed what is refused."""
        if isinstance(event, TokenRevoked):
            before = len(self._revoked)
            self._revoked.add(event.data.token_id)
            return len(self._revoked) != before
        if not isinstance(event, AccountCreated | AccountUpdated | AccountDisabled):
            return False
        account = event.data.id
        if event.version <= self._versions.get(account, 0):
            return False  # older than what is held
        self._versions[account] = event.version
        was_disabled = account in self._disabled
        if event.data.status == "disabled":
            self._disabled.add(account)
        else:
            self._disabled.discard(account)
        return was_disabled != (account in self._disabled)

    def is_disabled(self, account_id: str) -> bool:
        return account_id in self._disabled

    def is_revoked(self, token_id: str) -> bool:
        return token_id in self._revoked

    def refusal(self, principal: Principal) -> str | None:
        """Why the principal's token is no longer honoured, or None."""
        if principal.subject in self._disabled:
            return ACCOUNT_DISABLED
        if principal.token_id is not None and principal.token_id in self._revoked:
            return TOKEN_REVOKED
        return None

    @property
    def counts(self) -> tuple[int, int]:
        """(disabled accounts, revoked tokens)."""
        return len(self._disabled), len(self._revoked)


class RevocationFollower:
    """Keeps a `Revocations` up to date from `web.events` (a stream key, prefix included).

    `start()` catches up with the whole stream (for at most `catch_up_timeout_s`; if Redis
    does not answer, the service starts anyway and the follower catches up when it does),
    then follows it in the background; `stop()` ends at once. It has its own Redis client,
    so a blocking read never holds a connection another part of the service needs."""

    BLOCK_MS = 1_000
    BATCH = 1_000

    def __init__(
        self,
        revocations: Revocations,
        redis_url: str,
        stream: str,
        *,
        catch_up_timeout_s: float = 5.0,
        backoff_initial_s: float = 0.2,
        backoff_max_s: float = 2.0,
        redis: Redis | None = None,
    ) -> None:
        self.revocations = revocations
        self.stream = stream
        self.catch_up_timeout_s = catch_up_timeout_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self._redis = redis or make_redis(redis_url)
        self._owns_redis = redis is None
        self.position = "0-0"  # the stream entry after which to read next
        self._task: asyncio.Task[None] | None = None
        self._unreachable_since: float | None = None

    @classmethod
    def from_settings(cls, settings: Settings, revocations: Revocations) -> RevocationFollower:
        return cls(revocations, settings.redis_url, settings.stream(WEB_STREAM))

    async def read_once(self, block_ms: int | None) -> bool:
        """Read and apply the next batch (waiting up to `block_ms` for one; None: not at all);
        whether there was one. Raises when Redis fails."""
        before = self.position
        self.position, events = await read_events(
            self._redis, self.stream, self.position, block_ms=block_ms, count=self.BATCH
        )
        for entry_id, event in events:
            if self.revocations.apply(event):
                log.info("revocations changed", stream=self.stream, entry_id=entry_id, event_type=event.type,
                         subject=event.subject)
        return self.position != before

    async def catch_up(self) -> None:
        """Read the stream up to its end, without blocking."""
        while await self.read_once(block_ms=None):
            pass

    async def start(self) -> None:
        if self._task is not None:
            return
        try:
            await asyncio.wait_for(self.catch_up(), self.catch_up_timeout_s)
        except (RedisError, OSError, TimeoutError) as exc:
            self._unreachable(exc)
        self._task = asyncio.create_task(self._follow(), name=f"revocations:{self.stream}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            # A blocking XREAD does not always end when cancelled; closing the client does.
            done, _ = await asyncio.wait({task}, timeout=0.2)
            if not done:
                task.add_done_callback(_discard_outcome)
        if self._owns_redis:
            with contextlib.suppress(Exception):
                await self._redis.aclose()

    async def _follow(self) -> None:
        backoff = self.backoff_initial_s
        while True:
            try:
                await self.read_once(block_ms=self.BLOCK_MS)
            except (RedisError, OSError, TimeoutError) as exc:
                self._unreachable(exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.backoff_max_s)
                continue
            except Exception:  # never let the follower die: what it knows stays in force
                log.exception("reading web.events failed; trying again", stream=self.stream)
                await asyncio.sleep(self.backoff_max_s)
                continue
            backoff = self.backoff_initial_s
            if self._unreachable_since is not None:
                log.info("web.events readable again: following account revocations", stream=self.stream,
                         after_s=round(time.monotonic() - self._unreachable_since, 1))
                self._unreachable_since = None

    def _unreachable(self, error: BaseException) -> None:
        """Log an outage once, when it begins."""
        if self._unreachable_since is None:
            self._unreachable_since = time.monotonic()
            log.warning("cannot read web.events: disabled accounts and revoked tokens may be refused late; "
                        "retrying", stream=self.stream, error=repr(error))


def _discard_outcome(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()
