-- Two-way referral: referrals and their events, tier catalogues, overdue rules, resource
-- calendars with reserved slots, follow-up tasks handed over on down-referral, and the inbox.

CREATE TABLE referrals (
    id BLOB PRIMARY KEY,
    number TEXT NOT NULL,                    -- slip number ZZyyyymmdd-nnnn
    direction TEXT NOT NULL,                 -- up | down
    status TEXT NOT NULL,
    urgency TEXT NOT NULL,
    person_id BLOB NOT NULL REFERENCES persons (id),
    from_institution_id BLOB NOT NULL REFERENCES institutions (id),
    from_department_id BLOB REFERENCES departments (id),
    from_user_id BLOB REFERENCES users (id),
    from_doctor TEXT NOT NULL,
    to_institution_id BLOB NOT NULL REFERENCES institutions (id),
    to_department_id BLOB REFERENCES departments (id),
    to_staff_id BLOB REFERENCES staff (id),  -- the specialist or the family doctor, if chosen
    diagnosis_code TEXT,
    diagnosis_name TEXT,
    reason TEXT NOT NULL,
    criterion TEXT,                          -- the criterion that suggested it, if any
    summary TEXT,                            -- history and findings for the receiving side
    needs TEXT,                              -- resource kind wanted (ct, mri, bed, ...)
    plan TEXT,                               -- treatment plan of a down-referral (JSON)
    outcome TEXT,                            -- what the receiving side reports back (JSON)
    status_note TEXT,                        -- reason of the last rejection, redirection or cancellation
    appointment_at TEXT,
    created_at TEXT NOT NULL,
    submitted_at TEXT,
    accepted_at TEXT,
    arrived_at TEXT,
    closed_at TEXT,
    status_since TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    CONSTRAINT referrals_number_key UNIQUE (number)
);
CREATE INDEX referrals_from_idx ON referrals (from_institution_id, status, status_since);
CREATE INDEX referrals_to_idx ON referrals (to_institution_id, status, status_since);
CREATE INDEX referrals_person_idx ON referrals (person_id, created_at);

CREATE TABLE referral_events (
    id BLOB PRIMARY KEY,
    referral_id BLOB NOT NULL REFERENCES referrals (id),
    action TEXT NOT NULL,                    -- create | submit | accept | ... | book | release
    from_status TEXT,
    to_status TEXT NOT NULL,
    actor_user_id BLOB,
    actor_name TEXT NOT NULL,
    institution_id BLOB,
    note TEXT,
    at TEXT NOT NULL
);
CREATE INDEX referral_events_referral_idx ON referral_events (referral_id, at);

-- Items of the shared record attached to a referral (results the receiving side should see).
CREATE TABLE referral_items (
    referral_id BLOB NOT NULL REFERENCES referrals (id),
    item_id BLOB NOT NULL REFERENCES clinical_items (id),
    PRIMARY KEY (referral_id, item_id)
);

-- Slip numbers: one counter per day.
CREATE TABLE referral_counters (
    day TEXT PRIMARY KEY,
    seq INTEGER NOT NULL
);

-- Diseases each tier treats (the county treats everything and has no rows).
CREATE TABLE catalogue_entries (
    id BLOB PRIMARY KEY,
    tier TEXT NOT NULL,
    codes TEXT NOT NULL,                     -- I10-I15, E11, M54.5
    name TEXT NOT NULL,
    chronic INTEGER NOT NULL,
    position INTEGER NOT NULL,
    CONSTRAINT catalogue_entries_codes_key UNIQUE (tier, codes)
);

