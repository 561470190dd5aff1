-- Sign-in throttling without lock-out (issue 12): growing delays per account, per client
-- address and per device cookie replace the lock-out of 0002, which let anyone lock any
-- account (and, behind a proxy, everyone).

-- Per key, the failures in a row and the time before which no attempt under the key is taken.
CREATE TABLE sign_in_throttle (
    key TEXT PRIMARY KEY,                      -- account:<user name> | address:<ip> | device:<nonce>
    failures INTEGER NOT NULL,
    last_failure_at TEXT NOT NULL,
    blocked_until TEXT
);
CREATE INDEX sign_in_throttle_last_idx ON sign_in_throttle (last_failure_at);

-- Secrets the platform makes for itself, such as the key that signs device cookies.
CREATE TABLE platform_secrets (
    name TEXT PRIMARY KEY,
    secret TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- The lock-out is gone: its counters and locks with it.
DROP TABLE auth_failures;
ALTER TABLE users DROP COLUMN locked_until;
ALTER TABLE users DROP COLUMN failed_count;
