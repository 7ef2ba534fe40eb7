-- People and their ways in: accounts, browser sessions, personal API tokens, and login
-- attempts (for the rate limits). The outbox comes from services/common/sql.

CREATE TABLE accounts (
    id             text        PRIMARY KEY,              -- acc-<uuid7 hex>
    username       text        NOT NULL,
    password_hash  text        NOT NULL,                 -- argon2id, PHC string
    role           text        NOT NULL CHECK (role IN ('operator', 'region_admin', 'verifier', 'viewer',
                                                        'province_admin', 'national')),
    region         text,                                 -- region code; a provinsi's for province_admin; null for national
    agency         text,                                 -- operators only
    email          text,
    status         text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    failed_logins  int         NOT NULL DEFAULT 0,
    locked_until   timestamptz,
    last_login_at  timestamptz,
    version        int         NOT NULL DEFAULT 1,       -- the version of its account.* events
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    created_by     text        NOT NULL,                 -- an account id, or 'cli' / 'demo'
    CHECK ((role = 'national') = (region IS NULL)),
    CHECK ((role = 'operator') = (agency IS NOT NULL))
);
CREATE UNIQUE INDEX accounts_username ON accounts (lower(username));
CREATE INDEX accounts_region ON accounts (region, lower(username));

-- A browser session. The cookie holds a random secret; only its SHA-256 is stored, so a
-- copy of this table signs no one in. `id` is public: the jti of the tokens minted for it.
CREATE TABLE sessions (
    id            text        PRIMARY KEY,               -- ses-<uuid7 hex>
    secret_hash   bytea       NOT NULL UNIQUE,
    account_id    text        NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    csrf_token    text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,                  -- absolute end; idle end = last_seen_at + idle
    user_agent    text,
    address       text
);
CREATE INDEX sessions_account ON sessions (account_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- Personal API tokens: JWTs whose jti is `id`; only their SHA-256 is kept.
CREATE TABLE api_tokens (
    id            text        PRIMARY KEY,               -- tok-<uuid7 hex>
    account_id    text        NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name          text        NOT NULL,
    token_hash    bytea       NOT NULL UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz
);
CREATE INDEX api_tokens_account ON api_tokens (account_id, created_at);

-- Every login attempt, for the limits per client address and per user name.
CREATE TABLE login_attempts (
    id         bigserial   PRIMARY KEY,
    address    text        NOT NULL,
    username   text        NOT NULL,                     -- lower-cased, as typed
    succeeded  boolean     NOT NULL,
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_attempts_address ON login_attempts (address, at);
CREATE INDEX login_attempts_username ON login_attempts (username, at);
CREATE INDEX login_attempts_at ON login_attempts (at);
