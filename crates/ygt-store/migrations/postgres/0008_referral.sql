-- Two-way referral: referrals and their events, tier catalogues, overdue rules, resource
-- calendars with reserved slots, follow-up tasks handed over on down-referral, and the inbox.

CREATE TABLE referrals (
    id UUID PRIMARY KEY,
    number TEXT NOT NULL,                    -- slip number ZZyyyymmdd-nnnn
    direction TEXT NOT NULL,                 -- up | down
    status TEXT NOT NULL,
    urgency TEXT NOT NULL,
    person_id UUID NOT NULL REFERENCES persons (id),
    from_institution_id UUID NOT NULL REFERENCES institutions (id),
    from_department_id UUID REFERENCES departments (id),
    from_user_id UUID REFERENCES users (id),
    from_doctor TEXT NOT NULL,
    to_institution_id UUID NOT NULL REFERENCES institutions (id),
    to_department_id UUID REFERENCES departments (id),
    to_staff_id UUID REFERENCES staff (id),  -- the specialist or the family doctor, if chosen
    diagnosis_code TEXT,
    diagnosis_name TEXT,
    reason TEXT NOT NULL,
    criterion TEXT,                          -- the criterion that suggested it, if any
    summary TEXT,                            -- history and findings for the receiving side
    needs TEXT,                              -- resource kind wanted (ct, mri, bed, ...)
    plan TEXT,                               -- treatment plan of a down-referral (JSON)
    outcome TEXT,                            -- what the receiving side reports back (JSON)
    status_note TEXT,                        -- reason of the last rejection, redirection or cancellation
    appointment_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    submitted_at TIMESTAMPTZ,
    accepted_at TIMESTAMPTZ,
    arrived_at TIMESTAMPTZ,
    closed_at TIMESTAMPTZ,
    status_since TIMESTAMPTZ NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    CONSTRAINT referrals_number_key UNIQUE (number)
);
CREATE INDEX referrals_from_idx ON referrals (from_institution_id, status, status_since);
CREATE INDEX referrals_to_idx ON referrals (to_institution_id, status, status_since);
CREATE INDEX referrals_person_idx ON referrals (person_id, created_at);

CREATE TABLE referral_events (
    id UUID PRIMARY KEY,
    referral_id UUID NOT NULL REFERENCES referrals (id),
    action TEXT NOT NULL,                    -- create | submit | accept | ... | book | release
    from_status TEXT,
    to_status TEXT NOT NULL,
    actor_user_id UUID,
    actor_name TEXT NOT NULL,
    institution_id UUID,
    note TEXT,
    at TIMESTAMPTZ NOT NULL
);
CREATE INDEX referral_events_referral_idx ON referral_events (referral_id, at);

-- Items of the shared record attached to a referral (results the receiving side should see).
CREATE TABLE referral_items (
    referral_id UUID NOT NULL REFERENCES referrals (id),
    item_id UUID NOT NULL REFERENCES clinical_items (id),
    PRIMARY KEY (referral_id, item_id)
);

-- Slip numbers: one counter per day.
CREATE TABLE referral_counters (
    day TEXT PRIMARY KEY,
    seq BIGINT NOT NULL
);

-- Diseases each tier treats (the county treats everything and has no rows).
CREATE TABLE catalogue_entries (
    id UUID PRIMARY KEY,
    tier TEXT NOT NULL,
    codes TEXT NOT NULL,                     -- I10-I15, E11, M54.5
    name TEXT NOT NULL,
    chronic BOOLEAN NOT NULL,
    position BIGINT NOT NULL,
    CONSTRAINT catalogue_entries_codes_key UNIQUE (tier, codes)
);

