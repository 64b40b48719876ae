-- 0002: platforms verify accounts by phone (issue 3): providers and their credentials, verification
-- sessions with one-time codes, accounts bound to persons under per-provider pseudonyms, the
-- transactional outbox of binding events and its webhook deliveries, idempotency keys and rate
-- limit counters. No column here holds a personal field in clear: numbers appear only as blind
-- indexes, codes only as HMACs, secrets only sealed or hashed.

-- A platform, carrier or registrar (DESIGN.md "Core model": Provider).
CREATE TABLE providers (
  id                       uuid        PRIMARY KEY,
  name                     text        NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 60),
  kind                     text        NOT NULL CHECK (kind IN ('platform', 'carrier', 'registrar')),
  carrier_id               integer     REFERENCES carriers (id),
  legal_profile            text        NOT NULL DEFAULT 'minimal' CHECK (legal_profile IN ('minimal', 'statutory')),
  webhook_url              text,
  verifications_per_minute integer     NOT NULL DEFAULT 600 CHECK (verifications_per_minute > 0),
  sms_per_day              integer     NOT NULL DEFAULT 100000 CHECK (sms_per_day > 0),
  accounts_per_person      integer     NOT NULL DEFAULT 5 CHECK (accounts_per_person > 0),
  status                   text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  created_at               timestamptz NOT NULL DEFAULT now(),
  updated_at               timestamptz NOT NULL DEFAULT now(),
  CHECK ((kind = 'carrier') = (carrier_id IS NOT NULL))
);
CREATE UNIQUE INDEX providers_one_per_carrier ON providers (carrier_id) WHERE carrier_id IS NOT NULL;

-- API keys: 256 random bits with a readable prefix, shown once, stored as SHA-256 (a random
-- 256-bit secret needs no slow hash). Rotation keeps the old key until expires_at (overlap).
CREATE TABLE provider_api_keys (
  id          uuid        PRIMARY KEY,
  provider_id uuid        NOT NULL REFERENCES providers (id),
  key_hash    bytea       NOT NULL UNIQUE,
  hint        text        NOT NULL, -- the prefix and the last four characters, for the console
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz
);
CREATE INDEX provider_api_keys_provider ON provider_api_keys (provider_id);

-- Webhook signing secrets (Standard Webhooks `whsec_`), sealed with the data key because the hub
-- must read them to sign. Rotation keeps the old one signing too until expires_at.
CREATE TABLE webhook_secrets (
  id          uuid        PRIMARY KEY,
  provider_id uuid        NOT NULL REFERENCES providers (id),
  sealed      bytea       NOT NULL,
  dek_version integer     NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz
);
CREATE INDEX webhook_secrets_provider ON webhook_secrets (provider_id);

-- One pseudonym per (person, provider): 128 random bits, derived from nothing (DESIGN.md
-- invariant 1), so unaffected by key rotation; reversible only through this table.
CREATE TABLE pseudonyms (
  person_id   uuid        NOT NULL REFERENCES persons (id),
  provider_id uuid        NOT NULL REFERENCES providers (id),
  pseudonym   text        NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (person_id, provider_id),
  UNIQUE (provider_id, pseudonym)
);

-- A provider's account and its binding to a person (DESIGN.md "Core model": Resource, Binding).
-- status 'unbound' is an account the platform closed; the API shows it as `unverified`.
CREATE TABLE accounts (
  id              uuid        PRIMARY KEY,
  provider_id     uuid        NOT NULL REFERENCES providers (id),
  account_ref     text        NOT NULL CHECK (account_ref ~ '^[A-Za-z0-9._:-]{1,128}$'),
  person_id       uuid        REFERENCES persons (id),
  subscription_id uuid        REFERENCES subscriptions (id),
  method          text        CHECK (method IN ('phone', 'eid', 'chip')),
  level           text        CHECK (level IN ('low', 'substantial', 'high')),
  status          text        NOT NULL CHECK (status IN ('verified', 'needs_reverification', 'revoked', 'unbound')),
  -- Why the status changed; for the person's own view and the regulator, never for the platform.
  status_reason   text        CHECK (status_reason IN ('verified', 'sim_changed', 'terminated', 'holder_changed', 'ported_out', 'deceased', 'account_closed')),
  sequence        bigint      NOT NULL DEFAULT 1,
  verified_at     timestamptz,
  status_since    timestamptz NOT NULL DEFAULT now(),
  created_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (provider_id, account_ref)
);
CREATE INDEX accounts_person ON accounts (person_id, provider_id) WHERE status IN ('verified', 'needs_reverification');
CREATE INDEX accounts_subscription ON accounts (subscription_id) WHERE status IN ('verified', 'needs_reverification');

