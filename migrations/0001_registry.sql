-- 0001: the registries (issue 2). Every personal field is sealed (src/kernel/crypto/envelope.ts);
-- lookups go through keyed blind indexes (HMAC-SHA256, src/kernel/crypto/blind-index.ts).
-- Plain columns hold only what cannot identify a person without the keys: statuses, channels,
-- dates of registration, key versions.

-- Key hierarchy (DESIGN.md invariant 2). Master keys live outside the database and wrap these.
CREATE TABLE key_versions (
  purpose       text        NOT NULL CHECK (purpose IN ('data', 'blind_index')),
  version       integer     NOT NULL CHECK (version > 0 AND version < 65536),
  wrapped       bytea,      -- NULL once retired: the key is destroyed
  master_key_id text,
  state         text        NOT NULL CHECK (state IN ('current', 'previous', 'retired')),
  created_at    timestamptz NOT NULL DEFAULT now(),
  retired_at    timestamptz,
  PRIMARY KEY (purpose, version),
  CHECK ((state = 'retired') = (wrapped IS NULL))
);
CREATE UNIQUE INDEX key_versions_one_current ON key_versions (purpose) WHERE state = 'current';

CREATE TABLE carriers (
  id         serial      PRIMARY KEY,
  slug       text        NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,31}$'),
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Population registry. sealed = personal_id, full_name, birth_date, sex, died_on, guardian_personal_ids.
CREATE TABLE persons (
  id            uuid        PRIMARY KEY,
  pid_bidx      bytea       NOT NULL,
  match_bidx    bytea       NOT NULL, -- HMAC of normalised name + birth date (reconciliation)
  digest        bytea       NOT NULL, -- HMAC of the canonical row ("unchanged" without decrypting)
  bidx_version  integer     NOT NULL,
  sealed        bytea       NOT NULL,
  dek_version   integer     NOT NULL,
  status        text        NOT NULL CHECK (status IN ('alive', 'deceased')),
  import_run_id uuid,
  import_line   bigint,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX persons_pid_bidx ON persons (pid_bidx);

-- Carriers' subscriber registries. sealed = msisdn (E.164), holder_personal_id, holder_full_name,
-- holder_birth_date.
CREATE TABLE subscriptions (
  id                uuid        PRIMARY KEY,
  carrier_id        integer     NOT NULL REFERENCES carriers (id),
  msisdn_bidx       bytea       NOT NULL,
  holder_bidx       bytea,      -- blind index of the holder's personal ID; NULL: no holder recorded
  holder_match_bidx bytea,      -- HMAC of the holder's normalised name + birth date as the carrier has them
  digest            bytea       NOT NULL,
  bidx_version      integer     NOT NULL,
  sealed            bytea       NOT NULL,
  dek_version       integer     NOT NULL,
  channel           text        NOT NULL CHECK (channel IN ('store', 'online', 'video', 'vneid')),
  registered_at     timestamptz NOT NULL,
  status            text        NOT NULL CHECK (status IN ('active', 'blocked_outgoing', 'blocked_both', 'terminated')),
  sim_changed_at    timestamptz,
  device_changed_at timestamptz,
  ended_at          timestamptz,
  ended_reason      text        CHECK (ended_reason IN ('terminated', 'holder_changed', 'ported_out')),
  last_event_at     timestamptz,
  import_run_id     uuid,
  import_line       bigint,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now()
);
-- All subscriptions ever held of a number at a carrier (history, idempotent re-imports) ...
CREATE INDEX subscriptions_number ON subscriptions (carrier_id, msisdn_bidx);
-- ... and at most one that is not terminated.
CREATE UNIQUE INDEX subscriptions_live_number ON subscriptions (carrier_id, msisdn_bidx) WHERE status <> 'terminated';
CREATE INDEX subscriptions_holder ON subscriptions (holder_bidx) WHERE status <> 'terminated';

-- Delta events from carriers; (carrier, event_id) makes a re-sent event a no-op.
CREATE TABLE subscription_events (
  id              bigserial   PRIMARY KEY,
  carrier_id      integer     NOT NULL REFERENCES carriers (id),
  event_id        text        NOT NULL,
  type            text        NOT NULL,
  at              timestamptz NOT NULL,
  msisdn_bidx     bytea       NOT NULL,
  bidx_version    integer     NOT NULL,
  digest          bytea       NOT NULL,
  sealed          bytea,      -- the event's personal fields, when it carries any
  dek_version     integer,
  subscription_id uuid        REFERENCES subscriptions (id),
  outcome         text        NOT NULL CHECK (outcome IN ('applied', 'stale', 'rejected')),
  reject_code     text,
  import_run_id   uuid,
  recorded_at     timestamptz NOT NULL DEFAULT now(),
  UNIQUE (carrier_id, event_id)
);

-- Imports: resumable from the last committed batch (checkpoint_line), every counter committed
-- with the rows it counts.
CREATE TABLE import_runs (
  id              uuid        PRIMARY KEY,
  kind            text        NOT NULL CHECK (kind IN ('population', 'subscriptions', 'subscription_events')),
  carrier_id      integer     REFERENCES carriers (id),
  source_name     text        NOT NULL,
  source_sha256   text        NOT NULL,
  source_bytes    bigint      NOT NULL,
  status          text        NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'abandoned')),
  checkpoint_line bigint      NOT NULL DEFAULT 0,
  rows_read       bigint      NOT NULL DEFAULT 0,
  accepted        bigint      NOT NULL DEFAULT 0,
  unchanged       bigint      NOT NULL DEFAULT 0,
  rejected        bigint      NOT NULL DEFAULT 0,
  error           text,
  started_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  finished_at     timestamptz
);
CREATE INDEX import_runs_resume ON import_runs (kind, carrier_id, source_sha256) WHERE status IN ('running', 'failed');

