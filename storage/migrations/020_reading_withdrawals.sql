-- 020 withdrawn manual readings (docs/reporting.md, certification/withdrawals.py).
--
-- A System Representative (or staff) may withdraw a manual reading entered by mistake while
-- its month's reporting window is open and the month is not closed. Readings stay
-- append-only: the reading is never updated or deleted; the withdrawal is its own record
-- (who, when, why, the register value it withdraws) and may put the right value in its
-- place at the same instant (a meter's instant holds one row of `readings`, and the right
-- reading was taken at the same moment as the mistyped one).
--
-- Every consumer reads `readings_in_force`: the readings no withdrawal names, plus each
-- (meter, instant)'s latest replacement value. Month energy, rollups, the checks of the next
-- report, month close, audits and certificates all derive from it.
--
-- Grants: the web and certification logins may read withdrawals but not insert them; they
-- withdraw through pts_withdraw_manual_reading (SECURITY DEFINER, like 019's writer), which
-- refuses any reading that is not manual and in force with the value the caller saw.

CREATE TABLE reading_withdrawals (
    withdrawal_id  bigserial   PRIMARY KEY,
    meter_id       text        NOT NULL,
    ts             timestamptz NOT NULL,
    withdrawn_wh   bigint      NOT NULL,  -- the register value withdrawn, as it was in force
    replacement_wh bigint      CHECK (replacement_wh >= 0),  -- put in its place; null: none
    month          text        NOT NULL,  -- the reporting month the reading was filed under
    reason         text        NOT NULL CHECK (btrim(reason) <> ''),
    withdrawn_by   text        NOT NULL,
    withdrawn_at   timestamptz NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reading_withdrawals_key ON reading_withdrawals (meter_id, ts, withdrawal_id);
CREATE RULE reading_withdrawals_no_update AS ON UPDATE TO reading_withdrawals DO INSTEAD NOTHING;
CREATE RULE reading_withdrawals_no_delete AS ON DELETE TO reading_withdrawals DO INSTEAD NOTHING;
COMMENT ON TABLE reading_withdrawals IS
    'Manual readings withdrawn by their representative or staff (append-only): who, when, why, '
    'the value withdrawn and the value put in its place at the same instant, if any.';

-- One branch, one row per stored reading (its latest withdrawal decides: none, the reading;
-- one with a replacement, the replacement's value; one without, no row), so a query's
-- "ORDER BY ts DESC LIMIT 1" still walks the readings index in order (a UNION ALL of
-- replacements made the planner sort every earlier reading of the meter: 4x slower).
CREATE VIEW readings_in_force AS
SELECT r.meter_id, r.ts, coalesce(w.replacement_wh, r.energy_wh) AS energy_wh, r.source,
       coalesce(w.withdrawn_by, r.source_id) AS source_id, r.seq,
       coalesce(w.withdrawn_at, r.received_at) AS received_at, r.unit_id, r.scale_factor,
       r.raw_words, r.register_modulus_wh, r.event, r.flags,
       coalesce('withdrawal:' || w.withdrawal_id, r.content_hash) AS content_hash,
       coalesce(w.recorded_at, r.ingested_at) AS ingested_at
FROM readings r
LEFT JOIN LATERAL (
    SELECT x.withdrawal_id, x.replacement_wh, x.withdrawn_by, x.withdrawn_at, x.recorded_at
    FROM reading_withdrawals x
    WHERE x.meter_id = r.meter_id AND x.ts = r.ts
    ORDER BY x.withdrawal_id DESC LIMIT 1
) w ON true
WHERE w.withdrawal_id IS NULL OR w.replacement_wh IS NOT NULL;
COMMENT ON VIEW readings_in_force IS
    'The readings every consumer counts: those no withdrawal names, and the latest value put '
    'in place of a withdrawn one (source_id: who corrected it, received_at: when).';

-- Withdraw the reading in force at (meter, ts), which must be manual and hold `withdrawn_wh`
-- (the value the caller decided on); returns the withdrawal's id.
CREATE FUNCTION pts_withdraw_manual_reading(
    p_meter_id text, p_ts timestamptz, p_withdrawn_wh bigint, p_replacement_wh bigint,
    p_month text, p_reason text, p_by text, p_at timestamptz)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    found_source text;
    found_wh bigint;
    made bigint;
BEGIN
    SELECT source, energy_wh INTO found_source, found_wh
    FROM readings_in_force WHERE meter_id = p_meter_id AND ts = p_ts;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'no_data_found',
            MESSAGE = format('meter %s has no reading in force at %s', p_meter_id, p_ts);
    END IF;
    IF found_source IS DISTINCT FROM 'manual' THEN
        RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
            MESSAGE = format('only manual readings may be withdrawn: meter %s at %s has '
                             'source %L', p_meter_id, p_ts, found_source);
    END IF;
    IF found_wh IS DISTINCT FROM p_withdrawn_wh THEN
        RAISE EXCEPTION USING ERRCODE = 'serialization_failure',
            MESSAGE = format('meter %s at %s now reads %s Wh, not %s Wh', p_meter_id, p_ts,
                             found_wh, p_withdrawn_wh);
    END IF;
    INSERT INTO reading_withdrawals (meter_id, ts, withdrawn_wh, replacement_wh, month, reason,
                                     withdrawn_by, withdrawn_at)
    VALUES (p_meter_id, p_ts, p_withdrawn_wh, p_replacement_wh, p_month, p_reason, p_by, p_at)
    RETURNING withdrawal_id INTO made;
    RETURN made;
END;
$$;
COMMENT ON FUNCTION pts_withdraw_manual_reading(text, timestamptz, bigint, bigint, text, text,
                                                text, timestamptz) IS
    'Records a withdrawal of a manual reading for the web and certification logins, which may '
    'not insert into reading_withdrawals; refuses a reading of any other source.';
REVOKE EXECUTE ON FUNCTION pts_withdraw_manual_reading(text, timestamptz, bigint, bigint, text,
                                                       text, text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pts_withdraw_manual_reading(text, timestamptz, bigint, bigint, text,
                                                      text, text, timestamptz)
    TO pts_web, pts_certify;

GRANT SELECT ON reading_withdrawals TO pts_stream, pts_web, pts_certify;
GRANT SELECT ON readings_in_force TO pts_stream, pts_intake, pts_web, pts_certify;

-- Analysts see withdrawals beside the raw readings (analyst_readings stays raw: append-only).
CREATE VIEW analyst_reading_withdrawals AS
SELECT w.withdrawal_id, w.meter_id, m.system_id, w.ts, w.ts AT TIME ZONE s.timezone AS local_ts,
       w.withdrawn_wh, w.replacement_wh, w.month, w.reason, w.withdrawn_by, w.withdrawn_at
FROM reading_withdrawals w
JOIN meters m USING (meter_id)
JOIN systems s USING (system_id);
COMMENT ON VIEW analyst_reading_withdrawals IS
    'Manual readings withdrawn (and the value put in their place, if any): who, when, why.';
GRANT SELECT ON analyst_reading_withdrawals TO pts_analyst;
