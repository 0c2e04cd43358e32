-- 001 core: the reading row shape, conflicts, and the registry.
-- The `readings` table itself is created by the mode variant (001_core.plain.sql or
-- 001_core.timescale.sql) from the template `reading_row`, so the columns are written once.

CREATE TABLE reading_row (
    meter_id            text        NOT NULL,
    ts                  timestamptz NOT NULL,
    energy_wh           bigint      NOT NULL CHECK (energy_wh >= 0),
    source              text        NOT NULL,
    source_id           text        NOT NULL,
    seq                 bigint      NOT NULL,
    received_at         timestamptz NOT NULL,
    unit_id             integer,
    scale_factor        integer,
    raw_words           integer[]   NOT NULL DEFAULT '{}',
    register_modulus_wh bigint,
    event               text,
    flags               text[]      NOT NULL DEFAULT '{}',
    content_hash        text        NOT NULL,
    ingested_at         timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE reading_row IS
    'Template of a reading row (never holds data): readings, reading_conflicts and the '
    'writer''s staging table are created LIKE it.';

-- A repeated (meter_id, ts) with other content: kept and flagged, never overwritten.
CREATE TABLE reading_conflicts (
    LIKE reading_row INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
    existing_hash text        NOT NULL,
    detected_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (meter_id, ts, content_hash)
);
COMMENT ON TABLE reading_conflicts IS
    'Readings whose (meter_id, ts) was already stored with a different content_hash.';

CREATE TABLE das_providers (
    provider_id   text PRIMARY KEY,
    name          text    NOT NULL,
    approved      boolean NOT NULL DEFAULT false,
    mqtt_username text
);

CREATE TABLE systems (
    system_id            text PRIMARY KEY,
    name                 text           NOT NULL DEFAULT '',
    owner_id             text           NOT NULL,
    rec_owner_id         text,
    representative_id    text,
    address              text           NOT NULL DEFAULT '',
    timezone             text           NOT NULL DEFAULT 'America/New_York',
    capacity_kw_dc       numeric(12, 3) NOT NULL CHECK (capacity_kw_dc > 0),
    capacity_kw_ac       numeric(12, 3),
    program              text           NOT NULL,
    srec_factor          numeric(8, 4)  NOT NULL DEFAULT 1.0,
    gis_unit_id          text,
    rec_terms_accepted   boolean        NOT NULL DEFAULT false,
    install_date         date,
    interconnection_date date,
    reporting_method     text           NOT NULL,
    das_provider_id      text REFERENCES das_providers (provider_id)
);

CREATE TABLE meters (
    meter_id            text PRIMARY KEY,
    system_id           text           NOT NULL REFERENCES systems (system_id),
    serial              text           NOT NULL,
    model               text           NOT NULL,
    accuracy_class      text           NOT NULL,
    ct_ratio            numeric(12, 4) NOT NULL DEFAULT 1,
    register_digits     integer,
    register_modulus_wh bigint,
    installed_on        date           NOT NULL,
    removed_on          date
);
CREATE INDEX meters_system_idx ON meters (system_id);