-- Rejected rows: line number, field and reason code; never a value (invariant 2).
CREATE TABLE import_rejects (
  run_id uuid   NOT NULL REFERENCES import_runs (id) ON DELETE CASCADE,
  line   bigint NOT NULL,
  field  text   NOT NULL,
  code   text   NOT NULL,
  PRIMARY KEY (run_id, line)
);

-- Keys of rows a run found unchanged (rows it inserted or changed carry import_run_id), so a
-- duplicate key later in the same file is recognised; emptied when the run completes.
CREATE TABLE import_seen (
  run_id uuid  NOT NULL,
  key    bytea NOT NULL,
  PRIMARY KEY (run_id, key)
);

CREATE TABLE reconciliation_runs (
  id            uuid        PRIMARY KEY,
  status        text        NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
  subscriptions bigint,
  summary       jsonb,
  error         text,
  started_at    timestamptz NOT NULL DEFAULT now(),
  finished_at   timestamptz
);

CREATE TABLE reconciliation_results (
  run_id          uuid    NOT NULL REFERENCES reconciliation_runs (id) ON DELETE CASCADE,
  subscription_id uuid    NOT NULL,
  carrier_id      integer NOT NULL,
  category        text    NOT NULL CHECK (category IN ('NO_HOLDER', 'HOLDER_NOT_FOUND', 'HOLDER_DECEASED', 'HOLDER_DATA_MISMATCH', 'ONLINE_BEYOND_LIMIT')),
  PRIMARY KEY (run_id, subscription_id)
);
CREATE INDEX reconciliation_results_by_carrier ON reconciliation_results (run_id, carrier_id, category);

-- Access records (DESIGN.md invariant 4). A batch job that decrypts records one entry for the
-- run; a read about one person records one entry for that person (issue 5 shows them).
CREATE TABLE access_records (
  id        bigserial   PRIMARY KEY,
  person_id uuid        REFERENCES persons (id),
  purpose   text        NOT NULL,
  actor     text        NOT NULL,
  run_id    uuid,
  detail    jsonb       NOT NULL DEFAULT '{}',
  at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX access_records_person ON access_records (person_id, at) WHERE person_id IS NOT NULL;
