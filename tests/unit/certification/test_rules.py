"""Registry rules, roles, change requests and manual reports: exact refusals and outcomes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from certification import change_requests as cr
from certification.errors import Refused
from certification.manual_reports import ManualReport, accept, closing_reading
from certification.registry_rules import check_meter, check_reporting_method, required_accuracy
from certification.roles import Account, Role, require_read, require_submit, roles_on
from schemas import AccuracyClass, DasProvider, Meter, Reading, ReportingMethod, Source, System

NOW = datetime(2026, 10, 30, 16, tzinfo=UTC)  # inside October's window
OWNER = Account("owner-1", Role.OWNER)
REP = Account("rep-1", Role.REPRESENTATIVE)
ADMIN = Account("staff-1", Role.ADMIN)
STRANGER = Account("someone", Role.OWNER)


def system(kw: str = "10.000", method: ReportingMethod = ReportingMethod.MANUAL) -> System:
    return System(
        system_id="S1",
        owner_id="owner-1",
        representative_id="rep-1",
        capacity_kw_dc=Decimal(kw),
        reporting_method=method,
        das_provider_id="das-a" if method is ReportingMethod.AUTOMATIC else None,
    )


METER = Meter(
    meter_id="M1",
    system_id="S1",
    serial="X1",
    model="ACME-1",
    accuracy_class=AccuracyClass.PCT_2,
    installed_on=date(2024, 1, 1),
)
LAST = Reading(
    meter_id="M1",
    ts=datetime(2026, 9, 29, 16, tzinfo=UTC),
    energy_wh=5_000_000,
    source=Source.MANUAL,
    source_id="rep-1",
    seq=1,
    received_at=datetime(2026, 9, 29, 16, tzinfo=UTC),
)


@pytest.mark.parametrize(
    ("kw", "method", "pct"),
    [
        ("10", "manual", "2.0"),
        ("10.001", "manual", "1.0"),
        ("1000", "automatic", "1.0"),
        ("1000.001", "automatic", "0.5"),
        ("5", "automatic", "1.0"),
    ],
)
def test_accuracy_tiers(kw: str, method: str, pct: str) -> None:
    """±2% ≤10 kW, ±1% to 1 MW, ±0.5% above; a DAS-read meter needs ±1% whatever its size."""
    assert required_accuracy(Decimal(kw), ReportingMethod(method)) == Decimal(pct)


def test_meter_accuracy_and_approval_refusals() -> None:
    """A ±2% meter on an 11 kW system, and an unapproved model, are refused with the reason."""
    approved = {"ACME-1": AccuracyClass.PCT_2}
    check_meter(system("10"), METER, approved)
    with pytest.raises(Refused) as caught:
        check_meter(system("11"), METER, approved)
    assert caught.value.code == "meter_accuracy_too_low"
    with pytest.raises(Refused) as caught:
        check_meter(system("5"), METER, {})
    assert caught.value.code == "meter_not_approved"


def test_the_ten_kilowatt_boundary() -> None:
    """10.000 kW DC may report manually; 10.001 must report automatically."""
    check_reporting_method(system("10.000"), Decimal(10), None)
    with pytest.raises(Refused) as caught:
        check_reporting_method(system("10.001"), Decimal(10), None)
    assert caught.value.code == "must_report_automatically"
    check_reporting_method(system("24"), Decimal(25), None)  # today's rule as a setting


def test_owner_reads_own_system_only() -> None:
    """The owner reads its system; another account is refused."""
    require_read(OWNER, system())
    with pytest.raises(Refused, match="has no role on system S1"):
        require_read(STRANGER, system())


def test_only_the_representative_submits() -> None:
    """Owner and admin may not submit production; the representative and its DAS provider may."""
    require_submit(REP, system())
    for account in (OWNER, ADMIN):
        with pytest.raises(Refused) as caught:
            require_submit(account, system())
        assert caught.value.code == "not_the_representative"
    das = Account("das-a", Role.DAS_PROVIDER)
    auto = system("50", ReportingMethod.AUTOMATIC)
    require_submit(das, auto, DasProvider(provider_id="das-a", name="A", approved=True))
    with pytest.raises(Refused) as caught:
        require_submit(das, auto, DasProvider(provider_id="das-a", name="A", approved=False))
    assert caught.value.code == "provider_not_approved"


def test_rec_owner_change_needs_contract_admin_and_one_open_request() -> None:
    """A REC owner change: contract required, one open per system, admin approval applies it."""
    s = system()
    with pytest.raises(Refused) as caught:
        cr.open_request(OWNER, s, "r0", "buyer-9", None, [], NOW)
    assert caught.value.code == "transfer_contract_missing"
    req = cr.open_request(OWNER, s, "r1", "buyer-9", "doc://transfer-2026-17.pdf", [], NOW)
    with pytest.raises(Refused) as caught:
        cr.open_request(OWNER, s, "r2", "buyer-8", "doc://x", [req], NOW)
    assert caught.value.code == "request_already_open"
    with pytest.raises(Refused) as caught:
        cr.decide(OWNER, req, cr.Status.APPROVED, NOW)
    assert caught.value.code == "admin_only"
    approved = cr.decide(ADMIN, req, cr.Status.APPROVED, NOW)
    assert s.effective_rec_owner_id == "owner-1"
    assert cr.apply(s, approved).effective_rec_owner_id == "buyer-9"
    with pytest.raises(Refused) as caught:
        cr.decide(ADMIN, approved, cr.Status.CANCELLED, NOW)
    assert caught.value.code == "request_closed"


def report(wh: int, at: datetime = NOW, replacement: bool = False) -> ManualReport:
    return ManualReport("M1", wh, at, meter_replacement=replacement)


def test_manual_report_accepted_in_window() -> None:
    """A plausible reading in the window becomes a manual reading of the representative."""
    reading = accept(REP, system(), METER, report(5_900_000), LAST, NOW, Decimal(10))
    assert (reading.source, reading.source_id, reading.energy_wh) == ("manual", "rep-1", 5_900_000)


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (
            lambda: accept(REP, system(), METER, report(4_999_999), LAST, NOW, Decimal(10)),
            "register_went_backwards",
        ),
        (
            lambda: accept(
                REP, system(), METER, report(5_000_000 + 7_440_001), LAST, NOW, Decimal(10)
            ),
            "implausible_for_capacity",
        ),
        (
            lambda: accept(
                REP, system(), METER, report(5_900_000), LAST, NOW + timedelta(days=10), Decimal(10)
            ),
            "outside_reporting_window",
        ),
        (
            lambda: accept(OWNER, system(), METER, report(5_900_000), LAST, NOW, Decimal(10)),
            "not_the_representative",
        ),
        (
            lambda: accept(REP, system("10.001"), METER, report(5_900_000), LAST, NOW, Decimal(10)),
            "must_report_automatically",
        ),
    ],
)
def test_manual_report_refusals(make: object, code: str) -> None:
    """Backwards, implausible, out of window, wrong role, too large: each refused with its code."""
    with pytest.raises(Refused) as caught:
        make()  # type: ignore[operator]
    assert caught.value.code == code


def test_meter_replacement_allows_a_lower_reading() -> None:
    """Marked as a meter replacement, a lower register opens the new meter."""
    reading = accept(REP, system(), METER, report(120, replacement=True), LAST, NOW, Decimal(10))
    assert reading.event == "opening"


def test_owner_who_is_also_representative_submits() -> None:
    """One person may hold two roles on a system: owner and representative."""
    both = system().model_copy(update={"representative_id": "owner-1"})
    assert roles_on(OWNER, both) == {Role.OWNER, Role.REC_OWNER, Role.REPRESENTATIVE}
    require_submit(OWNER, both)


def test_das_provider_is_the_representative_of_its_systems() -> None:
    """The system's DAS provider holds the representative role; another provider holds none."""
    auto = system("50", ReportingMethod.AUTOMATIC)
    das = Account("das-a", Role.DAS_PROVIDER)
    assert roles_on(das, auto) == {Role.DAS_PROVIDER, Role.REPRESENTATIVE}
    other = Account("das-b", Role.DAS_PROVIDER)
    assert roles_on(other, auto) == frozenset()
    with pytest.raises(Refused) as caught:
        require_submit(other, auto, DasProvider(provider_id="das-b", name="B", approved=True))
    assert caught.value.code == "not_the_representative"


