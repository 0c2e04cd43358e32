-- 002 energy, TimescaleDB: intervals and daily rows as hypertables; intervals compressed
-- after 90 days (pts_set_compress_after changes the age).
--
-- The exact daily energy (intervals across local midnight split by interpolation, each system
-- in its own zone) is computed by the stream into meter_day_energy in both modes; monthly
-- energy for analysts is a continuous aggregate over it (011_analytics.timescale.sql).
SELECT create_hypertable('meter_interval_energy', 'interval_end',
                         chunk_time_interval => interval '7 days', migrate_data => true);
ALTER TABLE meter_interval_energy SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'meter_id',
    timescaledb.compress_orderby = 'interval_end'
);
SELECT add_compression_policy('meter_interval_energy', compress_after => interval '90 days');

SELECT create_hypertable('meter_day_energy', 'day', chunk_time_interval => interval '90 days',
                         migrate_data => true);
SELECT pts_apply_job_schedule();
