-- 011 analytics, TimescaleDB (ADR 0006): monthly energy per meter as a continuous aggregate
-- over the exact daily rows, exact at once after a late reading, and a retention policy for
-- intervals that keeps what certification needs.
--
-- How a late reading reaches an already-materialised month:
-- 1. the stream rewrites the day rows the reading changes (meter_day_energy), in its
--    transaction; a trigger notes each month older than the current UTC month it writes in
--    pts_stale_months, in the same transaction (the current month is never materialised: the
--    refresh stops two days before the current month starts, so real-time aggregation
--    computes it from the day rows);
-- 2. meter_month_energy_live, which the analyst views read, takes a month from the aggregate
--    unless it is stale, and re-sums a stale month from its day rows: exact from the commit;
-- 3. the job pts_refresh_monthly (every 15 minutes) refreshes the aggregate up to the last
--    complete month, which processes the invalidations Timescale logged, then deletes exactly
--    the stale notes it saw before refreshing (a note written meanwhile stays).

CREATE MATERIALIZED VIEW meter_month_cagg
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT meter_id,
       time_bucket(interval '1 month', day) AS month,
       sum(energy_wh) AS energy_wh,
       count(*) AS days,
       -- one column per flag (array_agg(DISTINCT) is not allowed in an aggregate); the list
       -- is every value of stream.energy.Flag (tests/unit/storage checks it)
       bool_or('clock_skew' = ANY (flags)) AS f_clock_skew,
       bool_or('edited' = ANY (flags)) AS f_edited,
       bool_or('estimated' = ANY (flags)) AS f_estimated,
       bool_or('implausible_power' = ANY (flags)) AS f_implausible_power,
       bool_or('interpolated' = ANY (flags)) AS f_interpolated,
       bool_or('meter_replaced' = ANY (flags)) AS f_meter_replaced,
       bool_or('non_monotonic' = ANY (flags)) AS f_non_monotonic,
       bool_or('replayed' = ANY (flags)) AS f_replayed,
       bool_or('reset' = ANY (flags)) AS f_reset,
       bool_or('rollover' = ANY (flags)) AS f_rollover
FROM meter_day_energy
GROUP BY meter_id, time_bucket(interval '1 month', day)
WITH NO DATA;
COMMENT ON VIEW meter_month_cagg IS
    'Continuous aggregate: energy per meter and local month summed from meter_day_energy; '
    'read it through meter_month_energy_live, which is exact for stale months too.';

CREATE TABLE pts_stale_months (
    month date NOT NULL,                               -- first day of a local month
    xact  xid8 NOT NULL DEFAULT pg_current_xact_id(),  -- one note per writing transaction
    PRIMARY KEY (month, xact)
);
COMMENT ON TABLE pts_stale_months IS
    'Months whose day rows changed after their month ended (UTC), until the aggregate is '
    'refreshed over them: meter_month_energy_live re-sums them from the day rows.';

CREATE FUNCTION pts_note_stale_month() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    row_day date := CASE WHEN TG_OP = 'DELETE' THEN OLD.day ELSE NEW.day END;
BEGIN
    IF row_day < date_trunc('month', now() AT TIME ZONE 'UTC')::date THEN
        INSERT INTO pts_stale_months (month)
        VALUES (date_trunc('month', row_day)::date)
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END;
$$;
-- (row-level: hypertables do not support the transition tables of statement triggers)
CREATE TRIGGER meter_day_energy_stale_month
    AFTER INSERT OR UPDATE OR DELETE ON meter_day_energy
    FOR EACH ROW EXECUTE FUNCTION pts_note_stale_month();

CREATE VIEW meter_month_energy_live AS
SELECT c.meter_id, c.month, c.energy_wh::bigint AS energy_wh, c.days::integer AS days,
       array_remove(ARRAY[
           CASE WHEN c.f_clock_skew THEN 'clock_skew' END,
           CASE WHEN c.f_edited THEN 'edited' END,
           CASE WHEN c.f_estimated THEN 'estimated' END,
           CASE WHEN c.f_implausible_power THEN 'implausible_power' END,
           CASE WHEN c.f_interpolated THEN 'interpolated' END,
           CASE WHEN c.f_meter_replaced THEN 'meter_replaced' END,
           CASE WHEN c.f_non_monotonic THEN 'non_monotonic' END,
           CASE WHEN c.f_replayed THEN 'replayed' END,
           CASE WHEN c.f_reset THEN 'reset' END,
           CASE WHEN c.f_rollover THEN 'rollover' END
       ], NULL) AS flags