def test_rec_owner_change_refusals_and_withdrawal() -> None:
    """Only the owner or REC owner asks; not for the current REC owner; the requester
    withdraws; an admin cancels; after approval the new REC owner may ask again."""
    s = system()
    with pytest.raises(Refused) as caught:
        cr.open_request(REP, s, "r1", "buyer-9", "doc://t", [], NOW)
    assert caught.value.code == "not_owner_or_rec_owner"
    with pytest.raises(Refused) as caught:
        cr.open_request(OWNER, s, "r1", "owner-1", "doc://t", [], NOW)
    assert caught.value.code == "same_rec_owner"
    req = cr.open_request(OWNER, s, "r1", "buyer-9", "doc://t", [], NOW)
    with pytest.raises(Refused) as caught:
        cr.decide(ADMIN, req, cr.Status.WITHDRAWN, NOW)
    assert caught.value.code == "not_the_requester"
    withdrawn = cr.decide(OWNER, req, cr.Status.WITHDRAWN, NOW)
    assert (withdrawn.status, withdrawn.decided_by) == (cr.Status.WITHDRAWN, "owner-1")
    with pytest.raises(Refused) as caught:
        cr.apply(s, withdrawn)
    assert caught.value.code == "not_approved"
    again = cr.open_request(OWNER, s, "r2", "buyer-9", "doc://t", [withdrawn], NOW)
    cancelled = cr.decide(ADMIN, again, cr.Status.CANCELLED, NOW)
    assert cancelled.status is cr.Status.CANCELLED
    third = cr.open_request(OWNER, s, "r3", "buyer-9", "doc://t", [withdrawn, cancelled], NOW)
    sold = cr.apply(s, cr.decide(ADMIN, third, cr.Status.APPROVED, NOW))
    buyer = Account("buyer-9", Role.REC_OWNER)
    assert roles_on(buyer, sold) == {Role.REC_OWNER}
    assert roles_on(OWNER, sold) == {Role.OWNER}
    onward = cr.open_request(buyer, sold, "r4", "buyer-10", "doc://t2", [], NOW)
    assert onward.requested_by == "buyer-9"


