-- 002 energy, TimescaleDB: daily energy as a hypertable and the fleet's monthly energy per
-- system as a continuous aggregate (the maintained meter_month_energy stays the exact source
-- of truth for certification; the aggregate serves dashboards).
SELECT create_hypertable('meter_day_energy', 'day', chunk_time_interval => interval '90 days',
                         migrate_data => true);

CREATE MATERIALIZED VIEW meter_month_energy_cagg
WITH (timescaledb.continuous) AS
SELECT meter_id, time_bucket(interval '1 month', day) AS month, sum(energy_wh) AS energy_wh,
       count(*) AS days
FROM meter_day_energy
GROUP BY meter_id, time_bucket(interval '1 month', day)
WITH NO DATA;

SELECT add_continuous_aggregate_policy('meter_month_energy_cagg',
    start_offset => interval '3 months', end_offset => interval '1 day',
    schedule_interval => interval '1 hour');
