-- Every event scoring applied, and the score version it left its region at. An event that
-- changes none of the three figures makes no new score version (and no score.updated), but
-- that it was applied is kept here.
CREATE TABLE applied_events (
    cycle         int         NOT NULL,
    region        text        NOT NULL,
    event_id      uuid        NOT NULL,
    event_type    text        NOT NULL,
    score_version int         NOT NULL,   -- the region's score version after the event
    changed       boolean     NOT NULL,   -- whether it made that version
    applied_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (cycle, region, event_id)
);