def test_manual_report_refused_for_an_automatic_system() -> None:
    """A system registered as automatic reports through its DAS provider, not by hand."""
    auto = system("5", ReportingMethod.AUTOMATIC).model_copy(update={"representative_id": "rep-1"})
    with pytest.raises(Refused) as caught:
        accept(REP, auto, METER, report(5_900_000), LAST, NOW, Decimal(10))
    assert caught.value.code == "reports_automatically"


def test_manual_report_reading_must_be_taken_in_the_window() -> None:
    """Submitted in October's window, a reading dated October 26 23:59 EDT is refused."""
    early = datetime(2026, 10, 27, 3, 59, tzinfo=UTC)
    with pytest.raises(Refused) as caught:
        accept(REP, system(), METER, report(5_900_000, at=early), LAST, NOW, Decimal(10))
    assert caught.value.code == "reading_outside_window"
    edge = datetime(2026, 10, 27, 4, 0, tzinfo=UTC)
    reading = accept(REP, system(), METER, report(5_900_000, at=edge), LAST, NOW, Decimal(10))
    assert reading.ts == edge


def test_implausibility_boundary_is_full_output_for_the_elapsed_hours() -> None:
    """744 h × 10 kW = 7,440,000 Wh is accepted; one Wh more is refused."""
    ok = accept(REP, system(), METER, report(5_000_000 + 7_440_000), LAST, NOW, Decimal(10))
    assert ok.energy_wh == 12_440_000


def test_meter_replacement_with_the_old_meters_final_register() -> None:
    """The old meter's final register is checked like any reading and stored as a CLOSING
    read one second before the new meter's OPENING read."""
    swap = ManualReport("M1", 120, NOW, meter_replacement=True, old_register_wh=5_900_000)
    opening = accept(REP, system(), METER, swap, LAST, NOW, Decimal(10))
    closing = closing_reading(REP, METER, swap, NOW)
    assert closing is not None
    assert (closing.event, closing.energy_wh, closing.ts) == (
        "closing",
        5_900_000,
        NOW - timedelta(seconds=1),
    )
    assert (opening.event, opening.energy_wh, opening.ts) == ("opening", 120, NOW)
    backwards = ManualReport("M1", 120, NOW, meter_replacement=True, old_register_wh=4_000_000)
    with pytest.raises(Refused) as caught:
        accept(REP, system(), METER, backwards, LAST, NOW, Decimal(10))
    assert caught.value.code == "register_went_backwards"
    assert closing_reading(REP, METER, report(5_900_000), NOW) is None


