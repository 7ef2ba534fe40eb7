"""Random but reproducible submission histories (intake and evidence events) for several
regions, with the final state they lead to — so a test can compare what the platform
computed with a fresh recomputation by the engine."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Literal

from services.common import events as ev
from services.common.data.regions import load_regions
from services.common.methodology.catalogue import load_methodology, load_urusan
from services.scoring.domain.engine import FIGURES, compile_methodology, score_region
from services.scoring.domain.state import StoredEvidence, StoredInnovation, region_from_state


@dataclass
class History:
    events: list[ev.Envelope] = field(default_factory=list)
    spd: dict[str, dict[str, int | None]] = field(default_factory=dict)
    innovations: dict[str, dict[str, StoredInnovation]] = field(default_factory=dict)
    evidence: dict[str, dict[str, StoredEvidence]] = field(default_factory=dict)

    def expected_iids(self) -> dict[str, dict[str, str]]:
        compiled = compile_methodology("iid-2026")
        out: dict[str, dict[str, str]] = {}
        for code in self.spd.keys() | self.innovations.keys() | self.evidence.keys():
            info = load_regions()[code]
            province = None if info.type == "provinsi" else info.province_code
            region = region_from_state(
                code, info.type, province, self.spd.get(code, {}),
                self.innovations.get(code, {}).values(), self.evidence.get(code, {}).values(),
            )
            score = score_region(region, compiled)
            out[code] = {f: str(score.figures[f].iid) for f in FIGURES}
        return out


def random_history(seed: int, regions: list[str], steps: int, cycle: int = 2026) -> History:
    rng = random.Random(seed)
    methodology = load_methodology("iid-2026")
    spd_codes = [i.code for i in methodology.indicators_of("spd")]
    sid_codes = [i.code for i in methodology.indicators_of("sid")]
    urusan = sorted(load_urusan().basic_service_codes) + ["pariwisata"]
    history = History()
    versions: dict[str, int] = {}
    state: dict[str, dict] = {}

    def next_version(subject: str) -> int:
        versions[subject] = versions.get(subject, 0) + 1
        return versions[subject]

    for step in range(steps):
        region = rng.choice(regions)
        roll = rng.random()
        if roll < 0.2:
            indicator, level = rng.choice(spd_codes), rng.choice([1, 2, 3, None])
            subject = ev.spd_subject(region, indicator)
            history.events.append(ev.SpdAnswerSet(
                cycle=cycle, region=region, subject=subject, version=next_version(subject),
                data=ev.SpdAnswer(indicator=indicator, level=level)))
            history.spd.setdefault(region, {})[indicator] = level
        elif roll < 0.55 or not state:
            known = [i for i, s in state.items() if s["region"] == region]
            if known and rng.random() < 0.7:
                ident = rng.choice(known)
            else:
                ident = f"inv-{region}-{step}"
                state[ident] = {"region": region, "status": "draft", "answers": {},
                                "urusan": rng.choice(urusan)}
            item = state[ident]
            for code in rng.sample(sid_codes, rng.randint(1, 6)):
                item["answers"][code] = rng.choice([1, 2, 3])
            item["status"] = rng.choice(["draft", "submitted", "submitted", "submitted", "withdrawn"])
            cls = {"draft": ev.InnovationUpdated, "submitted": ev.InnovationSubmitted,
                   "withdrawn": ev.InnovationWithdrawn}[item["status"]]
            data = ev.InnovationState(
                id=ident, agency_id="dinkes", name=f"Inovasi {ident}", status=item["status"],
                urusan_utama=item["urusan"], urusan_lain=[], answers=dict(item["answers"]))
            history.events.append(cls(cycle=cycle, region=item["region"], subject=ident,
                                      version=next_version(ident), data=data))
            history.innovations.setdefault(item["region"], {})[ident] = StoredInnovation(
                ident, item["status"], item["urusan"], (), dict(item["answers"]))
        else:
            ident = rng.choice(sorted(state))
            item = state[ident]
            if not item["answers"]:
                continue
            indicator = rng.choice(sorted(item["answers"]))
            evidence_id = f"evd-{ident}-{indicator}"
            new_state: Literal["pending", "accepted", "rejected"] = rng.choice(["pending", "accepted", "rejected"])
            cls = {"pending": ev.EvidenceStored, "accepted": ev.EvidenceAccepted,
                   "rejected": ev.EvidenceRejected}[new_state]
            item_data = ev.EvidenceItem(
                evidence_id=evidence_id, innovation_id=ident, indicator=indicator, state=new_state,
                reason="tidak terbaca" if new_state == "rejected" else None, kind="pdf",
                sha256="ab" * 32, size=1000, content_type="application/pdf")
            history.events.append(cls(cycle=cycle, region=item["region"], subject=evidence_id,
                                      version=next_version(evidence_id), data=item_data))
            history.evidence.setdefault(item["region"], {})[evidence_id] = StoredEvidence(ident, indicator, new_state)
    return history