-- The default catalogues (ygt_domain::referral::DEFAULT_CATALOGUE).
INSERT INTO catalogue_entries (id, tier, codes, name, chronic, position) VALUES
    (X'00000000000070008000000000000001', 'township', 'I10-I15', '高血压', TRUE, 0),
    (X'00000000000070008000000000000002', 'township', 'E11', '2型糖尿病', TRUE, 1),
    (X'00000000000070008000000000000003', 'township', 'E78', '血脂异常', TRUE, 2),
    (X'00000000000070008000000000000004', 'township', 'I25', '慢性缺血性心脏病（稳定期）', TRUE, 3),
    (X'00000000000070008000000000000005', 'township', 'I69', '脑血管病后遗症（康复期）', TRUE, 4),
    (X'00000000000070008000000000000006', 'township', 'J44', '慢性阻塞性肺疾病（稳定期）', TRUE, 5),
    (X'00000000000070008000000000000007', 'township', 'J45', '支气管哮喘（稳定期）', TRUE, 6),
    (X'00000000000070008000000000000008', 'township', 'M17', '膝关节骨关节炎', TRUE, 7),
    (X'00000000000070008000000000000009', 'township', 'Z50', '康复治疗', TRUE, 8),
    (X'0000000000007000800000000000000a', 'township', 'Z47', '骨科随诊治疗', TRUE, 9),
    (X'0000000000007000800000000000000b', 'township', 'J00-J06', '急性上呼吸道感染', FALSE, 10),
    (X'0000000000007000800000000000000c', 'township', 'J20-J21', '急性支气管炎', FALSE, 11),
    (X'0000000000007000800000000000000d', 'township', 'J40-J42', '慢性支气管炎', TRUE, 12),
    (X'0000000000007000800000000000000e', 'township', 'K21', '胃食管反流病', FALSE, 13),
    (X'0000000000007000800000000000000f', 'township', 'K29', '胃炎和十二指肠炎', FALSE, 14),
    (X'00000000000070008000000000000010', 'township', 'K30', '功能性消化不良', FALSE, 15),
    (X'00000000000070008000000000000011', 'township', 'K52', '非感染性胃肠炎', FALSE, 16),
    (X'00000000000070008000000000000012', 'township', 'A09', '感染性腹泻', FALSE, 17),
    (X'00000000000070008000000000000013', 'township', 'K59.0', '便秘', FALSE, 18),
    (X'00000000000070008000000000000014', 'township', 'M54', '背痛（腰肌劳损）', FALSE, 19),
    (X'00000000000070008000000000000015', 'township', 'S33.5', '腰椎扭伤', FALSE, 20),
    (X'00000000000070008000000000000016', 'township', 'M79.1', '肌痛', FALSE, 21),
    (X'00000000000070008000000000000017', 'township', 'N39.0', '泌尿道感染', FALSE, 22),
    (X'00000000000070008000000000000018', 'township', 'L20-L30', '皮炎和湿疹', FALSE, 23),
    (X'00000000000070008000000000000019', 'township', 'H10', '结膜炎', FALSE, 24),
    (X'0000000000007000800000000000001a', 'township', 'R51', '头痛', FALSE, 25),
    (X'0000000000007000800000000000001b', 'township', 'R50', '发热', FALSE, 26),
    (X'0000000000007000800000000000001c', 'township', 'F51.0', '失眠', FALSE, 27),
    (X'0000000000007000800000000000001d', 'township', 'D50', '缺铁性贫血', FALSE, 28),
    (X'0000000000007000800000000000001e', 'township', 'O80', '单胎顺产', FALSE, 29),
    (X'0000000000007000800000000000001f', 'village', 'I10-I15', '高血压', TRUE, 30),
    (X'00000000000070008000000000000020', 'village', 'E11', '2型糖尿病', TRUE, 31),
    (X'00000000000070008000000000000021', 'village', 'J00-J06', '急性上呼吸道感染', FALSE, 32),
    (X'00000000000070008000000000000022', 'village', 'K29', '胃炎和十二指肠炎', FALSE, 33),
    (X'00000000000070008000000000000023', 'village', 'K30', '功能性消化不良', FALSE, 34),
    (X'00000000000070008000000000000024', 'village', 'A09', '感染性腹泻', FALSE, 35),
    (X'00000000000070008000000000000025', 'village', 'M54', '背痛（腰肌劳损）', FALSE, 36),
    (X'00000000000070008000000000000026', 'village', 'S33.5', '腰椎扭伤', FALSE, 37),
    (X'00000000000070008000000000000027', 'village', 'L20-L30', '皮炎和湿疹', FALSE, 38),
    (X'00000000000070008000000000000028', 'village', 'R50', '发热', FALSE, 39),
    (X'00000000000070008000000000000029', 'village', 'Z50', '康复治疗', TRUE, 40),
    (X'0000000000007000800000000000002a', 'village', 'I69', '脑血管病后遗症（康复期）', TRUE, 41);

