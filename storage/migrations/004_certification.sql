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
-- the only update allowed: recording, once, the export that carried it
CREATE RULE amendments_no_update AS ON UPDATE TO amendments
    WHERE OLD.exported_in IS NOT NULL
       OR (NEW.amendment_id, NEW.system_id, NEW.month, NEW.before_wh, NEW.after_wh, NEW.reason,
           NEW.evidence, NEW.amended_by, NEW.amended_at)
          IS DISTINCT FROM
          (OLD.amendment_id, OLD.system_id, OLD.month, OLD.before_wh, OLD.after_wh, OLD.reason,
           OLD.evidence, OLD.amended_by, OLD.amended_at)
    DO INSTEAD NOTHING;
CREATE RULE amendments_no_delete AS ON DELETE TO amendments DO INSTEAD NOTHING;

-- Append-only: a register read on site by staff, and how it compared with the reports.
CREATE TABLE audit_readings (
    audit_id      bigserial PRIMARY KEY,
    meter_id      text          NOT NULL REFERENCES meters (meter_id),
    ts            timestamptz   NOT NULL,
    register_wh   bigint        NOT NULL,
    audited_by    text          NOT NULL,
    evidence      text          NOT NULL,
    reported_wh   bigint,
    deviation_wh  bigint,
    deviation_pct numeric(9,2),
    tolerance_pct numeric(5,2)  NOT NULL,
    verdict       text          NOT NULL,
    recorded_at   timestamptz   NOT NULL
);
CREATE RULE audit_readings_no_update AS ON UPDATE TO audit_readings DO INSTEAD NOTHING;
CREATE RULE audit_readings_no_delete AS ON DELETE TO audit_readings DO INSTEAD NOTHING;

-- REC Owner change requests: one open request per system.
CREATE TABLE change_requests (
    request_id        text PRIMARY KEY,
    system_id         text        NOT NULL REFERENCES systems (system_id),
    requested_by      text        NOT NULL,
    new_rec_owner_id  text        NOT NULL,
    transfer_contract text        NOT NULL,
    created_at        timestamptz NOT NULL,
    status            text        NOT NULL,
    decided_by        text,
    decided_at        timestamptz
);
CREATE UNIQUE INDEX change_requests_one_open ON change_requests (system_id)
    WHERE status = 'open';

-- What a manual report carried beyond the reading itself (the reading is in `readings`).
CREATE TABLE manual_reports (
    meter_id          text        NOT NULL,
    ts                timestamptz NOT NULL,
    month             text        NOT NULL,
    photo_ref         text,
    meter_replacement boolean     NOT NULL,
    submitted_by      text        NOT NULL,
    submitted_at      timestamptz NOT NULL,
    PRIMARY KEY (meter_id, ts)
);

CREATE TABLE srec_ledger (
    system_id  text          NOT NULL REFERENCES systems (system_id),
    month      text          NOT NULL,
    entry      text          NOT NULL,  -- 'close' or 'amendment:<id>'
    mwh        numeric(14,3) NOT NULL,
    factor     numeric(8,4)  NOT NULL,
    carry_in   numeric(20,7) NOT NULL,  -- MWh (3 dp) × factor (4 dp) is exact at 7 dp
    minted     integer       NOT NULL,
    carry_out  numeric(20,7) NOT NULL,
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

-- A closed month is locked, the ledger and the exports are history: append-only.
CREATE RULE month_closes_no_update AS ON UPDATE TO month_closes DO INSTEAD NOTHING;
CREATE RULE month_closes_no_delete AS ON DELETE TO month_closes DO INSTEAD NOTHING;
CREATE RULE srec_ledger_no_update AS ON UPDATE TO srec_ledger DO INSTEAD NOTHING;
CREATE RULE srec_ledger_no_delete AS ON DELETE TO srec_ledger DO INSTEAD NOTHING;
CREATE RULE gis_exports_no_update AS ON UPDATE TO gis_exports DO INSTEAD NOTHING;
CREATE RULE gis_exports_no_delete AS ON DELETE TO gis_exports DO INSTEAD NOTHING;
