-- 002 energy: derived energy per meter and local day / month, and the dead-letter table.
-- Rows are recomputed exactly from the stored readings of the days a batch touched
-- (stream/rollup.py, stream/persist.py), never accumulated, so order, repeats and late data
-- cannot skew them.

-- Energy between two successive stored readings of a meter, keyed by the later reading: a
-- late reading landing between two re-splits the interval (the later part keeps the key).
CREATE TABLE meter_interval_energy (
    meter_id       text        NOT NULL,
    interval_start timestamptz NOT NULL,
    interval_end   timestamptz NOT NULL,
    energy_wh      bigint      NOT NULL,
    flags          text[]      NOT NULL DEFAULT '{}',
    computed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (meter_id, interval_end),
    CHECK (interval_start < interval_end)
);

CREATE TABLE meter_day_energy (
    meter_id    text        NOT NULL,
    day         date        NOT NULL,  -- local calendar day of the system
    energy_wh   bigint      NOT NULL,
    intervals   integer     NOT NULL,
    flags       text[]      NOT NULL DEFAULT '{}',
    computed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (meter_id, day)
);

CREATE TABLE meter_month_energy (
    meter_id    text        NOT NULL,
    month       date        NOT NULL,  -- first day of the local calendar month
    energy_wh   bigint      NOT NULL,
    days        integer     NOT NULL,
    flags       text[]      NOT NULL DEFAULT '{}',
    computed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (meter_id, month)
);

-- Rejected messages and readings with their reason and the original payload. Rows from Kafka
-- carry their source (topic, partition, offset) and the ordinal of the reject within the
-- message, so a redelivered message is recorded once.
CREATE TABLE dead_letters (
    id               bigserial PRIMARY KEY,
    received_at      timestamptz NOT NULL DEFAULT now(),
    reason_code      text        NOT NULL,
    reason           text        NOT NULL,
    payload          bytea       NOT NULL,
    ordinal          integer     NOT NULL DEFAULT 0,
    source_topic     text,        -- Kafka topic, or e.g. 'inprocess' / an MQTT topic
    source_partition integer,
    source_offset    bigint
);
CREATE UNIQUE INDEX dead_letters_source_key ON dead_letters
    (source_topic, source_partition, source_offset, ordinal) WHERE source_offset IS NOT NULL;
CREATE INDEX dead_letters_reason_idx ON dead_letters (reason_code, received_at);
