-- 021 certificates: a system's registered DC capacity over time (certification
-- .capacity_history). A re-registration or an expansion changes systems.capacity_kw_dc; the
-- bounds of a past month (over_capacity, the power limit of late readings and amendments,
-- accepting a held month) must use the capacity in force in that month, not today's.
--
-- One row per system and day a capacity took effect (from that local midnight on), written by
-- the trigger below on every write of systems; rows are never deleted; a second change on
-- the same day replaces that day's row.
CREATE TABLE system_capacities (
    system_id      text          NOT NULL REFERENCES systems (system_id),
    effective_from date          NOT NULL,
    capacity_kw_dc numeric(12,3) NOT NULL CHECK (capacity_kw_dc > 0),
    recorded_at    timestamptz   NOT NULL DEFAULT now(),
    -- a correction (`pts registry capacity`: the capacity really was this since that day,
    -- closed months included) names who made it and why; rows the trigger writes do not
    recorded_by    text,
    reason         text,
    PRIMARY KEY (system_id, effective_from)
);
CREATE RULE system_capacities_no_delete AS ON DELETE TO system_capacities DO INSTEAD NOTHING;

-- Systems registered before 021: their capacity today, in force since they were installed
-- (or since ever: the history before is unknown).
INSERT INTO system_capacities (system_id, effective_from, capacity_kw_dc)
SELECT system_id, coalesce(install_date, date '1900-01-01'), capacity_kw_dc FROM systems;

-- Every write of systems records its capacity when it is new or changed, whichever path
-- wrote it (a registry load, the web's admin, a script): effective from the local day of
-- the change (the session's `pts.capacity_changed_at` when a load states when it happens,
-- else now), and never inside a month the system has closed (at the earliest the first day
-- after its latest closed month): a capacity change never moves a closed month's bounds.
CREATE FUNCTION pts_record_system_capacity() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    changed_at timestamptz := coalesce(
        nullif(current_setting('pts.capacity_changed_at', true), '')::timestamptz, now());
    day date := (changed_at AT TIME ZONE NEW.timezone)::date;
    after_closed date;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.capacity_kw_dc = OLD.capacity_kw_dc THEN
        RETURN NEW;
    END IF;
    IF current_setting('pts.capacity_corrected', true) = 'on' THEN
        RETURN NEW;  -- a correction wrote its own row (certification.workflows.correct_capacity)
    END IF;
    IF TG_OP = 'INSERT' THEN
        day := coalesce(NEW.install_date, date '1900-01-01');
    END IF;
    SELECT (to_date(max(month) || '-01', 'YYYY-MM-DD') + interval '1 month')::date
    INTO after_closed FROM month_closes WHERE system_id = NEW.system_id;
    day := greatest(day, after_closed);
    INSERT INTO system_capacities (system_id, effective_from, capacity_kw_dc)
    VALUES (NEW.system_id, day, NEW.capacity_kw_dc)
    ON CONFLICT (system_id, effective_from)
    DO UPDATE SET capacity_kw_dc = EXCLUDED.capacity_kw_dc, recorded_at = now(),
                  recorded_by = NULL, reason = NULL;
    RETURN NEW;
END
$$;
CREATE TRIGGER systems_capacity_history AFTER INSERT OR UPDATE OF capacity_kw_dc ON systems
    FOR EACH ROW EXECUTE FUNCTION pts_record_system_capacity();

-- Grants: written with the registry (registry loads by certification commands and the web's
-- admin), read by whoever closes, amends, accepts or exports months (the same logins); the
-- analyst and the stream read systems.capacity_kw_dc (today's) only.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pts_certify') THEN
        GRANT SELECT, INSERT, UPDATE ON system_capacities TO pts_web, pts_certify;
    END IF;
END
$$;
