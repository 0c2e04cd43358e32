"""SREC minting: rounding to the kWh, factors, whole certificates, carry-forward, export lines."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certification.errors import Refused
from certification.gis_export import ExportLine, quarter_months, render
from certification.srec import mint, mint_series, mwh_of


def test_mwh_rounds_to_the_kwh() -> None:
    """1,879.36 kWh → 1.879 MWh; 500 Wh rounds half up."""
    assert mwh_of(1_879_360) == Decimal("1.879")
    assert mwh_of(1_879_500) == Decimal("1.880")
    assert mwh_of(499) == Decimal("0.000")


def test_domain_example_factor_point_eight() -> None:
    """1.500 MWh × 0.8 = 1.200 → 1 certificate, 0.200 carried."""
    m = mint("2026-07", Decimal("1.500"), Decimal("0.8"), Decimal(0))
    assert (m.minted, m.carry_out) == (1, Decimal("0.200"))


def test_carry_forward_over_several_quarters() -> None:
    """Six months at 0.8: fractions carry across quarter ends and mint when they add up."""
    months = [
        ("2026-05", "0.900"),
        ("2026-06", "1.100"),
        ("2026-07", "0.450"),
        ("2026-08", "2.375"),
        ("2026-09", "0.000"),
        ("2026-10", "1.040"),
    ]
    series = mint_series([(m, Decimal(v)) for m, v in months], Decimal("0.8"))
    assert [(s.minted, s.carry_out) for s in series] == [
        (0, Decimal("0.7200")),
        (1, Decimal("0.6000")),
        (0, Decimal("0.9600")),
        (2, Decimal("0.8600")),
        (0, Decimal("0.8600")),
        (1, Decimal("0.6920")),
    ]
    assert sum(s.minted for s in series) == 4
    total_credit = sum(Decimal(v) for _, v in months) * Decimal("0.8")
    assert sum(s.minted for s in series) + series[-1].carry_out == total_credit


def test_quarter_months_and_bad_quarter() -> None:
    """2026Q3 is July to September; a malformed quarter is refused."""
    assert quarter_months("2026Q3") == ["2026-07", "2026-08", "2026-09"]
    with pytest.raises(Refused, match="like 2026Q3"):
        quarter_months("2026-Q3")


def test_export_lines_format() -> None:
    """Lines are unitID,MM/YYYY,MWh with three decimals, sorted by unit and month."""
    text = render(
        [
            ExportLine("NON2", "2026-08", Decimal("1.5")),
            ExportLine("NON1", "2026-09", Decimal("0.042")),
            ExportLine("NON1", "2026-07", Decimal("12.345")),
        ]
    )
    assert text == "NON1,07/2026,12.345\nNON1,09/2026,0.042\nNON2,08/2026,1.500\n"


@given(
    energies=st.lists(st.integers(min_value=0, max_value=5_000_000_000), max_size=24),
    factor=st.decimals(min_value=0, max_value=2, places=4),
)
def test_minting_conserves_credit_and_keeps_the_fraction_below_one(
    energies: list[int], factor: Decimal
) -> None:
    """Over any months: minted + final carry = Σ rounded MWh × factor; 0 ≤ carry < 1."""
    series = mint_series([(f"m{i}", mwh_of(wh)) for i, wh in enumerate(energies)], factor)
    carry = series[-1].carry_out if series else Decimal(0)
    assert sum(s.minted for s in series) + carry == sum(mwh_of(wh) for wh in energies) * factor
    assert all(Decimal(0) <= s.carry_out < 1 for s in series)


@given(st.integers(min_value=0, max_value=10**12))
def test_mwh_is_within_half_a_kwh(energy_wh: int) -> None:
    """Rounding to the kWh never moves a month by more than 500 Wh."""
    assert abs(mwh_of(energy_wh) * 1_000_000 - energy_wh) <= 500
