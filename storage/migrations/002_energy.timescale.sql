-- 002 energy, TimescaleDB: intervals as a hypertable, daily energy per meter as a continuous
-- aggregate over them, and the daily rollup table as a hypertable too.
--
-- The continuous aggregate buckets each interval by the local day (America/New_York, the
-- fleet's default zone) of its end: it serves dashboards over the whole fleet cheaply. The
-- exact daily and monthly energy (intervals across local midnight split by interpolation,
-- each system in its own zone) stays in the maintained tables meter_day_energy and
-- meter_month_energy, which certification reads.
SELECT create_hypertable('meter_interval_energy', 'interval_end',
                         chunk_time_interval => interval '7 days', migrate_data => true);
ALTER TABLE meter_interval_energy SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'meter_id',
    timescaledb.compress_orderby = 'interval_end'
);
SELECT add_compression_policy('meter_interval_energy', compress_after => interval '90 days');

CREATE MATERIALIZED VIEW meter_interval_daily_cagg
WITH (timescaledb.continuous) AS
SELECT meter_id,
       time_bucket(interval '1 day', interval_end, 'America/New_York') AS day,
       sum(energy_wh) AS energy_wh,
       count(*) AS intervals
FROM meter_interval_energy
GROUP BY meter_id, time_bucket(interval '1 day', interval_end, 'America/New_York')
WITH NO DATA;

SELECT add_continuous_aggregate_policy('meter_interval_daily_cagg',
    start_offset => interval '45 days', end_offset => interval '1 hour',
    schedule_interval => interval '15 minutes');

SELECT create_hypertable('meter_day_energy', 'day', chunk_time_interval => interval '90 days',
                         migrate_data => true);
