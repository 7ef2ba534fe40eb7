ALTER TABLE widgets ADD COLUMN color text;
INSERT INTO widgets (name, color) VALUES ('second', 'red');
