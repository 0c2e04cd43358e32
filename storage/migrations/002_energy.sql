-- 002 energy: derived energy per meter and local day / month, and the dead-letter table.
-- Rows are recomputed exactly from the stored readings of the days a batch touched
-- (stream/engine.py), never accumulated, so order, repeats and late data cannot skew them.

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

CREATE TABLE dead_letters (
    id          bigserial PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    reason_code text        NOT NULL,
    reason      text        NOT NULL,
    origin      text        NOT NULL,  -- e.g. kafka:readings.raw/2@1045, inprocess, mqtt topic
    payload     bytea       NOT NULL
);
CREATE INDEX dead_letters_reason_idx ON dead_letters (reason_code, received_at);