def test_approved_class_is_compared_with_the_tier() -> None:
    """A model approved at ±2% is refused on a 500 kW system even when its meter row declares
    0.5: the approved list's class binds (the worse of the two is the meter's accuracy)."""
    big = system("500", ReportingMethod.AUTOMATIC)
    declared_fine = METER.model_copy(update={"accuracy_class": AccuracyClass.PCT_0_5})
    with pytest.raises(Refused) as caught:
        check_meter(big, declared_fine, {"ACME-1": AccuracyClass.PCT_2})
    assert caught.value.code == "meter_accuracy_too_low"
    assert caught.value.message == (
        "a 500 kW DC system needs a ±1.0% meter; ACME-1 is approved at ±2.0% "
        "(its meter row declares ±0.5%); install a meter of an approved model of ±1.0% or better"
    )
    check_meter(big, declared_fine, {"ACME-1": AccuracyClass.PCT_0_5})


TEN = Decimal(10)
DIAL = Meter.model_validate({**METER.model_dump(), "register_digits": 5})


def test_manual_dial_rollover_is_accepted() -> None:
    """A 5-digit kWh dial at 99,999 kWh reads 12 kWh 30 h later: a 13 kWh rollover (10 kW can
    make 300 kWh in 30 h), stored with the dial's modulus; 99,990 kWh instead would be a
    wrap of 99,991 kWh, impossible: refused as a backwards register."""
    last = LAST.model_copy(update={"energy_wh": 99_999_000, "ts": NOW - timedelta(hours=30)})
    reading = accept(REP, system(), DIAL, report(12_000), last, NOW, TEN)
    assert (reading.energy_wh, reading.register_modulus_wh) == (12_000, 100_000_000)
    with pytest.raises(Refused) as caught:
        accept(REP, system(), DIAL, report(99_990_000), last, NOW, TEN)
    assert caught.value.code == "register_went_backwards"


def test_meter_digits_derive_the_modulus() -> None:
    """register_digits count whole kWh: 5 digits wrap at 100,000 kWh; behind a 40:1 CT the
    stored (primary) register wraps at 40 times that; a declared modulus is kept."""
    assert DIAL.register_modulus_wh == 100_000_000
    ct = Meter.model_validate({**METER.model_dump(), "register_digits": 5, "ct_ratio": 40})
    assert ct.register_modulus_wh == 4_000_000_000
    declared = Meter.model_validate(
        {**METER.model_dump(), "register_digits": 5, "register_modulus_wh": 2**32}
    )
    assert declared.register_modulus_wh == 2**32


def test_ct_ratio_scales_a_dial_reading() -> None:
    """Behind a 40:1 CT the dial's 1,001,000 Wh is 40,040,000 Wh of primary energy."""
    ct = Meter.model_validate({**METER.model_dump(), "ct_ratio": 40})
    last = LAST.model_copy(update={"energy_wh": 40_000_000, "ts": NOW - timedelta(hours=30)})
    reading = accept(REP, system(), ct, report(1_001_000), last, NOW, TEN)
    assert reading.energy_wh == 40_040_000


REP_2 = Account("rep-2", Role.REPRESENTATIVE)
DAS_B = DasProvider(provider_id="das-b", name="B", approved=True)


