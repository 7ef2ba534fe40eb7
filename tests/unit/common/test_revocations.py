"""Revocations: the disabled accounts and revoked tokens built from web.events, in memory."""

from __future__ import annotations

import itertools

from services.common.principal import Principal
from services.common.revocations import ACCOUNT_DISABLED, TOKEN_REVOKED, Revocations
from tests.support import events as samples

ACCOUNT = samples.ACCOUNT
OTHER = "acc-other"


def _principal(subject: str = ACCOUNT, token_id: str | None = None) -> Principal:
    return Principal(subject, "operator", "62.10", "dinkes", token_id=token_id)


def test_a_disabled_account_is_refused_until_it_is_active_again() -> None:
    revocations = Revocations()
    assert revocations.apply(samples.account("account.created")) is False  # active: nothing refused
    assert revocations.refusal(_principal()) is None
    assert revocations.apply(samples.account("account.disabled", version=2)) is True
    assert revocations.refusal(_principal()) == ACCOUNT_DISABLED
    assert revocations.refusal(_principal(token_id="tok-9")) == ACCOUNT_DISABLED  # every token of it
    assert revocations.refusal(_principal(OTHER)) is None
    assert revocations.is_disabled(ACCOUNT) and not revocations.is_disabled(OTHER)
    assert revocations.apply(samples.account("account.updated", version=3)) is True
    assert revocations.refusal(_principal()) is None


def test_an_update_to_status_disabled_disables_too() -> None:
    revocations = Revocations()
    revocations.apply(samples.account("account.updated", version=4, data={"status": "disabled"}))
    assert revocations.refusal(_principal()) == ACCOUNT_DISABLED


def test_older_events_of_an_account_change_nothing_whatever_the_order() -> None:
    events = [
        samples.account("account.created", version=1),
        samples.account("account.disabled", version=2),
        samples.account("account.updated", version=3),  # enabled again
        samples.account("account.disabled", version=4),
    ]
    for order in itertools.permutations(events):
        revocations = Revocations()
        for event in (*order, *order):  # redelivered as well
            revocations.apply(event)
        assert revocations.refusal(_principal()) == ACCOUNT_DISABLED, [e.version for e in order]
    revocations = Revocations()
    for event in (events[3], events[2], events[1]):  # v4 then stale v3, v2
        revocations.apply(event)
    assert revocations.is_disabled(ACCOUNT)


def test_a_revoked_token_is_refused_and_the_accounts_other_tokens_are_not() -> None:
    revocations = Revocations()
    assert revocations.apply(samples.token_revoked("tok-1")) is True
    assert revocations.apply(samples.token_revoked("tok-1")) is False  # again: nothing new
    assert revocations.refusal(_principal(token_id="tok-1")) == TOKEN_REVOKED
    assert revocations.refusal(_principal(token_id="tok-2")) is None
    assert revocations.refusal(_principal()) is None  # a token without an id cannot be revoked alone
    # Enabling the account does not bring a revoked token back.
    revocations.apply(samples.account("account.updated", version=5))
    assert revocations.refusal(_principal(token_id="tok-1")) == TOKEN_REVOKED
    assert revocations.counts == (0, 1)


def test_other_events_are_ignored() -> None:
    revocations = Revocations()
    for event in samples.one_of_each():
        assert revocations.apply(event) is False
    assert revocations.counts == (0, 0)


def test_a_national_accounts_events_apply_without_a_region() -> None:
    revocations = Revocations()
    national = {"role": "national", "region": None, "agency": None}
    revocations.apply(samples.account("account.disabled", "acc-kemendagri", data=national, version=2))
    assert revocations.refusal(Principal("acc-kemendagri", "national", None)) == ACCOUNT_DISABLED
