-- 019 hardening (issue 14's leftovers; docs/database-roles.md).
--
-- 1. The web and certification logins write manual readings only. Until now pts_web and
-- pts_certify held INSERT on readings (a manual report goes through the same writer as the
-- stream), so either login could store a reading of any source: a gateway's or a DAS
-- provider's. Row-level security would have said "source = 'manual'", but TimescaleDB refuses
-- it on compressed hypertables. Instead the two roles lose INSERT on readings (and on
-- reading_conflicts and reading_sequence_anomalies, which only the stream writes for them)
-- and get pts_write_manual_readings: owned by the owner, SECURITY DEFINER with a fixed
-- search_path, it stores a batch of manual readings exactly as storage.writer does (the
-- month partition made, the first row of a key kept, a key stored with other content kept in
-- reading_conflicts) and refuses the whole batch if any reading is of another source.
-- storage.writer sends every all-manual batch here, whichever login writes it.

REVOKE INSERT ON readings, reading_conflicts, reading_sequence_anomalies
    FROM pts_web, pts_certify;

-- batch: a JSON array of reading rows (the columns of reading_row but ingested_at, which is
-- the database's clock). Returns one row per key newly stored ('new') and one per row of the
-- batch whose key is stored with other content ('conflict'), as the writer counts them.
CREATE FUNCTION pts_write_manual_readings(batch jsonb)
RETURNS TABLE (key_meter_id text, key_ts timestamptz, outcome text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    bad record;
BEGIN
    SELECT b.meter_id, b.ts, b.source INTO bad
    FROM jsonb_populate_recordset(NULL::reading_row, batch) b
    WHERE b.source IS DISTINCT FROM 'manual'
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING
            ERRCODE = 'insufficient_privilege',
            MESSAGE = format('only manual readings may be written through '
                             'pts_write_manual_readings: meter %s at %s has source %L',
                             bad.meter_id, bad.ts AT TIME ZONE 'UTC' || '+00', bad.source),
            HINT = 'gateway and DAS readings are written by the stream worker''s login '
                   '(pts_stream)';
    END IF;

    PERFORM pts_ensure_reading_partition(m)
    FROM (SELECT DISTINCT date_trunc('month', b.ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS m
          FROM jsonb_populate_recordset(NULL::reading_row, batch) b) months;

    RETURN QUERY
    INSERT INTO readings AS r (meter_id, ts, energy_wh, source, source_id, seq, received_at,
                               unit_id, scale_factor, raw_words, register_modulus_wh, event,
                               flags, content_hash)
    SELECT DISTINCT ON (b.meter_id, b.ts)
           b.meter_id, b.ts, b.energy_wh, b.source, b.source_id, b.seq, b.received_at,
           b.unit_id, b.scale_factor, coalesce(b.raw_words, '{}'), b.register_modulus_wh,
           b.event, coalesce(b.flags, '{}'), b.content_hash
    FROM jsonb_populate_recordset(NULL::reading_row, batch) WITH ORDINALITY b
    ORDER BY b.meter_id, b.ts, b.ordinality
    ON CONFLICT (meter_id, ts) DO NOTHING
    RETURNING r.meter_id, r.ts, 'new'::text;

    RETURN QUERY
    WITH clash AS (
        SELECT b.*, r.content_hash AS existing_hash
        FROM jsonb_populate_recordset(NULL::reading_row, batch) b
        JOIN readings r ON r.meter_id = b.meter_id AND r.ts = b.ts
        WHERE r.content_hash <> b.content_hash
    ), recorded AS (
        INSERT INTO reading_conflicts (meter_id, ts, energy_wh, source, source_id, seq,
                                       received_at, unit_id, scale_factor, raw_words,
                                       register_modulus_wh, event, flags, content_hash,
                                       existing_hash)
        SELECT c.meter_id, c.ts, c.energy_wh, c.source, c.source_id, c.seq, c.received_at,
               c.unit_id, c.scale_factor, coalesce(c.raw_words, '{}'), c.register_modulus_wh,
               c.event, coalesce(c.flags, '{}'), c.content_hash, c.existing_hash
        FROM clash c
        ON CONFLICT (meter_id, ts, content_hash) DO NOTHING
    )
    SELECT c.meter_id, c.ts, 'conflict'::text FROM clash c;
END;
$$;
COMMENT ON FUNCTION pts_write_manual_readings(jsonb) IS
    'Stores manual readings (and their conflicts) for the web and certification logins, '
    'which may not insert into readings; refuses a batch holding any other source.';
REVOKE EXECUTE ON FUNCTION pts_write_manual_readings(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pts_write_manual_readings(jsonb) TO pts_web, pts_certify;
