-- The relay claims rows by leasing them (services/common/outbox.py): a claimed row is
-- skipped by other relays until it is published or its lease runs out (its relay died).
ALTER TABLE outbox ADD COLUMN lease_until timestamptz;