def test_representative_change_one_open_request_across_kinds() -> None:
    """The System Owner asks for a new representative; an open REC Owner request blocks it
    (one open request per system, whatever its kind); an admin's approval applies it."""
    s = system()
    rec = cr.open_request(OWNER, s, "r1", "buyer-9", "doc://t.pdf", [], NOW)
    with pytest.raises(Refused) as blocked:
        cr.open_representative_change(OWNER, s, "r2", REP_2, "rep-2", None, [rec], NOW)
    with pytest.raises(Refused) as by_rep:
        cr.open_representative_change(REP, s, "r2", REP_2, "rep-2", None, [], NOW)
    with pytest.raises(Refused) as unknown:
        cr.open_representative_change(OWNER, s, "r2", None, "rep-7", None, [], NOW)
    with pytest.raises(Refused) as same:
        cr.open_representative_change(OWNER, s, "r2", REP, "rep-1", None, [], NOW)
    assert [c.value.code for c in (blocked, by_rep, unknown, same)] == [
        "request_already_open",
        "not_system_owner",
        "unknown_account",
        "same_representative",
    ]
    assert blocked.value.message == (
        "system S1 already has an open change request (r1, rec_owner); withdraw it or ask an "
        "admin to decide it first"
    )
    req = cr.open_representative_change(OWNER, s, "r2", REP_2, "rep-2", None, [], NOW)
    assert (req.kind, req.new_party_id, req.status) == (
        cr.Kind.REPRESENTATIVE,
        "rep-2",
        cr.Status.OPEN,
    )
    with pytest.raises(Refused) as not_admin:
        cr.decide(OWNER, req, cr.Status.APPROVED, NOW)
    assert not_admin.value.code == "admin_only"
    approved = cr.decide(ADMIN, req, cr.Status.APPROVED, NOW)
    assert cr.apply(s, approved).representative_id == "rep-2"


def test_das_provider_change_needs_an_approved_provider() -> None:
    """An automatic system's owner asks to move to provider das-b; an unapproved or unknown
    provider, and a manual system, are refused with the reason; approval applies it."""
    auto = system("50", ReportingMethod.AUTOMATIC)
    unapproved = DAS_B.model_copy(update={"approved": False})
    with pytest.raises(Refused) as not_approved:
        cr.open_provider_change(OWNER, auto, "p1", unapproved, "das-b", None, [], NOW)
    with pytest.raises(Refused) as unknown:
        cr.open_provider_change(OWNER, auto, "p1", None, "das-z", None, [], NOW)
    with pytest.raises(Refused) as manual:
        cr.open_provider_change(OWNER, system(), "p1", DAS_B, "das-b", None, [], NOW)
    with pytest.raises(Refused) as same:
        cr.open_provider_change(
            OWNER,
            auto,
            "p1",
            DAS_B.model_copy(update={"provider_id": "das-a"}),
            "das-a",
            None,
            [],
            NOW,
        )
    assert [c.value.code for c in (not_approved, unknown, manual, same)] == [
        "provider_not_approved",
        "unknown_provider",
        "reports_manually",
        "same_das_provider",
    ]
    req = cr.open_provider_change(OWNER, auto, "p1", DAS_B, "das-b", "doc://letter.pdf", [], NOW)
    approved = cr.decide(ADMIN, req, cr.Status.APPROVED, NOW)
    assert cr.apply(auto, approved).das_provider_id == "das-b"


def test_register_digits_and_modulus_must_agree() -> None:
    """A 5-digit kWh dial cannot wrap at 2^32 Wh: the registry refuses facts that disagree."""
    approved = {"ACME-1": AccuracyClass.PCT_2}
    check_meter(system("10"), DIAL, approved)
    both = Meter.model_validate(
        {**METER.model_dump(), "register_digits": 5, "register_modulus_wh": 2**32}
    )
    with pytest.raises(Refused) as caught:
        check_meter(system("10"), both, approved)
    assert caught.value.code == "register_facts_disagree"
    assert caught.value.message == (
        "meter M1: a 5-digit kWh register behind a CT of 1 wraps at 100000000 Wh, not at "
        "the register_modulus_wh 4294967296 given; give one of the two, or both agreeing"
    )


def test_report_refusals_state_times_in_the_system_zone() -> None:
    """Times in refusals are the system's local times (EDT here), as the representative
    reads them, never UTC: a reading at the last one's time, and one after now."""
    last = LAST.model_copy(update={"ts": NOW - timedelta(hours=2)})
    with pytest.raises(Refused) as same_time:
        accept(REP, system(), METER, report(5_900_000, last.ts), last, NOW, TEN)
    with pytest.raises(Refused) as future:
        accept(REP, system(), METER, report(5_900_000, NOW + timedelta(hours=1)), None, NOW, TEN)
    assert same_time.value.message == (
        "a reading at 2026-10-30T10:00:00-04:00 is not after the last one "
        "(2026-10-30T10:00:00-04:00); give the time the register was read"
    )
    assert future.value.message == (
        "reading time 2026-10-30T13:00:00-04:00 is after now (2026-10-30T12:00:00-04:00); "
        "give the time the register was read"
    )
