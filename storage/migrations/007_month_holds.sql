-- 007 month holds (issue 10): a system-month whose findings question the energy itself is
-- held from minting and export until staff release it, by an amendment or by an explicit
-- "accept as reported" with a reason; a close records the metered (certifiable) part of its
-- energy apart from estimates; every exported line is kept so a later export sends exactly
-- what was not sent yet.

-- held_by: the finding codes that hold the month (empty: not held).
-- certified_wh: the metered part of energy_wh (estimated meters excluded); NULL for closes
-- made before 007, read as energy_wh when not estimated, else 0.
ALTER TABLE month_closes
    ADD COLUMN held_by      text[] NOT NULL DEFAULT '{}',
    ADD COLUMN certified_wh bigint;

-- Append-only: the staff decision that releases a held month (once per system-month).
CREATE TABLE month_releases (
    release_id   bigserial PRIMARY KEY,
    system_id    text        NOT NULL REFERENCES systems (system_id),
    month        text        NOT NULL,
    kind         text        NOT NULL CHECK (kind IN ('accepted_as_reported', 'amended')),
    amendment_id bigint      REFERENCES amendments (amendment_id),
    energy_wh    bigint      NOT NULL,  -- the energy the release certifies
    reason       text        NOT NULL CHECK (btrim(reason) <> ''),
    released_by  text        NOT NULL,
    released_at  timestamptz NOT NULL,
    UNIQUE (system_id, month)
);
CREATE RULE month_releases_no_update AS ON UPDATE TO month_releases DO INSTEAD NOTHING;
CREATE RULE month_releases_no_delete AS ON DELETE TO month_releases DO INSTEAD NOTHING;

-- Append-only: every line of every NEPOOL GIS export, by system-month.
CREATE TABLE gis_export_lines (
    quarter   text          NOT NULL REFERENCES gis_exports (quarter),
    system_id text          NOT NULL REFERENCES systems (system_id),
    month     text          NOT NULL,
    mwh       numeric(14,3) NOT NULL,
    PRIMARY KEY (quarter, system_id, month)
);
CREATE RULE gis_export_lines_no_update AS ON UPDATE TO gis_export_lines DO INSTEAD NOTHING;
CREATE RULE gis_export_lines_no_delete AS ON DELETE TO gis_export_lines DO INSTEAD NOTHING;

-- Exports made before 007: their lines, read back from the uploaded CSV (unitID,MM/YYYY,MWh).
INSERT INTO gis_export_lines (quarter, system_id, month, mwh)
SELECT e.quarter, s.system_id,
       split_part(split_part(l.line, ',', 2), '/', 2) || '-'
           || split_part(split_part(l.line, ',', 2), '/', 1),
       sum(split_part(l.line, ',', 3)::numeric)
FROM gis_exports e
CROSS JOIN LATERAL regexp_split_to_table(e.content, E'\n') AS l(line)
JOIN systems s ON s.gis_unit_id = split_part(l.line, ',', 1)
WHERE l.line <> ''
GROUP BY 1, 2, 3;