-- The default catalogues (ygt_domain::referral::DEFAULT_CATALOGUE).
INSERT INTO catalogue_entries (id, tier, codes, name, chronic, position) VALUES
    ('00000000-0000-7000-8000-000000000001', 'township', 'I10-I15', '高血压', TRUE, 0),
    ('00000000-0000-7000-8000-000000000002', 'township', 'E11', '2型糖尿病', TRUE, 1),
    ('00000000-0000-7000-8000-000000000003', 'township', 'E78', '血脂异常', TRUE, 2),
    ('00000000-0000-7000-8000-000000000004', 'township', 'I25', '慢性缺血性心脏病（稳定期）', TRUE, 3),
    ('00000000-0000-7000-8000-000000000005', 'township', 'I69', '脑血管病后遗症（康复期）', TRUE, 4),
    ('00000000-0000-7000-8000-000000000006', 'township', 'J44', '慢性阻塞性肺疾病（稳定期）', TRUE, 5),
    ('00000000-0000-7000-8000-000000000007', 'township', 'J45', '支气管哮喘（稳定期）', TRUE, 6),
    ('00000000-0000-7000-8000-000000000008', 'township', 'M17', '膝关节骨关节炎', TRUE, 7),
    ('00000000-0000-7000-8000-000000000009', 'township', 'Z50', '康复治疗', TRUE, 8),
    ('00000000-0000-7000-8000-00000000000a', 'township', 'Z47', '骨科随诊治疗', TRUE, 9),
    ('00000000-0000-7000-8000-00000000000b', 'township', 'J00-J06', '急性上呼吸道感染', FALSE, 10),
    ('00000000-0000-7000-8000-00000000000c', 'township', 'J20-J21', '急性支气管炎', FALSE, 11),
    ('00000000-0000-7000-8000-00000000000d', 'township', 'J40-J42', '慢性支气管炎', TRUE, 12),
    ('00000000-0000-7000-8000-00000000000e', 'township', 'K21', '胃食管反流病', FALSE, 13),
    ('00000000-0000-7000-8000-00000000000f', 'township', 'K29', '胃炎和十二指肠炎', FALSE, 14),
    ('00000000-0000-7000-8000-000000000010', 'township', 'K30', '功能性消化不良', FALSE, 15),
    ('00000000-0000-7000-8000-000000000011', 'township', 'K52', '非感染性胃肠炎', FALSE, 16),
    ('00000000-0000-7000-8000-000000000012', 'township', 'A09', '感染性腹泻', FALSE, 17),
    ('00000000-0000-7000-8000-000000000013', 'township', 'K59.0', '便秘', FALSE, 18),
    ('00000000-0000-7000-8000-000000000014', 'township', 'M54', '背痛（腰肌劳损）', FALSE, 19),
    ('00000000-0000-7000-8000-000000000015', 'township', 'S33.5', '腰椎扭伤', FALSE, 20),
    ('00000000-0000-7000-8000-000000000016', 'township', 'M79.1', '肌痛', FALSE, 21),
    ('00000000-0000-7000-8000-000000000017', 'township', 'N39.0', '泌尿道感染', FALSE, 22),
    ('00000000-0000-7000-8000-000000000018', 'township', 'L20-L30', '皮炎和湿疹', FALSE, 23),
    ('00000000-0000-7000-8000-000000000019', 'township', 'H10', '结膜炎', FALSE, 24),
    ('00000000-0000-7000-8000-00000000001a', 'township', 'R51', '头痛', FALSE, 25),
    ('00000000-0000-7000-8000-00000000001b', 'township', 'R50', '发热', FALSE, 26),
    ('00000000-0000-7000-8000-00000000001c', 'township', 'F51.0', '失眠', FALSE, 27),
    ('00000000-0000-7000-8000-00000000001d', 'township', 'D50', '缺铁性贫血', FALSE, 28),
    ('00000000-0000-7000-8000-00000000001e', 'township', 'O80', '单胎顺产', FALSE, 29),
    ('00000000-0000-7000-8000-00000000001f', 'village', 'I10-I15', '高血压', TRUE, 30),
    ('00000000-0000-7000-8000-000000000020', 'village', 'E11', '2型糖尿病', TRUE, 31),
    ('00000000-0000-7000-8000-000000000021', 'village', 'J00-J06', '急性上呼吸道感染', FALSE, 32),
    ('00000000-0000-7000-8000-000000000022', 'village', 'K29', '胃炎和十二指肠炎', FALSE, 33),
    ('00000000-0000-7000-8000-000000000023', 'village', 'K30', '功能性消化不良', FALSE, 34),
    ('00000000-0000-7000-8000-000000000024', 'village', 'A09', '感染性腹泻', FALSE, 35),
    ('00000000-0000-7000-8000-000000000025', 'village', 'M54', '背痛（腰肌劳损）', FALSE, 36),
    ('00000000-0000-7000-8000-000000000026', 'village', 'S33.5', '腰椎扭伤', FALSE, 37),
    ('00000000-0000-7000-8000-000000000027', 'village', 'L20-L30', '皮炎和湿疹', FALSE, 38),
    ('00000000-0000-7000-8000-000000000028', 'village', 'R50', '发热', FALSE, 39),
    ('00000000-0000-7000-8000-000000000029', 'village', 'Z50', '康复治疗', TRUE, 40),
    ('00000000-0000-7000-8000-00000000002a', 'village', 'I69', '脑血管病后遗症（康复期）', TRUE, 41);

