-- The intake schema: cycles, agencies (OPD) per region, innovation profiles with their SID
-- answers, SPD answers per region, and the responses remembered for Idempotency-Key.
-- Every row that is the subject of events carries its `version` (the event's version).

CREATE TABLE cycles (
    year             int  PRIMARY KEY,
    methodology      text NOT NULL,
    window_opens_at  timestamptz NOT NULL,
    window_closes_at timestamptz NOT NULL,   -- exclusive
    application_from date NOT NULL,          -- tanggal penerapan must fall in
    application_to   date NOT NULL,          -- [application_from, application_to]
    CHECK (window_opens_at < window_closes_at),
    CHECK (application_from <= application_to)
);

-- Cycle 2026. The window runs from 1 February to 31 December 2026, Western Indonesian time.
-- ASSUMPTION: an innovation counts for 2026 when it was applied (tanggal penerapan) between
-- 1 January 2024 and 31 December 2026, i.e. at most two years before the cycle; the pedoman's
-- exact period was not found.
INSERT INTO cycles (year, methodology, window_opens_at, window_closes_at, application_from, application_to)
VALUES (2026, 'iid-2026', '2026-02-01 00:00:00+07', '2027-01-01 00:00:00+07', '2024-01-01', '2026-12-31');

CREATE TABLE agencies (
    region     text NOT NULL,               -- Kemendagri code, one of the 546
    id         text NOT NULL,               -- slug, the `agency` of operator tokens
    name       text NOT NULL,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (region, id)
);

CREATE TABLE innovations (
    id                text PRIMARY KEY,      -- UUIDv7
    cycle             int  NOT NULL REFERENCES cycles (year),
    region            text NOT NULL,
    agency_id         text NOT NULL,
    status            text NOT NULL CHECK (status IN ('draft', 'submitted', 'withdrawn')),
    version           int  NOT NULL CHECK (version >= 1),
    name              text NOT NULL,
    tahapan           text,
    jenis             text,
    bentuk            text,
    inisiator         text,
    urusan_utama      text NOT NULL,
    urusan_lain       text[] NOT NULL DEFAULT '{}',
    tanggal_uji_coba  date,
    tanggal_penerapan date,
    rancang_bangun    text,
    tujuan            text,
    manfaat           text,
    hasil             text,
    answers           jsonb NOT NULL DEFAULT '{}',   -- answered SID indicator -> level
    created_by        text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    submitted_at      timestamptz,
    FOREIGN KEY (region, agency_id) REFERENCES agencies (region, id)
);
CREATE INDEX innovations_by_region ON innovations (cycle, region, agency_id, id);

-- One row per answered (or cleared) SPD indicator of a region; version 0 = never set.
CREATE TABLE spd_answers (
    cycle      int  NOT NULL REFERENCES cycles (year),
    region     text NOT NULL,
    indicator  text NOT NULL,
    level      int CHECK (level BETWEEN 1 AND 3),     -- null = cleared
    version    int  NOT NULL CHECK (version >= 1),
    updated_by text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (cycle, region, indicator)
);

-- The first response to each Idempotency-Key, per caller: a retry with the same body gets
-- it again, a different body under the same key is refused.
CREATE TABLE idempotency_keys (
    scope        text NOT NULL,              -- caller and operation
    key          text NOT NULL,
    request_hash text NOT NULL,
    status       int  NOT NULL,
    response     jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);
