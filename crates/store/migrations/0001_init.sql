-- One schema for SQLite and PostgreSQL: only TEXT and BIGINT columns (times are milliseconds
-- since the Unix epoch, flags are 0/1), ids are UUID text made by the application.

CREATE TABLE orgs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_ms BIGINT NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    disabled BIGINT NOT NULL DEFAULT 0,
    created_ms BIGINT NOT NULL
);

-- Browser sessions and API tokens; only the SHA-256 of the secret is kept.
CREATE TABLE credentials (
    secret_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    kind TEXT NOT NULL,
    label TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    revoked BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE orders (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    created_by TEXT NOT NULL REFERENCES users(id),
    state TEXT NOT NULL,
    prescription TEXT NOT NULL,
    patient_key TEXT NOT NULL,
    current_version BIGINT NOT NULL DEFAULT 0,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE INDEX orders_org ON orders(org_id, created_ms);

-- Files of an order: `original_sha256` and `sop_uid` are what the client sent (used to skip
-- files already held), `stored_key` is the de-identified file in object storage.
CREATE TABLE order_files (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES orders(id),
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    sop_uid TEXT NOT NULL,
    original_sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    received BIGINT NOT NULL DEFAULT 0,
    state TEXT NOT NULL,
    stored_key TEXT NOT NULL DEFAULT '',
    stored_sha256 TEXT NOT NULL DEFAULT '',
    deid_report TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT '',
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    UNIQUE (order_id, original_sha256)
);

-- The durable job queue: a job is leased by one worker at a time; a lease that is not renewed
-- (worker killed) expires and the job is claimed again.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES orders(id),
    version BIGINT NOT NULL,
    params TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    run_after_ms BIGINT NOT NULL,
    lease_owner TEXT NOT NULL DEFAULT '',
    lease_until_ms BIGINT NOT NULL DEFAULT 0,
    cancel_requested BIGINT NOT NULL DEFAULT 0,
    progress_permille BIGINT NOT NULL DEFAULT 0,
    stage TEXT NOT NULL DEFAULT '',
    eta_ms BIGINT NOT NULL DEFAULT -1,
    error TEXT NOT NULL DEFAULT '',
    created_ms BIGINT NOT NULL,
    started_ms BIGINT NOT NULL DEFAULT 0,
    finished_ms BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX jobs_claim ON jobs(state, run_after_ms);
CREATE INDEX jobs_order ON jobs(order_id);

-- Each finished job makes one version of the order's model; old versions stay downloadable.
CREATE TABLE versions (
    order_id TEXT NOT NULL REFERENCES orders(id),
    version BIGINT NOT NULL,
    job_id TEXT NOT NULL,
    params TEXT NOT NULL,
    manifest TEXT NOT NULL,
    summary TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (order_id, version)
);

-- Quality gates passed (or declined) per order version, and who passed them.
CREATE TABLE gates (
    order_id TEXT NOT NULL REFERENCES orders(id),
    version BIGINT NOT NULL,
    gate TEXT NOT NULL,
    user_id TEXT NOT NULL,
    role TEXT NOT NULL,
    comment TEXT NOT NULL,
    data TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    PRIMARY KEY (order_id, version, gate)
);

CREATE TABLE annotations (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES orders(id),
    version BIGINT NOT NULL,
    user_id TEXT NOT NULL,
    text TEXT NOT NULL,
    position TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);

-- Hash-chained audit trail: one chain per order (chain = order id) and one for everything
-- else (chain = 'global'); see medprint-audit for the hash.
CREATE TABLE audit (
    chain TEXT NOT NULL,
    seq BIGINT NOT NULL,
    at_ms BIGINT NOT NULL,
    actor TEXT NOT NULL,
    org_id TEXT NOT NULL,
    action TEXT NOT NULL,
    order_id TEXT NOT NULL,
    input_hash TEXT NOT NULL,
    output_hash TEXT NOT NULL,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (chain, seq)
);

-- The last entry of each audit chain; appending updates this row first, which serialises
-- concurrent appends to one chain on PostgreSQL (the row lock) as on SQLite.
CREATE TABLE audit_heads (
    chain TEXT PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