-- Every change of an account's binding, with its internal reason (issue 5 shows them to the person).
CREATE TABLE account_changes (
  id         bigserial   PRIMARY KEY,
  account_id uuid        NOT NULL REFERENCES accounts (id),
  person_id  uuid,
  status     text        NOT NULL,
  reason     text        NOT NULL,
  sequence   bigint      NOT NULL,
  at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX account_changes_account ON account_changes (account_id, sequence);
CREATE INDEX account_changes_person ON account_changes (person_id, at) WHERE person_id IS NOT NULL;

-- One attempt to bind an account (DESIGN.md "Core model": Verification). The code is stored only
-- as an HMAC under a versioned key; attempts are counted before the check and the code consumed
-- by one conditional update (ory/kratos persister_code.go).
CREATE TABLE verifications (
  id               uuid        PRIMARY KEY,
  provider_id      uuid        NOT NULL REFERENCES providers (id),
  account_ref      text        NOT NULL,
  method           text        NOT NULL DEFAULT 'phone' CHECK (method IN ('phone', 'eid', 'chip')),
  msisdn_bidx      bytea,
  bidx_version     integer,
  number_prefix    text,       -- +84 and 3 digits: the network range, for the SMS-pumping statistics
  sealed           bytea,      -- the number (E.164), sealed, kept only while a code may be resent; NULL once completed
  dek_version      integer,
  subscription_id  uuid        REFERENCES subscriptions (id),
  person_id        uuid        REFERENCES persons (id),
  status           text        NOT NULL CHECK (status IN ('code_sent', 'verified', 'failed', 'expired', 'guardian_required')),
  failure          text,       -- wrong_code_limit, expired, not_eligible_at_confirm, guardian_required
  code_hmac        bytea,
  code_key_version integer,
  code_expires_at  timestamptz,
  attempts         integer     NOT NULL DEFAULT 0,
  sends            integer     NOT NULL DEFAULT 1,
  last_sent_at     timestamptz,
  consumed_at      timestamptz,
  account_id       uuid        REFERENCES accounts (id),
  created_at       timestamptz NOT NULL DEFAULT now(),
  completed_at     timestamptz
);
CREATE INDEX verifications_provider ON verifications (provider_id, created_at);

-- Idempotency keys of provider writes (DESIGN.md "HTTP"): the first request's answer is kept and
-- replayed for a retry with the same key and the same body.
CREATE TABLE idempotency_keys (
  provider_id  uuid        NOT NULL REFERENCES providers (id),
  key          text        NOT NULL,
  route        text        NOT NULL,
  request_hash bytea       NOT NULL,
  status_code  integer,
  response     jsonb,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (provider_id, key)
);
CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at);

-- Fixed-window counters for rate limits and budgets. Buckets never hold a number in clear: a
-- number's bucket is named by its blind index.
CREATE TABLE rate_counters (
  bucket       text        NOT NULL,
  window_start timestamptz NOT NULL,
  count        integer     NOT NULL,
  PRIMARY KEY (bucket, window_start)
);

-- Counts of verification outcomes per provider and day. `reason` holds the precise eligibility
-- reason (internal statistics only: a platform sees them summed as not_eligible).
CREATE TABLE verification_stats (
  provider_id uuid    NOT NULL REFERENCES providers (id),
  day         date    NOT NULL,
  outcome     text    NOT NULL,
  reason      text    NOT NULL DEFAULT '',
  count       bigint  NOT NULL,
  PRIMARY KEY (provider_id, day, outcome, reason)
);

-- Codes sent and confirmed per number prefix and hour, for the SMS-pumping alert.
CREATE TABLE sms_prefix_stats (
  prefix    text        NOT NULL,
  hour      timestamptz NOT NULL,
  sent      bigint      NOT NULL DEFAULT 0,
  confirmed bigint      NOT NULL DEFAULT 0,
  PRIMARY KEY (prefix, hour)
);

-- Demo mode's SMS outbox (issue 3 "SMS gateway"): the message sealed, found by the number's
-- blind index. Never written outside demo mode.
CREATE TABLE sms_outbox (
  id           uuid        PRIMARY KEY,
  to_bidx      bytea       NOT NULL,
  bidx_version integer     NOT NULL,
  sealed       bytea       NOT NULL,
  dek_version  integer     NOT NULL,
  sent_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sms_outbox_to ON sms_outbox (to_bidx, sent_at);

-- The transactional outbox (DESIGN.md invariant 6): an event is written in the transaction of
-- the change it reports; its payload is exactly what the provider may see (invariant 1).
CREATE TABLE events (
  id          uuid        PRIMARY KEY,
  provider_id uuid        NOT NULL REFERENCES providers (id),
  account_id  uuid        REFERENCES accounts (id),
  type        text        NOT NULL,
  payload     jsonb       NOT NULL,
  occurred_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_provider ON events (provider_id, occurred_at);

-- One delivery per event to the provider's webhook: retried with backoff, then dead-lettered.
CREATE TABLE webhook_deliveries (
  event_id         uuid        PRIMARY KEY REFERENCES events (id),
  provider_id      uuid        NOT NULL REFERENCES providers (id),
  status           text        NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
  attempts         integer     NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  last_attempt_at  timestamptz,
  last_status_code integer,
  last_error       text,
  delivered_at     timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_provider ON webhook_deliveries (provider_id, created_at);

-- The delivery log: every attempt, its answer and duration.
CREATE TABLE webhook_attempts (
  id          bigserial   PRIMARY KEY,
  event_id    uuid        NOT NULL REFERENCES events (id),
  provider_id uuid        NOT NULL REFERENCES providers (id),
  attempt     integer     NOT NULL,
  status_code integer,
  error       text,
  duration_ms integer     NOT NULL,
  at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_attempts_provider ON webhook_attempts (provider_id, at);

-- Carriers' uploads over the API (issue 3 "Carriers use the API too"), run as jobs with progress.
CREATE TABLE carrier_jobs (
  id            uuid        PRIMARY KEY,
  provider_id   uuid        NOT NULL REFERENCES providers (id),
  kind          text        NOT NULL CHECK (kind IN ('subscriptions', 'subscription_events')),
  status        text        NOT NULL CHECK (status IN ('queued', 'running', 'completed', 'failed')),
  bytes_total   bigint      NOT NULL,
  bytes_done    bigint      NOT NULL DEFAULT 0,
  import_run_id uuid,
  summary       jsonb,
  error         text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  finished_at   timestamptz
);
CREATE INDEX carrier_jobs_provider ON carrier_jobs (provider_id, created_at);
