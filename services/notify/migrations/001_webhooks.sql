-- Webhook subscriptions, what notify last saw of each region's score, and every delivery
-- with every attempt (the delivery log).

CREATE TABLE subscriptions (
    id           uuid        PRIMARY KEY,
    owner_region text        NOT NULL,            -- the region whose admin manages it
    url          text        NOT NULL,
    scope_kind   text        NOT NULL CHECK (scope_kind IN ('region', 'province')),
    scope_code   text        NOT NULL,
    kinds        text[]      NOT NULL CHECK (cardinality(kinds) > 0),
    secret       text        NOT NULL,            -- HMAC key; needed in clear to sign
    created_by   text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    deleted_at   timestamptz                      -- kept (soft-deleted) for the delivery log
);
CREATE INDEX subscriptions_scope ON subscriptions (scope_kind, scope_code) WHERE deleted_at IS NULL;
CREATE INDEX subscriptions_owner ON subscriptions (owner_region, created_at);

-- The newest score.updated seen per region: category.changed compares against it, and
-- only a newer version replaces it, so redelivery and reordering raise no false alert.
CREATE TABLE seen_scores (
    cycle      int   NOT NULL,
    region     text  NOT NULL,
    version    int   NOT NULL,
    categories jsonb NOT NULL,                     -- figure -> category id
    event_id   uuid  NOT NULL,
    PRIMARY KEY (cycle, region)
);

CREATE TABLE deliveries (
    id               bigserial   PRIMARY KEY,
    subscription_id  uuid        NOT NULL REFERENCES subscriptions (id),
    event_id         uuid        NOT NULL,
    event_type       text        NOT NULL,
    kind             text        NOT NULL,
    cycle            int         NOT NULL,
    region           text        NOT NULL,
    body             text        NOT NULL,         -- the exact JSON sent on every attempt
    status           text        NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'delivered', 'failed', 'cancelled')),
    attempts         int         NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now(),
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),  -- while pending: due time or lease end
    updated_at       timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz,
    last_http_status int,
    last_error       text,
    UNIQUE (subscription_id, event_id, kind)       -- a redelivered event never alerts twice
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_subscription ON deliveries (subscription_id, id);

CREATE TABLE delivery_attempts (
    delivery_id      bigint      NOT NULL REFERENCES deliveries (id),
    attempt          int         NOT NULL,
    started_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    duration_ms      int,
    http_status      int,
    error            text,
    response_excerpt text,
    outcome          text        NOT NULL DEFAULT 'in_flight'
                     CHECK (outcome IN ('in_flight', 'delivered', 'retry', 'failed', 'abandoned')),
    PRIMARY KEY (delivery_id, attempt)
);

-- Wake the delivery worker when deliveries are committed. Only a hint: it also polls.
CREATE FUNCTION deliveries_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_TABLE_SCHEMA || '.deliveries', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER deliveries_notify AFTER INSERT ON deliveries
    FOR EACH STATEMENT EXECUTE FUNCTION deliveries_notify();
