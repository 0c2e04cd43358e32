-- 017 certificates: holds made after a close, and what analysts read of closed months.

-- Append-only: a finding made after a system-month closed that questions its energy (a site
-- audit recorded later that reads the register beyond the meter's accuracy) holds the month
-- from export until an amendment made at or after `held_at` states it; the ledger takes the
-- month's credit back when the hold is made (certification.workflows.record_audit).
CREATE TABLE month_holds_after_close (
    hold_id   bigserial PRIMARY KEY,
    system_id text        NOT NULL REFERENCES systems (system_id),
    month     text        NOT NULL,
    code      text        NOT NULL,
    detail    text        NOT NULL,
    audit_id  bigint      REFERENCES audit_readings (audit_id),
    held_at   timestamptz NOT NULL
);
CREATE INDEX month_holds_after_close_month_idx ON month_holds_after_close (system_id, month);
CREATE RULE month_holds_after_close_no_update AS ON UPDATE TO month_holds_after_close
    DO INSTEAD NOTHING;
CREATE RULE month_holds_after_close_no_delete AS ON DELETE TO month_holds_after_close
    DO INSTEAD NOTHING;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pts_certify') THEN
        GRANT SELECT, INSERT ON month_holds_after_close TO pts_web, pts_certify;
    END IF;
END
$$;
