-- The scoring service's copy of what it needs to score regions: the newest state of every
-- SPD answer, innovation and evidence item it has been told about (by version), and every
-- score it computed, with the event that caused it.

-- One row per region that has had an event in a cycle; the row is the unit of locking.
CREATE TABLE regions (
    cycle         int  NOT NULL,
    code          text NOT NULL,
    type          text NOT NULL,
    province      text,                       -- null for a provinsi
    score_version int  NOT NULL DEFAULT 0,    -- version of its newest score.updated
    PRIMARY KEY (cycle, code)
);

CREATE TABLE spd_answers (
    cycle     int  NOT NULL,
    region    text NOT NULL,
    indicator text NOT NULL,
    level     int,
    version   int  NOT NULL,
    PRIMARY KEY (cycle, region, indicator)
);

CREATE TABLE innovations (
    cycle        int    NOT NULL,
    id           text   NOT NULL,
    region       text   NOT NULL,
    agency_id    text   NOT NULL,
    name         text   NOT NULL,
    status       text   NOT NULL,
    urusan_utama text   NOT NULL,
    urusan_lain  text[] NOT NULL,
    answers      jsonb  NOT NULL,             -- SID indicator -> level (null = unanswered)
    version      int    NOT NULL,
    PRIMARY KEY (cycle, id)
);
CREATE INDEX innovations_region ON innovations (cycle, region);

CREATE TABLE evidence (
    cycle         int  NOT NULL,
    id            text NOT NULL,
    region        text NOT NULL,
    innovation_id text,                       -- null = evidence for an SPD answer
    indicator     text NOT NULL,
    state         text NOT NULL,              -- pending, accepted, rejected
    version       int  NOT NULL,
    PRIMARY KEY (cycle, id)
);
CREATE INDEX evidence_region ON evidence (cycle, region);

-- Every score computed (lineage: which event moved which score).
CREATE TABLE scores (
    cycle       int         NOT NULL,
    region      text        NOT NULL,
    version     int         NOT NULL,
    caused_by   uuid        NOT NULL,
    cause_type  text        NOT NULL,
    computed_at timestamptz NOT NULL DEFAULT now(),
    methodology text        NOT NULL,
    figures     jsonb       NOT NULL,
    PRIMARY KEY (cycle, region, version)
);

-- The newest score of each region, for ranks and rankings.
CREATE TABLE current_scores (
    cycle           int          NOT NULL,
    region          text         NOT NULL,
    type            text         NOT NULL,
    province        text,
    version         int          NOT NULL,
    iid_claimed     numeric(5,2) NOT NULL,
    iid_provisional numeric(5,2) NOT NULL,
    iid_validated   numeric(5,2) NOT NULL,
    figures         jsonb        NOT NULL,
    caused_by       uuid         NOT NULL,
    computed_at     timestamptz  NOT NULL,
    PRIMARY KEY (cycle, region)
);
CREATE INDEX current_scores_type ON current_scores (cycle, type);
