"""SREC minting: monthly MWh rounded to the kWh, times the system's factor; whole certificates
are minted and the fraction carries to the system's next month. Exact, with Decimal."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

KWH = Decimal("0.001")


def mwh_of(energy_wh: int) -> Decimal:
    """Wh → MWh rounded half-up to 3 decimals (1,879,360 Wh → 1.879)."""
    return (Decimal(energy_wh) / Decimal(1_000_000)).quantize(KWH, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Minting:
    month: str
    mwh: Decimal
    factor: Decimal
    carry_in: Decimal
    credited: Decimal  # mwh × factor + carry_in
    minted: int
    carry_out: Decimal


def mint(month: str, mwh: Decimal, factor: Decimal, carry_in: Decimal) -> Minting:
    credited = mwh * factor + carry_in
    whole = int(credited.to_integral_value(rounding=ROUND_DOWN)) if credited > 0 else 0
    return Minting(month, mwh, factor, carry_in, credited, whole, credited - whole)


def mint_series(
    months: Iterable[tuple[str, Decimal]], factor: Decimal, carry: Decimal = Decimal(0)
) -> list[Minting]:
    """Mint month after month, carrying each fraction forward."""
    out = []
    for month, mwh in months:
        minted = mint(month, mwh, factor, carry)
        carry = minted.carry_out
        out.append(minted)
    return out