-- How long each step may wait, per urgency, in minutes.
CREATE TABLE referral_rules (
    urgency TEXT PRIMARY KEY,
    accept_minutes BIGINT NOT NULL,
    arrive_minutes BIGINT NOT NULL,
    grace_minutes BIGINT NOT NULL,
    complete_minutes BIGINT NOT NULL
);
INSERT INTO referral_rules VALUES
    ('routine', 2880, 20160, 1440, 43200),
    ('urgent', 480, 4320, 240, 20160),
    ('emergency', 30, 240, 60, 10080);

-- What a county institution books out: clinic sessions, CT, MRI, ultrasound, beds.
CREATE TABLE booking_resources (
    id UUID PRIMARY KEY,
    institution_id UUID NOT NULL REFERENCES institutions (id),
    department_id UUID REFERENCES departments (id),
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    staff_id UUID REFERENCES staff (id),     -- the specialist of a clinic session
    release_hours BIGINT NOT NULL,           -- reserved slots become public this long before
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX booking_resources_institution_idx ON booking_resources (institution_id, kind);

-- One bookable unit: a clinic appointment, a scanner slot, a bed from an admission date.
CREATE TABLE slots (
    id UUID PRIMARY KEY,
    resource_id UUID NOT NULL REFERENCES booking_resources (id),
    starts_at TIMESTAMPTZ NOT NULL,
    ends_at TIMESTAMPTZ NOT NULL,
    reserved BOOLEAN NOT NULL,               -- reserved for referrals from members
    release_at TIMESTAMPTZ NOT NULL,
    referral_id UUID REFERENCES referrals (id),
    booked_at TIMESTAMPTZ,
    booked_by UUID
);
CREATE INDEX slots_resource_idx ON slots (resource_id, starts_at);
CREATE UNIQUE INDEX slots_referral_key ON slots (referral_id) WHERE referral_id IS NOT NULL;

-- Tasks of a doctor's worklist: follow-ups handed over with a down-referral's plan.
CREATE TABLE care_tasks (
    id UUID PRIMARY KEY,
    referral_id UUID REFERENCES referrals (id),
    person_id UUID NOT NULL REFERENCES persons (id),
    institution_id UUID NOT NULL REFERENCES institutions (id),
    staff_id UUID REFERENCES staff (id),
    kind TEXT NOT NULL,                      -- follow_up | medication | rehabilitation | check
    title TEXT NOT NULL,
    due_on DATE NOT NULL,
    done_at TIMESTAMPTZ,
    done_by TEXT,
    note TEXT,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX care_tasks_open_idx ON care_tasks (institution_id, done_at, due_on);
CREATE INDEX care_tasks_referral_idx ON care_tasks (referral_id);

-- The in-app inbox: one row per recipient.
CREATE TABLE notifications (
    id UUID PRIMARY KEY,
    user_id UUID NOT NULL REFERENCES users (id),
    referral_id UUID REFERENCES referrals (id),
    kind TEXT NOT NULL,
    title_zh TEXT NOT NULL,
    title_en TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    read_at TIMESTAMPTZ
);
CREATE INDEX notifications_user_idx ON notifications (user_id, created_at);