FROM meter_month_cagg c
WHERE NOT EXISTS (SELECT 1 FROM pts_stale_months s WHERE s.month = c.month)
UNION ALL
SELECT d.meter_id, s.month, sum(d.energy_wh)::bigint, count(*)::integer,
       coalesce((SELECT array_agg(DISTINCT f ORDER BY f)
                 FROM meter_day_energy d2, unnest(d2.flags) f
                 WHERE d2.meter_id = d.meter_id AND d2.day >= s.month
                   AND d2.day < (s.month + interval '1 month')), '{}')
FROM (SELECT DISTINCT month FROM pts_stale_months) s
JOIN meter_day_energy d ON d.day >= s.month AND d.day < (s.month + interval '1 month')
GROUP BY d.meter_id, s.month;
COMMENT ON VIEW meter_month_energy_live IS
    'Energy per meter and local month: the continuous aggregate, or the day rows for a month '
    'changed since it was materialised. Equal to meter_month_energy at every commit.';

-- The analyst views of months read the aggregate (same columns as in plain mode).
CREATE OR REPLACE VIEW analyst_meter_monthly AS
SELECT e.meter_id, m.system_id, to_char(e.month, 'YYYY-MM') AS month, e.energy_wh,
       round(e.energy_wh / 1e6, 3) AS mwh, e.days, e.flags
FROM meter_month_energy_live e JOIN meters m USING (meter_id);

CREATE OR REPLACE VIEW analyst_system_monthly AS
SELECT m.system_id, to_char(e.month, 'YYYY-MM') AS month, sum(e.energy_wh)::bigint AS energy_wh,
       round(sum(e.energy_wh) / 1e6, 3) AS mwh, count(DISTINCT e.meter_id) AS meters
FROM meter_month_energy_live e JOIN meters m USING (meter_id)
GROUP BY m.system_id, e.month;

-- Refresh the aggregate up to the last complete month (two days' margin covers every zone's
-- local month end), then forget the stale notes seen before the refresh began.
CREATE PROCEDURE pts_refresh_monthly(job_id integer, config jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    upto date := date_trunc('month', (now() AT TIME ZONE 'UTC') - interval '2 days')::date;
    months date[];
    xacts xid8[];
BEGIN
    SELECT array_agg(month), array_agg(xact) INTO months, xacts
    FROM pts_stale_months WHERE month < upto;
    COMMIT;
    CALL refresh_continuous_aggregate('meter_month_cagg', NULL, upto);
    DELETE FROM pts_stale_months s
    USING unnest(months, xacts) AS seen(month, xact)
    WHERE s.month = seen.month AND s.xact = seen.xact;
END;
$$;
SELECT add_job('pts_refresh_monthly', interval '15 minutes');

-- Interval retention: intervals are derived (from readings, which are kept) and only the
-- stream's recomputation of a late reading's days reads them. Drop interval chunks older than
-- `drop_after` (default 400 days) and wholly before the first month any system has not
-- closed yet, with a day's margin for local time: certified history only.
CREATE FUNCTION pts_interval_retention_cutoff(drop_after interval) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    WITH first_open AS (
        SELECT m.system_id,
               min(gs.month) AS month
        FROM (SELECT system_id, min(installed_on) AS since FROM meters GROUP BY system_id) m
        CROSS JOIN LATERAL generate_series(date_trunc('month', m.since),
                                           date_trunc('month', now()), interval '1 month')
             AS gs(month)
        WHERE NOT EXISTS (SELECT 1 FROM month_closes c
                          WHERE c.system_id = m.system_id
                            AND c.month = to_char(gs.month, 'YYYY-MM'))
        GROUP BY m.system_id
    )
    SELECT least(now() - drop_after, min(month) - interval '1 day')
    FROM first_open
$$;

CREATE PROCEDURE pts_interval_retention(job_id integer, config jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    cutoff timestamptz := pts_interval_retention_cutoff(
        coalesce(config ->> 'drop_after', '400 days')::interval);
BEGIN
    IF cutoff IS NOT NULL THEN
        PERFORM drop_chunks('meter_interval_energy', older_than => cutoff);
    END IF;
END;
$$;
SELECT add_job('pts_interval_retention', interval '1 day',
               config => '{"drop_after": "400 days"}');

SELECT pts_apply_job_schedule();
