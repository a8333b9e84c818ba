-- hooknote's queue, version 1. Times are timestamptz; the caller's times
-- (due, received, expiry) are compared with the times it passes, leases
-- with the database's own clock.

-- One row per stored webhook: its body and what jobs show of it, shared by
-- its jobs, dead letters and digest entries; refs counts them, and the row
-- is deleted in the transaction that drops its last reference.
CREATE TABLE webhooks (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id  text        NOT NULL,
    event_id    text        NOT NULL,
    status      text        NOT NULL,
    query       text        NOT NULL,
    received_at timestamptz NOT NULL,
    body        bytea       NOT NULL,
    refs        integer     NOT NULL CHECK (refs >= 0)
);

-- Dedupe keys (webhook ids; event, status, rule and notifier of jobs) and
-- terminal marks, hashed: a key counts while expires_at is after the time
-- of the webhook that looks it up.
CREATE TABLE seen (
    key        bytea       PRIMARY KEY,
    expires_at timestamptz NOT NULL
);
CREATE INDEX seen_expires ON seen (expires_at);

-- Digests: open ones gather events (one open per rule, notifier and group);
-- a sent one belongs to the job that carries it until that job is gone.
CREATE TABLE digests (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule       text        NOT NULL,
    notifier   text        NOT NULL,
    grp        text        NOT NULL,
    quiet      interval    NOT NULL,
    max_wait   interval    NOT NULL,
    max_events integer     NOT NULL,
    extra      bytea,
    first_at   timestamptz NOT NULL,
    last_at    timestamptz NOT NULL,
    events     integer     NOT NULL DEFAULT 0,
    due_at     timestamptz NOT NULL,
    open       boolean     NOT NULL DEFAULT true,
    reason     text        NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX digests_open ON digests (rule, notifier, grp) WHERE open;
CREATE INDEX digests_due ON digests (due_at) WHERE open;

-- The events of a digest, one per event id, in order of joining (seq).
CREATE TABLE digest_events (
    digest   bigint NOT NULL REFERENCES digests ON DELETE CASCADE,
    event_id text   NOT NULL,
    hook     bigint NOT NULL REFERENCES webhooks,
    seq      bigint GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (digest, event_id)
);
CREATE INDEX digest_events_event ON digest_events (event_id);
CREATE INDEX digest_events_hook ON digest_events (hook);

-- Jobs, pending (dead_at null) or dead letters. A job of a webhook refers
-- to it (hook); a digest job to its digest. A leased job has a claim token
-- and lease_until, judged by the database's clock.
CREATE TABLE jobs (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hook        bigint      REFERENCES webhooks,
    digest      bigint      REFERENCES digests,
    rule        text        NOT NULL,
    notifier    text        NOT NULL,
    key         text        NOT NULL DEFAULT '',
    extra       bytea,
    first_at    timestamptz NOT NULL,
    next_at     timestamptz NOT NULL,
    attempts    integer     NOT NULL DEFAULT 0,
    last_error  text        NOT NULL DEFAULT '',
    dead_at     timestamptz,
    claim       uuid,
    lease_until timestamptz
);
CREATE INDEX jobs_due ON jobs (next_at, id) WHERE dead_at IS NULL;
CREATE INDEX jobs_notifier_due ON jobs (notifier, next_at, id) WHERE dead_at IS NULL;
CREATE INDEX jobs_key ON jobs (key, id) WHERE dead_at IS NULL AND key <> '';
CREATE INDEX jobs_dead ON jobs (dead_at, id) WHERE dead_at IS NOT NULL;
CREATE INDEX jobs_hook ON jobs (hook);
CREATE INDEX jobs_digest ON jobs (digest);

-- Live records: where a live notifier's message of a job Key is.
CREATE TABLE live (
    key        text        PRIMARY KEY,
    ref        bytea       NOT NULL,
    rank       integer     NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX live_expires ON live (expires_at);

-- Pace and pause per notifier, shared by every process.
CREATE TABLE pace (
    notifier     text PRIMARY KEY,
    next_slot    timestamptz,
    paused_until timestamptz
);