-- How long each step may wait, per urgency, in minutes.
CREATE TABLE referral_rules (
    urgency TEXT PRIMARY KEY,
    accept_minutes INTEGER NOT NULL,
    arrive_minutes INTEGER NOT NULL,
    grace_minutes INTEGER NOT NULL,
    complete_minutes INTEGER NOT NULL
);
INSERT INTO referral_rules VALUES
    ('routine', 2880, 20160, 1440, 43200),
    ('urgent', 480, 4320, 240, 20160),
    ('emergency', 30, 240, 60, 10080);

-- What a county institution books out: clinic sessions, CT, MRI, ultrasound, beds.
CREATE TABLE booking_resources (
    id BLOB PRIMARY KEY,
    institution_id BLOB NOT NULL REFERENCES institutions (id),
    department_id BLOB REFERENCES departments (id),
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    staff_id BLOB REFERENCES staff (id),     -- the specialist of a clinic session
    release_hours INTEGER NOT NULL,           -- reserved slots become public this long before
    active INTEGER NOT NULL DEFAULT TRUE,
    created_at TEXT NOT NULL
);
CREATE INDEX booking_resources_institution_idx ON booking_resources (institution_id, kind);

-- One bookable unit: a clinic appointment, a scanner slot, a bed from an admission date.
CREATE TABLE slots (
    id BLOB PRIMARY KEY,
    resource_id BLOB NOT NULL REFERENCES booking_resources (id),
    starts_at TEXT NOT NULL,
    ends_at TEXT NOT NULL,
    reserved INTEGER NOT NULL,               -- reserved for referrals from members
    release_at TEXT NOT NULL,
    referral_id BLOB REFERENCES referrals (id),
    booked_at TEXT,
    booked_by BLOB
);
CREATE INDEX slots_resource_idx ON slots (resource_id, starts_at);
CREATE UNIQUE INDEX slots_referral_key ON slots (referral_id) WHERE referral_id IS NOT NULL;

-- Tasks of a doctor's worklist: follow-ups handed over with a down-referral's plan.
CREATE TABLE care_tasks (
    id BLOB PRIMARY KEY,
    referral_id BLOB REFERENCES referrals (id),
    person_id BLOB NOT NULL REFERENCES persons (id),
    institution_id BLOB NOT NULL REFERENCES institutions (id),
    staff_id BLOB REFERENCES staff (id),
    kind TEXT NOT NULL,                      -- follow_up | medication | rehabilitation | check
    title TEXT NOT NULL,
    due_on TEXT NOT NULL,
    done_at TEXT,
    done_by TEXT,
    note TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX care_tasks_open_idx ON care_tasks (institution_id, done_at, due_on);
CREATE INDEX care_tasks_referral_idx ON care_tasks (referral_id);

-- The in-app inbox: one row per recipient.
CREATE TABLE notifications (
    id BLOB PRIMARY KEY,
    user_id BLOB NOT NULL REFERENCES users (id),
    referral_id BLOB REFERENCES referrals (id),
    kind TEXT NOT NULL,
    title_zh TEXT NOT NULL,
    title_en TEXT NOT NULL,
    created_at TEXT NOT NULL,
    read_at TEXT
);
CREATE INDEX notifications_user_idx ON notifications (user_id, created_at);
