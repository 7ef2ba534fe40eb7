-- Each delivery's receiver in its own column, so that a claim ("the oldest due deliveries,
-- at most N per receiver") reads a few index entries per receiver instead of scanning and
-- sorting every due delivery (adapters/store.py, claim_due).
--
-- target: `scheme://authority` of the subscription's URL, as written (store.TARGET_SQL);
-- '' for a URL without one (the API accepts none such). A subscription's URL never changes,
-- so the value is fixed when the delivery is inserted.

ALTER TABLE deliveries ADD COLUMN target text;

UPDATE deliveries d
   SET target = coalesce(substring(s.url from '^[^:/?#]+://[^/?#]*'), '')
  FROM subscriptions s
 WHERE s.id = d.subscription_id;

ALTER TABLE deliveries ALTER COLUMN target SET NOT NULL;

-- enqueue_deliveries writes the target itself; any other INSERT that leaves it out gets it
-- from the subscription here.
CREATE FUNCTION deliveries_target() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format(
        $q$SELECT coalesce(substring(url from '^[^:/?#]+://[^/?#]*'), '') FROM %I.subscriptions WHERE id = $1$q$,
        TG_TABLE_SCHEMA)
       INTO NEW.target
      USING NEW.subscription_id;
    NEW.target := coalesce(NEW.target, '');  -- no such subscription: its foreign key says so
    RETURN NEW;
END
$$;
CREATE TRIGGER deliveries_target BEFORE INSERT ON deliveries
    FOR EACH ROW WHEN (NEW.target IS NULL) EXECUTE FUNCTION deliveries_target();

-- Per receiver, its pending deliveries in claim order: the distinct receivers (a skip scan)
-- and each one's oldest due deliveries come from this index alone.
CREATE INDEX deliveries_target_due ON deliveries (target, next_attempt_at, id) WHERE status = 'pending';
