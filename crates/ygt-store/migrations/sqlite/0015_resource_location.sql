-- Where a booking resource is (「门诊楼二楼 CT 室」, 「内科住院部 5 楼」): shown on the referral
-- and printed on the slip so the patient finds the room. Empty when not given.
ALTER TABLE booking_resources ADD COLUMN location TEXT NOT NULL DEFAULT '';
