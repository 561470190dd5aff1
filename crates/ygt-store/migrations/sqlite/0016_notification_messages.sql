-- A notification keeps what happened as a catalogue message (code and arguments, JSON), rendered
-- in the reader's language when shown. Rows written before keep their two titles.
ALTER TABLE notifications ADD COLUMN message TEXT;
