"""Keeping it moving: the demo's share of a region read back through the API, and the
plausible steps its people would take next, one at a time."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from devtools.demo.client import Actor, DemoApi
from devtools.demo.data import DEMO_SUBJECT_PREFIX, MAX_LEVEL, RECHECK_REASON, SID_INDICATORS, is_demo_agency
from devtools.demo.files import evidence_for
from devtools.demo.planner import Verdict, rejection_reason
from services.common.data.regions import RegionInfo

EVIDENCE_RANK = {"rejected": 1, "pending": 2, "accepted": 3}


@dataclass(frozen=True, slots=True)
class Move:
    """One step a person would take; `run` does it through the API."""

    actor: Actor
    summary: str
    run: Callable[[], Awaitable[object]]


@dataclass
class RegionState:
    """A region as its admin and verifier read it through the API, before a step, narrowed
    to the demo's share: the innovations of the demo's own agencies and their evidence, and
    the region's SPD answers and evidence. What people created in the region (their agencies'
    innovations and the evidence for them) is dropped here, so no move can touch it."""

    info: RegionInfo
    innovations: list[dict[str, Any]]
    evidence: list[dict[str, Any]]
    spd: list[dict[str, Any]]
    _best: dict[tuple[str | None, str], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.innovations = [i for i in self.innovations if is_demo_agency(i["agency_id"])]
        own = {i["id"] for i in self.innovations}
        self.evidence = [e for e in self.evidence if e["innovation"] is None or e["innovation"] in own]
        # An answer's evidence counts at its best item: one accepted document is enough.
        for item in self.evidence:
            key = (item["innovation"], item["indicator"])
            if EVIDENCE_RANK[item["state"]] > EVIDENCE_RANK.get(self._best.get(key, ""), 0):
                self._best[key] = item["state"]

    def evidence_state(self, innovation_id: str | None, indicator: str) -> str:
        return self._best.get((innovation_id, indicator), "none")

    def innovation(self, innovation_id: str | None) -> dict[str, Any] | None:
        return next((i for i in self.innovations if i["id"] == innovation_id), None)

    def answered(self) -> Iterator[tuple[dict[str, Any], str, int]]:
        """(innovation, indicator, level) of every answered SID indicator, in a stable order."""
        for innovation in sorted(self.innovations, key=lambda i: i["name"]):
            for indicator, level in sorted(innovation["answers"].items()):
                if level is not None:
                    yield innovation, indicator, level

    def answers_needing_evidence(self) -> list[tuple[dict[str, Any] | None, str]]:
        """(innovation, or None for the SPD, indicator) of every answer: each needs evidence."""
        sid = [(innovation, indicator) for innovation, indicator, _ in self.answered()]
        return sid + [(None, a["indicator"]) for a in self.spd if a["level"] is not None]

    def evidence_in_order(self, evidence_state: str) -> list[dict[str, Any]]:
        """Items in a state, ordered by what they back (names, not ids: ids differ per run)."""
        def label(item: dict[str, Any]) -> str:
            innovation = self.innovation(item["innovation"])
            return innovation["name"] if innovation else ""

        items = [e for e in self.evidence if e["state"] == evidence_state]
        return sorted(items, key=lambda e: (label(e), e["indicator"], e["uploaded_at"]))

    def to_decide(self, evidence_state: str) -> list[dict[str, Any]]:
        """The items in a state that the demo uploaded, in `evidence_in_order`'s order: only
        those are for its verifier (SPD evidence a person uploaded is for the person's)."""
        return [e for e in self.evidence_in_order(evidence_state) if uploaded_by_demo(e)]

    def was_rejected(self, innovation_id: str | None, indicator: str) -> bool:
        return any(e["state"] == "rejected" and e["innovation"] == innovation_id and e["indicator"] == indicator
                   for e in self.evidence)


def uploaded_by_demo(item: dict[str, Any]) -> bool:
    return str(item["uploaded_by"]).startswith(DEMO_SUBJECT_PREFIX)


async def read_region(api: DemoApi, info: RegionInfo) -> RegionState:
    return RegionState(info, await api.innovations(info.code), await api.evidence(info.code),
                       await api.spd_answers(info.code))


class MovePlanner:
    """The steps that make sense in a region's current state, grouped by kind; a step is
    drawn by kind weight, then uniformly within its kind."""

    # Verification dominates, as it does in the last weeks of a real cycle.
    WEIGHTS = {
        "verify": 4.0, "fix_rejected": 2.0, "upload_missing": 2.0, "submit_draft": 2.0,
        "raise_level": 1.5, "answer_more": 1.0, "spd": 1.0,
    }

    def __init__(self, api: DemoApi, rng: random.Random) -> None:
        self.api = api
        self.rng = rng

    def choose(self, state: RegionState) -> Move | None:
        candidates = {
            "verify": self.verifications(state),
            "fix_rejected": self.fixes(state),
            "upload_missing": self.missing_uploads(state),
            "submit_draft": self.draft_steps(state),
            "raise_level": self.level_raises(state),
            "answer_more": self.more_answers(state),
            "spd": self.spd_steps(state),
        }
        kinds = [kind for kind, moves in candidates.items() if moves]
        if not kinds:
            # Everything answered at the top level and verified: a re-check keeps it moving.
            rechecks = self.rechecks(state)
            return self.rng.choice(rechecks) if rechecks else None
        kind = self.rng.choices(kinds, weights=[self.WEIGHTS[k] for k in kinds])[0]
        return self.rng.choice(candidates[kind])

    # --- helpers -------------------------------------------------------------------------

    def _label(self, state: RegionState, innovation_id: str | None) -> str:
        innovation = state.innovation(innovation_id)
        return f"'{innovation['name']}'" if innovation else "the region's SPD"

    def _upload(self, state: RegionState, actor: Actor, indicator: str, innovation: dict[str, Any] | None,
                version: int) -> Callable[[], Awaitable[object]]:
        subject = innovation["name"] if innovation else state.info.name
        upload = evidence_for(indicator, region=state.info, subject=subject, version=version)
        return lambda: self.api.upload(actor, indicator, upload, innovation=innovation,
                                       region=None if innovation else state.info.code)

    def _owner(self, state: RegionState, innovation: dict[str, Any] | None) -> Actor:
        if innovation is None:
            return Actor("region_admin", state.info.code)
        return Actor("operator", state.info.code, innovation["agency_id"])

    # --- the kinds of steps ------------------------------------------------------------------

    def verifications(self, state: RegionState) -> list[Move]:
        """A verifier decides a pending item of a submitted innovation or of the SPD."""
        moves = []
        verifier = Actor("verifier", state.info.code)
        for item in state.to_decide("pending"):
            innovation = state.innovation(item["innovation"])
            if innovation is not None and innovation["status"] != "submitted":
                continue  # verifiers check submitted innovations
            # A corrected document is usually right; a first upload fails one time in five.
            corrected = state.was_rejected(item["innovation"], item["indicator"])
            if self.rng.random() < (0.9 if corrected else 0.8):
                verdict = Verdict("accepted")
            else:
                verdict = Verdict("rejected", rejection_reason(self.rng, item["indicator"]))
            what = f"{item['indicator']} of {self._label(state, item['innovation'])}"
            summary = f"{verdict.decision} {what}" + (f": {verdict.reason}" if verdict.reason else "")
            decide = partial(self.api.decide, state.info.code, item["id"], verdict)
            moves.append(Move(verifier, summary, decide))
        return moves

    def fixes(self, state: RegionState) -> list[Move]:
        """The owner uploads a corrected document for an answer whose evidence was rejected."""
        return self._uploads_where(state, "rejected", "uploaded corrected evidence", version=2)

    def missing_uploads(self, state: RegionState) -> list[Move]:
        """The owner uploads evidence for an answer that has none yet."""
        return self._uploads_where(state, "none", "uploaded missing evidence", version=1)

    def _uploads_where(self, state: RegionState, evidence_state: str, wording: str, *, version: int) -> list[Move]:
        moves = []
        for innovation, indicator in state.answers_needing_evidence():
            innovation_id = innovation["id"] if innovation else None
            if state.evidence_state(innovation_id, indicator) != evidence_state:
                continue
            owner = self._owner(state, innovation)
            summary = f"{wording} for {indicator} of {self._label(state, innovation_id)}"
            moves.append(Move(owner, summary, self._upload(state, owner, indicator, innovation, version=version)))
        return moves

    def draft_steps(self, state: RegionState) -> list[Move]:
        """An operator submits an eligible draft, or first answers the mandatory indicator it lacks."""
        moves = []
        for innovation in sorted(state.innovations, key=lambda i: i["name"]):
            if innovation["status"] != "draft":
                continue
            operator = self._owner(state, innovation)
            if innovation["eligibility"]["eligible"]:
                moves.append(Move(operator, f"submitted '{innovation['name']}'",
                                  partial(self.api.submit, operator, innovation)))
                continue
            missing = [i.code for i in SID_INDICATORS if i.mandatory and innovation["answers"].get(i.code) is None]
            if missing:
                indicator, level = missing[0], self.rng.choice((1, 2))
                moves.append(Move(operator, f"answered {indicator} of draft '{innovation['name']}' at level {level}",
                                  self._answer_with_evidence(state, operator, innovation, indicator, level)))
        return moves

    def level_raises(self, state: RegionState) -> list[Move]:
        """An operator raises the level of an answer of a submitted innovation, with a document backing it."""
        moves = []
        for innovation, indicator, level in state.answered():
            if innovation["status"] != "submitted" or level >= MAX_LEVEL:
                continue
            operator = self._owner(state, innovation)
            summary = f"raised {indicator} of '{innovation['name']}' from level {level} to {level + 1}"
            moves.append(Move(operator, summary,
                              self._answer_with_evidence(state, operator, innovation, indicator, level + 1)))
        return moves

    def more_answers(self, state: RegionState) -> list[Move]:
        """An operator answers one more optional indicator of a submitted innovation."""
        moves = []
        for innovation in sorted(state.innovations, key=lambda i: i["name"]):
            if innovation["status"] != "submitted":
                continue
            operator = self._owner(state, innovation)
            for indicator in SID_INDICATORS:
                if innovation["answers"].get(indicator.code) is None:
                    level = self.rng.choice((1, 2))
                    moves.append(Move(operator, f"answered {indicator.code} of '{innovation['name']}' at level {level}",
                                      self._answer_with_evidence(state, operator, innovation, indicator.code, level)))
        return moves

    def spd_steps(self, state: RegionState) -> list[Move]:
        """The region admin answers an SPD indicator not yet answered, or raises one, with evidence."""
        moves = []
        admin = Actor("region_admin", state.info.code)
        for answer in state.spd:
            level = answer["level"]
            if level is not None and level >= MAX_LEVEL:
                continue
            new_level = (level or 0) + 1
            code = answer["indicator"]
            verb = f"raised SPD {code} to level {new_level}" if level else f"answered SPD {code} at level 1"

            async def run(a: dict[str, Any] = answer, new: int = new_level) -> None:
                await self.api.set_spd(state.info.code, a["indicator"], new, a["version"])
                await self._upload(state, admin, a["indicator"], None, version=new)()

            moves.append(Move(admin, verb, run))
        return moves

    def rechecks(self, state: RegionState) -> list[Move]:
        """A verifier re-checks an accepted item and rejects it: only once nothing else is
        left, so that a fully verified region keeps moving (the owner then uploads a
        correction, the verifier accepts it, and so on)."""
        verifier = Actor("verifier", state.info.code)
        return [
            Move(verifier, f"re-checked {e['indicator']} of {self._label(state, e['innovation'])} and rejected it",
                 partial(self.api.decide, state.info.code, e["id"], Verdict("rejected", RECHECK_REASON)))
            for e in state.to_decide("accepted")
        ]

    def _answer_with_evidence(self, state: RegionState, operator: Actor, innovation: dict[str, Any], indicator: str,
                              level: int) -> Callable[[], Awaitable[object]]:
        async def run() -> None:
            await self.api.set_answer(operator, innovation, indicator, level)
            await self._upload(state, operator, indicator, innovation, version=level)()

        return run
