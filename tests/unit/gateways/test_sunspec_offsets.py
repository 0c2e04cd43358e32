"""The SunSpec offsets the gateway reads, recomputed from the models' point lists.

The point names and sizes (in registers) are transcribed in order from the SunSpec Alliance's
model definitions (github.com/sunspec/models, json/model_203.json and json/model_701.json);
an offset is the sum of the sizes before a point, counted from the first point after ID and L.
"""

from __future__ import annotations

from gateways.sunspec import (
    DER_AC_LENGTH,
    DER_TOT_WH_ABS,
    DER_TOT_WH_INJ,
    DER_TOT_WH_SF,
    METER_LENGTHS,
    TOT_WH_EXP,
    TOT_WH_IMP,
    TOT_WH_SF,
)

_PHASES = ("", "PhA", "PhB", "PhC")
_ACC = ("TotWhExp", "TotWhImp", "TotVAhExp", "TotVAhImp", "TotVArhImpQ1", "TotVArhImpQ2",
        "TotVArhExpQ3", "TotVArhExpQ4")  # fmt: skip

MODEL_203 = [
    *((f"A{p}", 1) for p in ("", "phA", "phB", "phC")), ("A_SF", 1),
    ("PhV", 1), ("PhVphA", 1), ("PhVphB", 1), ("PhVphC", 1),
    ("PPV", 1), ("PhVphAB", 1), ("PhVphBC", 1), ("PhVphCA", 1), ("V_SF", 1),
    ("Hz", 1), ("Hz_SF", 1),
    *((f"W{p}", 1) for p in ("", "phA", "phB", "phC")), ("W_SF", 1),
    *((f"VA{p}", 1) for p in ("", "phA", "phB", "phC")), ("VA_SF", 1),
    *((f"VAR{p}", 1) for p in ("", "phA", "phB", "phC")), ("VAR_SF", 1),
    *((f"PF{p}", 1) for p in ("", "phA", "phB", "phC")), ("PF_SF", 1),
    *((f"TotWhExp{p}", 2) for p in _PHASES), *((f"TotWhImp{p}", 2) for p in _PHASES),
    ("TotWh_SF", 1),
    *((f"TotVAhExp{p}", 2) for p in _PHASES), *((f"TotVAhImp{p}", 2) for p in _PHASES),
    ("TotVAh_SF", 1),
    *((f"{q}{p}", 2) for q in _ACC[4:] for p in _PHASES), ("TotVArh_SF", 1),
    ("Evt", 2),
]  # fmt: skip

_PHASE_701 = [("W", 1), ("VA", 1), ("Var", 1), ("PF", 1), ("A", 1), ("VLL", 1), ("VLN", 1),
              ("TotWhInj", 4), ("TotWhAbs", 4), ("TotVarhInj", 4), ("TotVarhAbs", 4)]  # fmt: skip
MODEL_701 = [
    ("ACType", 1), ("St", 1), ("InvSt", 1), ("ConnSt", 1), ("Alrm", 2), ("DERMode", 2),
    ("W", 1), ("VA", 1), ("Var", 1), ("PF", 1), ("A", 1), ("LLV", 1), ("LNV", 1), ("Hz", 2),
    ("TotWhInj", 4), ("TotWhAbs", 4), ("TotVarhInj", 4), ("TotVarhAbs", 4),
    ("TmpAmb", 1), ("TmpCab", 1), ("TmpSnk", 1), ("TmpTrns", 1), ("TmpSw", 1), ("TmpOt", 1),
    *((f"{name}L{n}", size) for n in (1, 2, 3) for name, size in _PHASE_701),
    ("ThrotPct", 1), ("ThrotSrc", 2),
    ("A_SF", 1), ("V_SF", 1), ("Hz_SF", 1), ("W_SF", 1), ("PF_SF", 1), ("VA_SF", 1),
    ("Var_SF", 1), ("TotWh_SF", 1), ("TotVarh_SF", 1), ("Tmp_SF", 1),
    ("MnAlrmInfo", 32),
]  # fmt: skip


def offsets(points: list[tuple[str, int]]) -> tuple[dict[str, int], int]:
    """Each point's offset after ID and L, and the model's length."""
    out: dict[str, int] = {}
    at = 0
    for name, size in points:
        out[name] = at
        at += size
    return out, at


def test_meter_model_offsets_match_model_203() -> None:
    """TotWhExp 36, TotWhImp 44, TotWh_SF 52; length 105 (201–204 share the layout)."""
    at, length = offsets(MODEL_203)
    assert (at["TotWhExp"], at["TotWhImp"], at["TotWh_SF"]) == (TOT_WH_EXP, TOT_WH_IMP, TOT_WH_SF)
    assert set(METER_LENGTHS.values()) == {length}


def test_der_model_offsets_match_model_701() -> None:
    """TotWhInj 17, TotWhAbs 21, TotWh_SF 118; length 153."""
    at, length = offsets(MODEL_701)
    assert (at["TotWhInj"], at["TotWhAbs"], at["TotWh_SF"]) == (
        DER_TOT_WH_INJ,
        DER_TOT_WH_ABS,
        DER_TOT_WH_SF,
    )
    assert length == DER_AC_LENGTH
