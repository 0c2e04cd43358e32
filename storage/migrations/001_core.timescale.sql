-- 001 core, TimescaleDB: readings as a hypertable (7-day chunks), compressed after 30 days.
CREATE EXTENSION IF NOT EXISTS timescaledb;

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

-- Hypertables create their chunks themselves; the writer calls this in both modes.
CREATE FUNCTION pts_ensure_reading_partition(at timestamptz) RETURNS void
LANGUAGE sql AS $$ SELECT NULL::void $$;
