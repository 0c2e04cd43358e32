-- 018 certificates: late readings into any closed month (certification.workflows
-- .late_readings), the sequence grant 017 left out, and the REC Owner of each ledger entry.

-- Append-only: what a late-readings check found for one meter of a closed system-month: the
-- readings in the span's bounds [first, last] of its close and the energy they counted then.
-- A close stores its own count (month_closes.meters: span_readings); the latest check after
-- it is the month's new baseline, so the same late readings are noticed (and the month held)
-- once, and a month whose readings did not change is not recounted again.
CREATE TABLE late_reading_checks (
    check_id   bigserial PRIMARY KEY,
    system_id  text        NOT NULL REFERENCES systems (system_id),
    month      text        NOT NULL,
    meter_id   text        NOT NULL,
    readings   bigint      NOT NULL,
    energy_wh  bigint      NOT NULL,
    held       boolean     NOT NULL,  -- the check held the month (its energy changed)
    checked_by text        NOT NULL,  -- late:<closing month> or late:<exported quarter>
    checked_at timestamptz NOT NULL
);
CREATE INDEX late_reading_checks_month_idx ON late_reading_checks (system_id, month, meter_id);
CREATE RULE late_reading_checks_no_update AS ON UPDATE TO late_reading_checks
    DO INSTEAD NOTHING;
CREATE RULE late_reading_checks_no_delete AS ON DELETE TO late_reading_checks
    DO INSTEAD NOTHING;

-- Grants: written by whoever closes months or exports (certification commands, the web's
-- month close); the bigserial sequences of 017 and 018 with them (015 granted the sequences
-- that existed then: without this a hold after close made on the certify login failed on
-- month_holds_after_close_hold_id_seq).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pts_certify') THEN
        GRANT SELECT, INSERT ON late_reading_checks TO pts_web, pts_certify;
        GRANT USAGE, SELECT ON SEQUENCE late_reading_checks_check_id_seq,
            month_holds_after_close_hold_id_seq TO pts_web, pts_certify;
    END IF;
END
$$;

-- The REC Owner each ledger entry credits (or takes back from): a month's certificates belong
-- to the REC Owner of its first entry (at its close, normally), its later entries too, and
-- the fraction carried is per system and REC Owner, so one owner's take-back never offsets
-- another's certificates. Entries made before 018: the system's REC Owner now (the ledger is
-- append-only: its no-update rule is lifted for this one backfill).
ALTER TABLE srec_ledger ADD COLUMN rec_owner_id text;
ALTER TABLE srec_ledger DISABLE RULE srec_ledger_no_update;
UPDATE srec_ledger l SET rec_owner_id = coalesce(s.rec_owner_id, s.owner_id)
FROM systems s WHERE s.system_id = l.system_id;
ALTER TABLE srec_ledger ENABLE RULE srec_ledger_no_update;
ALTER TABLE srec_ledger ALTER COLUMN rec_owner_id SET NOT NULL;
CREATE INDEX srec_ledger_owner_idx ON srec_ledger (system_id, rec_owner_id, seq);
