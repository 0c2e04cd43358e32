-- 001 core, plain PostgreSQL: readings range-partitioned by calendar month (UTC bounds).
CREATE TABLE readings (
    LIKE reading_row INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
    PRIMARY KEY (meter_id, ts)
) PARTITION BY RANGE (ts);
COMMENT ON TABLE readings IS
    'Raw cumulative register readings, append-only; one row per (meter_id, ts).';

-- Create the month partition that holds `at`, if missing. Serialised by an advisory lock so
-- that concurrent writers do not race on CREATE TABLE.
CREATE FUNCTION pts_ensure_reading_partition(at timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    lo timestamptz := date_trunc('month', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    hi timestamptz := (date_trunc('month', at AT TIME ZONE 'UTC') + interval '1 month')
                      AT TIME ZONE 'UTC';
    part text := format('readings_y%sm%s', to_char(lo AT TIME ZONE 'UTC', 'YYYY'),
                        to_char(lo AT TIME ZONE 'UTC', 'MM'));
BEGIN
    IF to_regclass(part) IS NOT NULL THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('pts_ensure_reading_partition'));
    EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF readings FOR VALUES FROM (%L) TO (%L)',
                   part, lo, hi);
END;
$$;
