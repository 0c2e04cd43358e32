-- 001 core, TimescaleDB: readings as a hypertable (7-day chunks), compressed after 30 days
-- (pts_set_compress_after changes the age). Raw readings are never dropped: month close
-- reads them.
CREATE EXTENSION IF NOT EXISTS timescaledb;

-- Pause every job of this database when the migrating session asks for it (storage.migrate:
-- `schedule_jobs=False`, e.g. tests, which then run jobs with CALL run_job). Each migration
-- that adds a job ends with a call to this.
CREATE FUNCTION pts_apply_job_schedule() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('pts.timescale_jobs', true) = 'paused' THEN
        PERFORM alter_job(job_id, scheduled => false)
        FROM timescaledb_information.jobs WHERE job_id >= 1000;
    END IF;
END;
$$;

-- The age after which a hypertable's chunks are compressed by its policy.
CREATE FUNCTION pts_set_compress_after(hypertable regclass, compress_after interval)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    job integer;
BEGIN
    SELECT j.job_id INTO job FROM timescaledb_information.jobs j
    WHERE j.proc_name = 'policy_compression'
      AND format('%I.%I', j.hypertable_schema, j.hypertable_name)::regclass = hypertable;
    IF job IS NULL THEN
        RAISE EXCEPTION '% has no compression policy', hypertable;
    END IF;
    PERFORM alter_job(job, config => (SELECT jsonb_set(config, '{compress_after}',
                                                       to_jsonb(compress_after::text))
                                      FROM timescaledb_information.jobs WHERE job_id = job));
END;
$$;

CREATE TABLE readings (
    LIKE reading_row INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
    PRIMARY KEY (meter_id, ts)
);
COMMENT ON TABLE readings IS
    'Raw cumulative register readings, append-only; one row per (meter_id, ts).';
SELECT create_hypertable('readings', 'ts', chunk_time_interval => interval '7 days');
ALTER TABLE readings SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'meter_id',
    timescaledb.compress_orderby = 'ts'
);
SELECT add_compression_policy('readings', interval '30 days');
SELECT pts_apply_job_schedule();

-- Hypertables create their chunks themselves; the writer calls this in both modes.
CREATE FUNCTION pts_ensure_reading_partition(at timestamptz) RETURNS void
LANGUAGE sql AS $$ SELECT NULL::void $$;
