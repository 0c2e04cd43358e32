-- 012 DAS providers' broker passwords are kept only by the broker, as salted hashes
-- (Mosquitto's dynamic-security plugin): PTS records only when a password was last set.
ALTER TABLE das_mqtt_passwords DROP COLUMN password;
COMMENT ON TABLE das_mqtt_passwords IS
    'when each DAS provider''s broker password was last set (the broker keeps its salted hash)';
