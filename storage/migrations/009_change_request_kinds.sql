-- 009 change requests of three kinds: REC Owner, System Representative, DAS provider.
-- One open request per system whatever its kind (change_requests_one_open, from 004);
-- the new party's column is named for any kind; only a REC Owner change needs a contract.
ALTER TABLE change_requests ADD COLUMN kind text NOT NULL DEFAULT 'rec_owner'
    CHECK (kind IN ('rec_owner', 'representative', 'das_provider'));
ALTER TABLE change_requests RENAME COLUMN new_rec_owner_id TO new_party_id;
ALTER TABLE change_requests ALTER COLUMN transfer_contract DROP NOT NULL;
ALTER TABLE change_requests RENAME COLUMN transfer_contract TO document;
ALTER TABLE change_requests ADD CONSTRAINT change_requests_contract
    CHECK (kind <> 'rec_owner' OR document IS NOT NULL);
