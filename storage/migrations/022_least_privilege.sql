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

-- Copies of a dead letter. Dead letters from Kafka are keyed by their position (002), so a
-- message that reached Kafka twice (a bridge redelivered it after a crash) became two rows:
-- two problems to an operator, two re-drives. A refusal is now one problem per (origin,
-- reason code, payload digest) while it waits: a copy from another position is recorded in
-- dead_letter_copies with a link to the first, and re-driving the first settles both. A
-- distinct message has another payload (its batch id at least), so it stays a row of its
-- own; a copy arriving after the first was re-driven is a new row, as is every refusal met
-- while re-driving (source_topic 'redrive': the letter being re-driven still waits then).
ALTER TABLE dead_letters ADD COLUMN payload_digest text
    GENERATED ALWAYS AS (coalesce(payload_sha256, encode(sha256(payload), 'hex'))) STORED;

CREATE TABLE dead_letter_copies (
    dead_letter_id   bigint      NOT NULL REFERENCES dead_letters (id),
    received_at      timestamptz NOT NULL DEFAULT now(),
    ordinal          integer     NOT NULL DEFAULT 0,
    source_topic     text,
    source_partition integer,
    source_offset    bigint
);
CREATE UNIQUE INDEX dead_letter_copies_source_key ON dead_letter_copies
    (source_topic, source_partition, source_offset, ordinal) WHERE source_offset IS NOT NULL;
CREATE INDEX dead_letter_copies_first_idx ON dead_letter_copies (dead_letter_id);
COMMENT ON TABLE dead_letter_copies IS
    'Where else a waiting dead letter''s message arrived (same origin, reason code and payload '
    'digest): one problem, one re-drive.';
GRANT SELECT, INSERT ON dead_letter_copies TO pts_stream;
GRANT SELECT ON dead_letter_copies TO pts_intake, pts_web, pts_certify;

-- copies already stored as rows of their own: linked to the first, and no longer waiting
WITH ranked AS (
    SELECT id, min(id) OVER (PARTITION BY origin, reason_code, payload_digest) AS first
    FROM dead_letters
    WHERE redriven_at IS NULL AND origin <> 'redrive'
      AND source_topic IS DISTINCT FROM 'redrive'
), linked AS (
    INSERT INTO dead_letter_copies (dead_letter_id, received_at, ordinal, source_topic,
                                    source_partition, source_offset)
    SELECT r.first, d.received_at, d.ordinal, d.source_topic, d.source_partition,
           d.source_offset
    FROM ranked r JOIN dead_letters d USING (id) WHERE r.id <> r.first
)
UPDATE dead_letters d SET redriven_at = now(), redrive_result = 'copy of ' || r.first
FROM ranked r WHERE d.id = r.id AND r.id <> r.first;

CREATE UNIQUE INDEX dead_letters_problem_key ON dead_letters (origin, reason_code, payload_digest)
    WHERE redriven_at IS NULL AND origin <> 'redrive' AND source_topic IS DISTINCT FROM 'redrive';

CREATE OR REPLACE VIEW analyst_dead_letters AS
SELECT id, received_at, reason_code, reason, source_topic, source_partition, source_offset,
       ordinal, length(payload) AS payload_bytes, redriven_at, redrive_result, origin,
       coalesce(payload_bytes, length(payload)) AS original_bytes, payload_sha256,
       1 + (SELECT count(*) FROM dead_letter_copies c WHERE c.dead_letter_id = d.id) AS copies
FROM dead_letters d;
