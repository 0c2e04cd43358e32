-- 015 least-privilege roles per service (issue 14 item 9; docs/database-roles.md).
-- Group roles (NOLOGIN; roles belong to the server, grants to each database): a service logs
-- in as a member (`pts db service-login`, or deploy/local/postgres.sh for the local cluster),
-- with a scram-sha-256 password. The owner `pts` keeps the tables, runs the migrations and
-- the admin commands; no service role may create, alter or drop anything.
--   pts_stream   the stream worker (and `pts stream redrive/status`, `pts db load`)
--   pts_intake   the DAS intake: keys, the registry and its report log; writes no reading
--   pts_web      the web service: accounts, sessions, the portal's workflows
--   pts_certify  certification commands: registry, manual reports, month close, SRECs, GIS
--   pts_analyst  (003) the analyst views only
-- Readings stay append-only for everyone but the owner: no service may UPDATE, DELETE or
-- TRUNCATE them (the web and certification roles insert the manual reports' readings; limiting
-- them to source = 'manual' by row-level security is refused on compressed hypertables). The
-- SREC ledger is append-only too, written by certification and the web's month close only.
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['pts_stream', 'pts_intake', 'pts_web', 'pts_certify'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', r);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;  -- another database's migration created it a moment ago
            END;
        END IF;
    END LOOP;
END
$$;

REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO pts_stream, pts_intake, pts_web, pts_certify;
-- bigserial ids of the tables a role may insert into (a sequence value is no secret)
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO pts_stream, pts_web, pts_certify;

-- the registry: read by every service; written by certification (registry load, approvals)
-- and the web's approvals of change requests
GRANT SELECT ON das_providers, systems, meters, approved_meter_models, accounts, pts_storage
    TO pts_stream, pts_intake, pts_web, pts_certify;
GRANT INSERT, UPDATE ON das_providers, systems, meters, approved_meter_models, accounts
    TO pts_web, pts_certify;

-- the stream worker: readings in, rollups maintained, refusals recorded
GRANT SELECT, INSERT ON readings, reading_conflicts, reading_sequence_anomalies
    TO pts_stream, pts_web, pts_certify;
GRANT SELECT, INSERT, UPDATE ON dead_letters TO pts_stream;
GRANT SELECT ON dead_letters TO pts_web, pts_certify;
GRANT SELECT, INSERT, UPDATE, DELETE
    ON meter_interval_energy, meter_day_energy, meter_month_energy
    TO pts_stream, pts_web, pts_certify;
GRANT SELECT ON meter_month_energy_live TO pts_stream, pts_web, pts_certify;

-- the DAS intake (served by the web service on its own pool): its keys, its report log (014),
-- and what the stream decided per reading for the report's status; it writes no reading
GRANT SELECT ON das_api_keys TO pts_intake;
GRANT SELECT ON readings, reading_conflicts, dead_letters TO pts_intake;
DO $$
BEGIN
    IF to_regclass('das_reports') IS NOT NULL THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON das_reports, das_report_readings TO pts_intake;
        GRANT SELECT ON das_reports, das_report_readings TO pts_web;
    END IF;
END
$$;

-- provenance (013): the stream checks signatures against the keys and records what each
-- signature covers; keys are registered by the owner's commands
DO $$
BEGIN
    IF to_regclass('signing_keys') IS NOT NULL THEN
        GRANT SELECT ON signing_keys, signed_batches, provenance_findings
            TO pts_stream, pts_web, pts_certify;
        GRANT INSERT ON signed_batches, provenance_findings TO pts_stream;
    END IF;
END
$$;

-- certification's tables (the web's month close and reports run the same workflows)
-- (the ledger, closes, audits, releases and exports are append-only by rule since 004/007)
GRANT SELECT, INSERT, UPDATE ON month_closes, amendments, audit_readings, change_requests,
    manual_reports, gis_exports, gis_export_lines, month_releases
    TO pts_web, pts_certify;
GRANT SELECT, INSERT ON srec_ledger TO pts_web, pts_certify;

-- the web's own tables
GRANT SELECT, INSERT, UPDATE, DELETE ON account_credentials, web_sessions, api_tokens,
    account_links TO pts_web;
GRANT SELECT, INSERT ON account_events, write_log TO pts_web;

-- the partition for a new month is created by the owner on the writer's behalf (plain mode;
-- in timescale mode the function does nothing and the hypertable makes its chunks)
ALTER FUNCTION pts_ensure_reading_partition(timestamptz)
    SECURITY DEFINER SET search_path = public, pg_temp;
REVOKE EXECUTE ON FUNCTION pts_ensure_reading_partition(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pts_ensure_reading_partition(timestamptz)
    TO pts_stream, pts_web, pts_certify;

-- Batch ids (issue 14 item 11, stream.batch_ids): what each message of a batch carried per
-- meter, so a batch id that comes back with other readings is recognised and recorded as a
-- `batch_id_reused` provenance finding (013) instead of passing as new. One row per part
-- (message × meter), not per reading.
CREATE TABLE batch_receipts (
    source_id   text        NOT NULL,
    batch_id    text        NOT NULL,
    meter_id    text        NOT NULL,
    first_seq   bigint      NOT NULL,
    last_seq    bigint      NOT NULL,
    readings    integer     NOT NULL,
    digest      text        NOT NULL,  -- sha256 of the readings' content hashes in time order
    first_ts    timestamptz NOT NULL,
    last_ts     timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source_id, batch_id, meter_id, first_seq)
);
COMMENT ON TABLE batch_receipts IS
    'The readings each batch id carried per meter (seq range, digest): a batch id reused with '
    'other readings becomes a batch_id_reused provenance finding.';
GRANT SELECT, INSERT ON batch_receipts TO pts_stream;
GRANT SELECT ON batch_receipts TO pts_web, pts_certify;
