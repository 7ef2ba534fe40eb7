-- Transactional outbox: a service inserts its events here in the same transaction as its
-- state; the relay (services/common/outbox.py) publishes them to Redis and stamps them.
CREATE TABLE outbox (
    id           bigserial PRIMARY KEY,
    event_id     uuid NOT NULL UNIQUE,
    stream       text NOT NULL,              -- logical name, without INOVASI_STREAM_PREFIX
    type         text NOT NULL,
    payload      json NOT NULL,              -- json, not jsonb: the exact wire text
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz,
    entry_id     text                        -- Redis stream entry id, once published
);
-- The relay only ever scans unpublished rows, in id order.
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
CREATE INDEX outbox_published_at ON outbox (published_at) WHERE published_at IS NOT NULL;

-- Wake the relay at commit. Only a hint: the relay also polls.
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_TABLE_SCHEMA || '.outbox', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

-- Inbox: event ids a consumer has handled, written in the same transaction as its effects.
CREATE TABLE inbox (
    consumer   text NOT NULL,
    event_id   uuid NOT NULL,
    handled_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
