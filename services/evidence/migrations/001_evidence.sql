-- The evidence service's own state: the evidence items with their verification, the
-- history of decisions, and a projection of innovations (from intake.events) used to
-- authorise uploads without reading intake's tables.

-- Innovations as intake last described them (applied only when an event's version is newer).
CREATE TABLE innovations (
    id         text        PRIMARY KEY,
    cycle      int         NOT NULL,
    region     text        NOT NULL,
    agency_id  text        NOT NULL,
    status     text        NOT NULL,           -- draft, submitted, withdrawn
    version    int         NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- One uploaded file or link backing one answer (SID: of an innovation; SPD: of a region).
CREATE TABLE evidence (
    id            text        PRIMARY KEY,     -- UUIDv7: sorts by creation time
    cycle         int         NOT NULL,
    region        text        NOT NULL,
    innovation_id text,                        -- null = evidence for an SPD answer
    agency_id     text,                        -- the innovation's agency; null for SPD
    indicator     text        NOT NULL,
    kind          text        NOT NULL CHECK (kind IN ('pdf', 'image', 'video', 'link')),
    content_type  text,                        -- detected from the bytes; null for a link
    size          bigint      CHECK (size >= 0),
    sha256        text        CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    object_key    text        UNIQUE,
    link          text,
    uploaded_by   text        NOT NULL,
    uploaded_at   timestamptz NOT NULL DEFAULT now(),
    state         text        NOT NULL DEFAULT 'pending'
                              CHECK (state IN ('pending', 'accepted', 'rejected')),
    reason        text,
    decided_by    text,
    decided_at    timestamptz,
    version       int         NOT NULL DEFAULT 1,
    CHECK ((innovation_id IS NULL) = (agency_id IS NULL)),
    CHECK ((kind = 'link') = (link IS NOT NULL)),
    CHECK (kind = 'link' OR (object_key IS NOT NULL AND size IS NOT NULL AND sha256 IS NOT NULL
                             AND content_type IS NOT NULL)),
    CHECK (state <> 'rejected' OR reason IS NOT NULL)
);
CREATE INDEX evidence_innovation ON evidence (cycle, innovation_id, id);
CREATE INDEX evidence_region ON evidence (cycle, region, id);

-- Every decision taken, including the ones later changed (who decided what, when).
CREATE TABLE decisions (
    evidence_id text        NOT NULL REFERENCES evidence (id),
    version     int         NOT NULL,          -- the item's version this decision produced
    state       text        NOT NULL CHECK (state IN ('accepted', 'rejected')),
    reason      text,
    decided_by  text        NOT NULL,
    decided_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (evidence_id, version)
);
