-- 006 Re-driving dead letters (stream): once the cause of a refusal is fixed (the meter is
-- registered, the registry corrected) `pts stream redrive` sends the stored payload through
-- the stream core again and records here when and with what result. Rows are never deleted.
ALTER TABLE dead_letters
    ADD COLUMN redriven_at    timestamptz,
    ADD COLUMN redrive_result text;
CREATE INDEX dead_letters_pending_idx ON dead_letters (reason_code, id) WHERE redriven_at IS NULL;

CREATE OR REPLACE VIEW analyst_dead_letters AS
SELECT id, received_at, reason_code, reason, source_topic, source_partition, source_offset,
       ordinal, length(payload) AS payload_bytes, redriven_at, redrive_result
FROM dead_letters;
