-- 003 analyst views and the read-only role `pts_analyst` (documented in docs/analysts.md).
-- Days and months are calendar days and months in each system's own time zone; energy is
-- integer Wh, with MWh beside it rounded to the kWh as certificates use it.

CREATE VIEW analyst_readings AS
SELECT r.meter_id, m.system_id, r.ts, r.ts AT TIME ZONE s.timezone AS local_ts, r.energy_wh,
       r.source, r.source_id, r.seq, r.received_at, r.flags, r.event, r.ingested_at
FROM readings r
JOIN meters m USING (meter_id)
JOIN systems s USING (system_id);
COMMENT ON VIEW analyst_readings IS
    'Raw cumulative register readings (Wh) with the system''s local time; append-only.';

CREATE VIEW analyst_meter_intervals AS
SELECT i.meter_id, m.system_id, i.interval_start, i.interval_end,
       i.interval_end AT TIME ZONE s.timezone AS local_end, i.energy_wh, i.flags
FROM meter_interval_energy i
JOIN meters m USING (meter_id)
JOIN systems s USING (system_id);
COMMENT ON VIEW analyst_meter_intervals IS
    'Energy between successive readings of a meter (Wh), with rollover/reset/swap flags.';

CREATE VIEW analyst_meter_daily AS
SELECT d.meter_id, m.system_id, d.day, d.energy_wh, d.intervals, d.flags
FROM meter_day_energy d JOIN meters m USING (meter_id);
COMMENT ON VIEW analyst_meter_daily IS
    'Energy per meter and local calendar day of its system (Wh); DST days have 23 or 25 h.';

CREATE VIEW analyst_meter_monthly AS
SELECT e.meter_id, m.system_id, to_char(e.month, 'YYYY-MM') AS month, e.energy_wh,
       round(e.energy_wh / 1e6, 3) AS mwh, e.days, e.flags
FROM meter_month_energy e JOIN meters m USING (meter_id);
COMMENT ON VIEW analyst_meter_monthly IS
    'Energy per meter and local calendar month (Wh, and MWh rounded to the kWh).';

CREATE VIEW analyst_system_daily AS
SELECT m.system_id, d.day, sum(d.energy_wh)::bigint AS energy_wh,
       count(DISTINCT d.meter_id) AS meters
FROM meter_day_energy d JOIN meters m USING (meter_id)
GROUP BY m.system_id, d.day;
COMMENT ON VIEW analyst_system_daily IS 'Energy per system and local day: the sum of its meters.';

CREATE VIEW analyst_system_monthly AS
SELECT m.system_id, to_char(e.month, 'YYYY-MM') AS month, sum(e.energy_wh)::bigint AS energy_wh,
       round(sum(e.energy_wh) / 1e6, 3) AS mwh, count(DISTINCT e.meter_id) AS meters
FROM meter_month_energy e JOIN meters m USING (meter_id)
GROUP BY m.system_id, e.month;
COMMENT ON VIEW analyst_system_monthly IS
    'Energy per system and local month: the sum of its meters (Wh, MWh to the kWh).';

CREATE VIEW analyst_dead_letters AS
SELECT id, received_at, reason_code, reason, source_topic, source_partition, source_offset,
       ordinal, length(payload) AS payload_bytes
FROM dead_letters;
COMMENT ON VIEW analyst_dead_letters IS 'Refused messages and readings with their reason.';

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pts_analyst') THEN
        CREATE ROLE pts_analyst NOLOGIN;
    END IF;
END
$$;
GRANT USAGE ON SCHEMA public TO pts_analyst;
GRANT SELECT ON analyst_readings, analyst_meter_intervals, analyst_meter_daily,
    analyst_meter_monthly, analyst_system_daily, analyst_system_monthly, analyst_dead_letters
    TO pts_analyst;
