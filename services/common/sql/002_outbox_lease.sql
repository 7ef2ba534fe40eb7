-- The relay claims rows by leasing them (services/common/outbox.py): a claimed row is
-- skipped by other relays until it is published or its lease runs out (its relay died).
ALTER TABLE outbox ADD COLUMN lease_until timestamptz;
-- Relays of an earlier release ignore leases: during a rolling upgrade one of them may
-- publish a row a new relay holds, which consumers absorb through their inbox.
