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

-- What each closed system-month states, with its flags, beside the stream's rollups (which
-- stay a function of the readings alone, ADR 0005): the close is never overwritten; an
-- amendment flags the month `edited` and states its energy (stated_wh, mwh); `held`: held by
-- a finding at close and not released, or held after its close and not amended since.
CREATE VIEW analyst_closed_monthly AS
SELECT c.system_id, c.month, c.energy_wh, k.certified_wh,
       coalesce(a.after_wh, k.certified_wh) AS stated_wh,
       round(coalesce(a.after_wh, k.certified_wh) / 1e6, 3) AS mwh,
       ARRAY(SELECT m ->> 'meter_id' FROM jsonb_array_elements(c.meters) m
             WHERE (m ->> 'estimated')::boolean ORDER BY 1) AS estimated_meters,
       ((c.held_by <> '{}' AND NOT EXISTS (SELECT 1 FROM month_releases r
             WHERE r.system_id = c.system_id AND r.month = c.month))
        OR EXISTS (SELECT 1 FROM month_holds_after_close h
             WHERE h.system_id = c.system_id AND h.month = c.month
             AND NOT EXISTS (SELECT 1 FROM amendments x WHERE x.system_id = h.system_id
                             AND x.month = h.month AND x.amended_at >= h.held_at))) AS held,
       ARRAY(SELECT DISTINCT f FROM (
             SELECT jsonb_array_elements_text(m -> 'flags') FROM jsonb_array_elements(c.meters) m
             UNION ALL SELECT 'edited' WHERE a.after_wh IS NOT NULL) AS t(f)
             ORDER BY f) AS flags,
       c.held_by, c.closed_at
FROM month_closes c
CROSS JOIN LATERAL (SELECT coalesce(c.certified_wh,
                           CASE WHEN c.estimated THEN 0 ELSE c.energy_wh END)) AS k(certified_wh)
LEFT JOIN LATERAL (SELECT after_wh FROM amendments
                   WHERE system_id = c.system_id AND month = c.month
                   ORDER BY amendment_id DESC LIMIT 1) AS a ON true;
COMMENT ON VIEW analyst_closed_monthly IS
    'Closed system-months as certified: energy as closed, what the month states (amended: '
    'flag edited), estimated meters (flag estimated), held or not.';
GRANT SELECT ON analyst_closed_monthly TO pts_analyst;
