"""`inovasi up --demo`: a small, realistic assessment cycle that seeds itself and keeps moving,
so that a newcomer sees the Indeks Inovasi Daerah change without typing a request.

What it does, once the four services are up:

1. **Seed** the home region (`--region`, default 62.10 Kabupaten Gunung Mas) and a few
   neighbours in the same province (for 62.10: 62.01, 62.71 and the province 62). Each gets
   3-5 agencies, 2-4 innovations per agency with a complete profile (a rancang bangun of more
   than 300 words), answers to every mandatory and some optional SID indicators, evidence
   files (a small valid PDF or PNG; a link for the video indicator), SPD answers with
   evidence; most innovations are submitted, and a verifier accepts most of the checked
   evidence and rejects a few items with a reason. A region that already has the demo's
   agencies is left alone, so restarting `inovasi up --demo` on the same database seeds
   nothing twice (a region whose seeding was interrupted is not completed; the steps below
   fill its gaps). A request that fails for a passing reason (503, 429, 409 with
   Retry-After, a connection error, a timeout) is retried with a bounded backoff, each retry
   logged; only a region whose requests still fail after that is given up, with a log line.
2. **Keep it moving**: every `interval_s` seconds, one plausible step of the people of one
   demo region: a verifier accepts or rejects a pending item, an operator fixes rejected
   evidence, uploads missing evidence, raises an answer's level or answers one more
   indicator, submits a draft, or the region admin improves an SPD answer. Each step is one
   log line with the region's current IIDs and rank.

Everything goes through the public HTTP API with signed tokens, exactly as agencies and
verifiers use it: the demo is a client, not a back door. It registers its agencies under ids
with the reserved prefix `demo-` (`demo-dinkes`, never `dinkes`) and acts only on those
agencies, their innovations and the evidence it uploaded itself (its tokens' subjects start
with `inovasi-demo:`, which the evidence service keeps as `uploaded_by`): agencies and
innovations people create in the same regions, as in the README's walkthrough, are left
alone. The region's SPD answers have no owner: the demo answers them as the region admin of
its regions, so point it at a laptop or pilot database, never at a region whose real data
matters.

Deterministic: the seeded data depend only on the home region and `seed`; the steps depend
on the seed and on the state read back (candidates are sorted by name, never by random ids).
"""

from devtools.demo.client import Actor, DemoApi, DemoRequestError, DemoStopped, RetryPolicy, step
from devtools.demo.data import CYCLE, DEMO_AGENCY_PREFIX, VIDEO_INDICATOR, is_demo_agency
from devtools.demo.files import EvidenceUpload, evidence_for, minimal_pdf, small_png
from devtools.demo.moves import Move, MovePlanner, RegionState, read_region
from devtools.demo.planner import PlannedInnovation, PlannedRegion, Verdict, demo_regions, plan_demo, plan_region
from devtools.demo.runner import Demo, DemoSettings, attach_demo, seed_regions, welcome_text

__all__ = [
    "CYCLE",
    "DEMO_AGENCY_PREFIX",
    "VIDEO_INDICATOR",
    "Actor",
    "Demo",
    "DemoApi",
    "DemoRequestError",
    "DemoSettings",
    "DemoStopped",
    "EvidenceUpload",
    "Move",
    "MovePlanner",
    "PlannedInnovation",
    "PlannedRegion",
    "RegionState",
    "RetryPolicy",
    "Verdict",
    "attach_demo",
    "demo_regions",
    "evidence_for",
    "is_demo_agency",
    "minimal_pdf",
    "plan_demo",
    "plan_region",
    "read_region",
    "seed_regions",
    "small_png",
    "step",
    "welcome_text",
]
