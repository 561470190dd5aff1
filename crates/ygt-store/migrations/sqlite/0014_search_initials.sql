-- Search by pinyin initials (`chy` finds 陈海燕): the first letters of every spelling of the
-- registration's name, separated by '|' like name_pinyin. Registrations stored before this
-- migration are filled in by the application at start-up (the initials come from its pinyin
-- tables, not from SQL).
ALTER TABLE registrations ADD COLUMN name_initials TEXT NOT NULL DEFAULT '';
