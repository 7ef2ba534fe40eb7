"""Hypothesis strategies for scoring datasets."""

from __future__ import annotations

from hypothesis import strategies as st

from .builders import BASIC_SERVICES, sid_codes, spd_codes

URUSAN = BASIC_SERVICES + ["pariwisata", "perhubungan", "keuangan"]
EVIDENCE = ["none", "pending", "accepted", "rejected"]



def _decode(codes: list[str], slots: list[int]) -> dict:
    # One small integer per indicator keeps generation fast: 0 = not answered at all,
    # otherwise (level or None) × evidence state.
    out = {}
    for code, slot in zip(codes, slots, strict=True):
        if slot:
            level = (slot - 1) // 4
            out[code] = {"level": level or None, "evidence": EVIDENCE[(slot - 1) % 4]}
    return out


def answers(codes: list[str]):
    return st.lists(st.integers(0, 16), min_size=len(codes), max_size=len(codes)).map(
        lambda slots: _decode(codes, slots)
    )


@st.composite
def innovations(draw, region_code: str):
    count = draw(st.integers(0, 10))
    return [
        {
            "id": f"{region_code}-i{k}",
            "status": draw(st.sampled_from(["submitted", "submitted", "submitted", "draft", "withdrawn"])),
            "urusan_utama": draw(st.sampled_from(URUSAN)),
            "urusan_lain": draw(st.lists(st.sampled_from(URUSAN), max_size=2)),
            "answers": draw(answers(sid_codes())),
        }
        for k in range(count)
    ]


@st.composite
def regions(draw, code: str, type_: str, province: str):
    return {
        "code": code,
        "type": type_,
        "province": province,
        "spd": draw(answers(spd_codes())),
        "innovations": draw(innovations(code)),
    }


REGION_SLOTS = [
    ("62", "provinsi", "62"),
    ("62.01", "kabupaten", "62"),
    ("62.02", "kabupaten", "62"),
    ("62.71", "kota", "62"),
    ("63", "provinsi", "63"),
    ("63.01", "kabupaten", "63"),
]


@st.composite
def datasets(draw, methodology: str | None = None):
    slots = draw(st.lists(st.sampled_from(REGION_SLOTS), min_size=1, max_size=len(REGION_SLOTS), unique=True))
    chosen = methodology or draw(st.sampled_from(["iid-2026", "iid-2023"]))
    return {"methodology": chosen, "regions": [draw(regions(*slot)) for slot in slots]}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 500) | st.floats(allow_nan=True) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
