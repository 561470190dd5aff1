-- Resident details of issue 4 §1: the address as a division code (GB/T 2260, down to the
-- village) and group (组), the household number, ethnicity (GB/T 3304) and nationality
-- (GB/T 2659 alpha-3). On registrations as sent, on persons as derived.
ALTER TABLE registrations ADD COLUMN division_code TEXT;
ALTER TABLE registrations ADD COLUMN village_group TEXT;
ALTER TABLE registrations ADD COLUMN household_number TEXT;
ALTER TABLE registrations ADD COLUMN ethnicity TEXT;
ALTER TABLE registrations ADD COLUMN nationality TEXT;
ALTER TABLE persons ADD COLUMN division_code TEXT;
ALTER TABLE persons ADD COLUMN village_group TEXT;
ALTER TABLE persons ADD COLUMN household_number TEXT;
ALTER TABLE persons ADD COLUMN ethnicity TEXT;
ALTER TABLE persons ADD COLUMN nationality TEXT;
CREATE INDEX registrations_household_idx ON registrations (household_number);
