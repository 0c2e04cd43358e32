-- 022 least privilege, the leftovers of 015/019 (docs/database-roles.md).
--
-- Who must write what:
--   readings            the stream: gateway and DAS readings only; the web and certification
--                       logins: manual readings only, through pts_write_manual_readings (019)
--   interval, day and   the stream: any meter's rows (it recomputes them from the readings it
--   month energy        stores); it deletes none. The web and certification logins: only the
--                       rows of meters of manually reporting systems, which a manual report or
--                       a withdrawal (020) recomputes in its transaction; never the totals of
--                       an automatically reported meter. Month close and certification read
--                       them only.
-- Row-level security would say this, but TimescaleDB refuses it on compressed hypertables
-- (readings, meter_interval_energy), and COPY refuses it everywhere. Instead two row
-- triggers refuse the writes; their WHEN clauses keep them off the stream's hot path (no
-- call for a gateway or DAS reading, none for the stream's or a superuser's rollup rows), and
-- AFTER triggers keep COPY's batched inserts.

REVOKE DELETE ON meter_interval_energy, meter_day_energy, meter_month_energy FROM pts_stream;

-- A manual or audit reading (or conflict) is stored by the owner, or on the web's and
-- certification's behalf by pts_write_manual_readings (which runs as the owner): a login of
-- the stream may not store one (a batch on Kafka claiming to be manual would otherwise pass
-- every check made of gateways and DAS providers).
CREATE FUNCTION pts_refuse_streamed_manual_reading() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF pg_has_role(current_user, 'pts_stream', 'MEMBER')
       AND NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        RAISE EXCEPTION USING
            ERRCODE = 'insufficient_privilege',
            MESSAGE = format('the stream may not store %s readings: meter %s at %s has '
                             'source %L', NEW.source, NEW.meter_id,
                             NEW.ts AT TIME ZONE 'UTC' || '+00', NEW.source),
            HINT = 'manual readings are stored by the web and certification logins '
                   '(pts_write_manual_readings)';
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER readings_source_of_stream
    AFTER INSERT ON readings
    FOR EACH ROW WHEN (NEW.source NOT IN ('gateway', 'das'))
    EXECUTE FUNCTION pts_refuse_streamed_manual_reading();
CREATE TRIGGER reading_conflicts_source_of_stream
    AFTER INSERT ON reading_conflicts
    FOR EACH ROW WHEN (NEW.source NOT IN ('gateway', 'das'))
    EXECUTE FUNCTION pts_refuse_streamed_manual_reading();

-- A rollup row written by anyone but the stream, a superuser or the tables' owner must be of
-- a meter on a manually reporting system (old and new row alike).
CREATE FUNCTION pts_guard_rollup_write() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    meter text;
BEGIN
    -- SECURITY DEFINER reads the registry whatever the caller may; session_user is the login
    IF pg_has_role(session_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID),
                   'USAGE') THEN
        RETURN NULL;
    END IF;
    FOREACH meter IN ARRAY ARRAY[
        CASE WHEN TG_OP <> 'INSERT' THEN OLD.meter_id END,
        CASE WHEN TG_OP <> 'DELETE' THEN NEW.meter_id END] LOOP
        CONTINUE WHEN meter IS NULL;
        IF NOT EXISTS (SELECT 1 FROM meters m JOIN systems s USING (system_id)
                       WHERE m.meter_id = meter AND s.reporting_method = 'manual') THEN
            RAISE EXCEPTION USING
                ERRCODE = 'insufficient_privilege',
                MESSAGE = format('%s may not %s energy rows of meter %s: it is not on a '
                                 'manually reporting system', session_user, lower(TG_OP),
                                 meter),
                HINT = 'the energy of automatically reported meters is written by the stream '
                       'worker''s login (pts_stream) only';
        END IF;
    END LOOP;
    RETURN NULL;
END;
$$;
REVOKE EXECUTE ON FUNCTION pts_guard_rollup_write() FROM PUBLIC;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['meter_interval_energy', 'meter_day_energy',
                             'meter_month_energy'] LOOP
        EXECUTE format(
            'CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON %I FOR EACH ROW '
            'WHEN (NOT pg_has_role(current_user, ''pts_stream'', ''USAGE'')) '
            'EXECUTE FUNCTION pts_guard_rollup_write()',
            t || '_writers', t);
    END LOOP;
END
$$;
