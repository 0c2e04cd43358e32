-- 004 certification: accounts, approved meters, month closes, amendments, SREC ledger, exports.

CREATE TABLE accounts (
    account_id text PRIMARY KEY,
    role       text NOT NULL,
    name       text NOT NULL DEFAULT '',
    email      text NOT NULL DEFAULT ''
);

CREATE TABLE approved_meter_models (
    model          text PRIMARY KEY,
    accuracy_class text NOT NULL
);

CREATE TABLE month_closes (
    system_id  text        NOT NULL REFERENCES systems (system_id),
    month      text        NOT NULL,  -- YYYY-MM, local
    energy_wh  bigint      NOT NULL,  -- as closed, before amendments
    estimated  boolean     NOT NULL,
    findings   jsonb       NOT NULL DEFAULT '[]',
    meters     jsonb       NOT NULL DEFAULT '[]',  -- per meter: energy, readings, covered
    closed_by  text        NOT NULL,
    closed_at  timestamptz NOT NULL,
    PRIMARY KEY (system_id, month)
);

-- Append-only: a change to a month's energy with who, when, why and evidence.
CREATE TABLE amendments (
    amendment_id bigserial PRIMARY KEY,
    system_id    text        NOT NULL REFERENCES systems (system_id),
    month        text        NOT NULL,
    before_wh    bigint      NOT NULL,
    after_wh     bigint      NOT NULL,
    reason       text        NOT NULL,
    evidence     text        NOT NULL,
    amended_by   text        NOT NULL,
    amended_at   timestamptz NOT NULL,
    exported_in  text  -- the quarter whose export carried it
);
CREATE RULE amendments_no_update AS ON UPDATE TO amendments
    WHERE OLD.exported_in IS NOT NULL OR NEW.after_wh <> OLD.after_wh
       OR NEW.before_wh <> OLD.before_wh DO INSTEAD NOTHING;
CREATE RULE amendments_no_delete AS ON DELETE TO amendments DO INSTEAD NOTHING;

CREATE TABLE audit_readings (
    audit_id    bigserial PRIMARY KEY,
    meter_id    text        NOT NULL,
    ts          timestamptz NOT NULL,
    energy_wh   bigint      NOT NULL,
    audited_by  text        NOT NULL,
    note        text        NOT NULL DEFAULT ''
);

CREATE TABLE srec_ledger (
    system_id  text          NOT NULL REFERENCES systems (system_id),
    month      text          NOT NULL,
    entry      text          NOT NULL,  -- 'close' or 'amendment:<id>'
    mwh        numeric(14,3) NOT NULL,
    factor     numeric(8,4)  NOT NULL,
    carry_in   numeric(18,6) NOT NULL,
    minted     integer       NOT NULL,
    carry_out  numeric(18,6) NOT NULL,
    recorded_at timestamptz  NOT NULL DEFAULT now(),
    seq        bigserial,
    PRIMARY KEY (system_id, month, entry)
);

CREATE TABLE gis_exports (
    quarter     text PRIMARY KEY,
    content     text        NOT NULL,
    exported_by text        NOT NULL,
    exported_at timestamptz NOT NULL
);
