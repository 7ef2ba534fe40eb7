-- Deliberately not idempotent (no IF NOT EXISTS): applying it twice fails, so a test
-- catches a runner that applies a file twice. The sleep makes concurrent runs overlap.
SELECT pg_sleep(0.2);
CREATE TABLE widgets (id serial PRIMARY KEY, name text NOT NULL);
INSERT INTO widgets (name) VALUES ('first');
