-- 003 analyst views and the read-only role `pts_analyst` (documented in docs/analysts.md).

CREATE VIEW analyst_readings AS
SELECT r.meter_id, m.system_id, r.ts, r.ts AT TIME ZONE s.timezone AS local_ts, r.energy_wh,
       r.source, r.source_id, r.flags, r.event
FROM readings r
JOIN meters m USING (meter_id)
JOIN systems s USING (system_id);

CREATE VIEW analyst_meter_daily AS
SELECT d.meter_id, m.system_id, d.day, d.energy_wh, d.flags
FROM meter_day_energy d JOIN meters m USING (meter_id);

CREATE VIEW analyst_meter_monthly AS
SELECT e.meter_id, m.system_id, to_char(e.month, 'YYYY-MM') AS month, e.energy_wh,
       round(e.energy_wh / 1e6, 3) AS mwh, e.days, e.flags
FROM meter_month_energy e JOIN meters m USING (meter_id);

CREATE VIEW analyst_system_daily AS
SELECT m.system_id, d.day, sum(d.energy_wh)::bigint AS energy_wh
FROM meter_day_energy d JOIN meters m USING (meter_id)
GROUP BY m.system_id, d.day;

CREATE VIEW analyst_system_monthly AS
SELECT m.system_id, to_char(e.month, 'YYYY-MM') AS month, sum(e.energy_wh)::bigint AS energy_wh,
       round(sum(e.energy_wh) / 1e6, 3) AS mwh
FROM meter_month_energy e JOIN meters m USING (meter_id)
GROUP BY m.system_id, e.month;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pts_analyst') THEN
        CREATE ROLE pts_analyst NOLOGIN;
    END IF;
END
$$;
GRANT USAGE ON SCHEMA public TO pts_analyst;
GRANT SELECT ON analyst_readings, analyst_meter_daily, analyst_meter_monthly,
    analyst_system_daily, analyst_system_monthly TO pts_analyst;
