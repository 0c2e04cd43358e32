"""The demo's summary (text) and chart (PNG of daily production per system and the fleet)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from certification.srec import mwh_of
from certification.workflows.close_month import CloseReport
from pts.demo_truth import TruthCheck


@dataclass
class DemoResult:
    """What `pts demo` produced: the month as closed, its checks, and the files written."""

    database_url: str
    report: CloseReport
    checks: list[TruthCheck]
    export_path: Path
    chart_path: Path
    report_path: Path
    readings: int
    failures: int
    daily: dict[str, dict[date, int]] = field(default_factory=dict)


def render_summary(result: DemoResult) -> str:
    report = result.report
    lines = [f"PTS demo: {report.month}, {len(report.systems)} systems", ""]
    lines.append(f"{'system':<10} {'kW DC':>8} {'MWh':>9} {'SRECs':>6} {'carried':>9}  flags")
    for s in report.systems:
        flags = ", ".join(sorted({code for code, _ in s.findings})) or "-"
        if s.held_by:
            flags += " (HELD: no SRECs until amended or accepted as reported)"
        mwh = f"{mwh_of(s.energy_wh)}{'*' if s.estimated else ''}"
        lines.append(
            f"{s.system.system_id:<10} {s.system.capacity_kw_dc:>8} {mwh:>9} {s.minted:>6} "
            f"{s.carry_out:>9.3f}  {flags}"
        )
    total = sum(s.energy_wh for s in report.systems if not s.estimated)
    lines += [
        "",
        f"fleet: {mwh_of(total)} MWh measured, "
        f"{sum(s.minted for s in report.systems)} SRECs minted "
        f"(* = estimated month: no certificates)",
        f"readings stored: {result.readings:,}; failed polls: {result.failures:,}",
        "",
        "flagged for contact:",
    ]
    for system_id, owner, reasons in report.contact_list():
        details = next(s for s in report.systems if s.system.system_id == system_id).findings
        lines.append(f"  {system_id} (owner {owner}): {', '.join(reasons)}")
        lines += [f"      {message}" for _, message in details]
    if not report.contact_list():
        lines.append("  none")
    bad = [c for c in result.checks if not c.ok]
    no_data = [c for c in result.checks if c.stored_wh is None]
    lines += [
        "",
        "ground truth: "
        + ("every meter with data equals the simulator to the Wh" if not bad else
           f"{len(bad)} meter(s) DIFFER from the simulator"),
    ]  # fmt: skip
    lines += [f"  {c.meter_id}: stored {c.stored_wh} Wh, truth {c.truth_wh} Wh" for c in bad]
    lines += [f"  {c.meter_id}: no data reached PTS (estimated)" for c in no_data]
    lines += [
        "",
        f"GIS export:  {result.export_path}",
        f"chart:       {result.chart_path}",
        f"summary:     {result.report_path}",
        f"database:    psql {result.database_url}",
    ]
    return "\n".join(lines) + "\n"


def render_chart(daily: dict[str, dict[date, int]], path: Path, month: str) -> Path:
    """Daily kWh per system (thin lines) and the fleet total (thick), as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    days = sorted({d for per in daily.values() for d in per})
    fig, (ax_sys, ax_fleet) = plt.subplots(2, 1, figsize=(11, 7), sharex=True)
    for system_id, per in sorted(daily.items()):
        ax_sys.plot(days, [per.get(d, 0) / 1000 for d in days], linewidth=0.7, alpha=0.6,
                    label=system_id)  # fmt: skip
    ax_sys.set_ylabel("kWh per day, each system")
    ax_sys.set_title(f"PTS demo: daily production, {month}")
    if len(daily) <= 12:
        ax_sys.legend(fontsize=7, ncol=4)
    fleet = [sum(per.get(d, 0) for per in daily.values()) / 1_000_000 for d in days]
    ax_fleet.bar(days, fleet, color="#e8a33d")
    ax_fleet.set_ylabel("MWh per day, fleet")
    ax_fleet.set_xlabel("local day")
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
