-- 0012: the person's own view, the citizen portal (issue 5 "The person's own view"; DESIGN.md
-- invariant 4). The portal is an internal OpenID client of the hub's own provider, of provider
-- kind `portal`: never listed among platforms, never given an API key, never bound to an account.
-- Nothing here holds a personal field in clear: sessions are found by the SHA-256 of a random
-- 256-bit token, reports name a subscription and a person by reference only.

ALTER TABLE providers DROP CONSTRAINT providers_kind_check;
ALTER TABLE providers ADD CONSTRAINT providers_kind_check CHECK (kind IN ('platform', 'carrier', 'registrar', 'portal'));
-- One portal per hub.
CREATE UNIQUE INDEX providers_one_portal ON providers ((true)) WHERE kind = 'portal';

-- An account the person unbound themselves from their view (the platform gets the usual
-- account.unbound event, which never carries a reason).
ALTER TABLE accounts DROP CONSTRAINT accounts_status_reason_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_status_reason_check CHECK (status_reason IN
  ('verified', 'sim_changed', 'terminated', 'holder_changed', 'ported_out', 'deceased', 'account_closed', 'minor_ended', 'unbound_by_person'));

-- A sign-in to the portal in progress (the relying party's side of PAR + PKCE): taken once by
-- the callback (DELETE ... RETURNING), gone after 10 minutes. The id is held by the browser in
-- an HttpOnly cookie; only its SHA-256 is stored.
CREATE TABLE citizen_sign_ins (
  id_hash       bytea       PRIMARY KEY,
  code_verifier text        NOT NULL,
  state         text        NOT NULL,
  nonce         text        NOT NULL,
  level         text        NOT NULL CHECK (level IN ('low', 'substantial')),
  expires_at    timestamptz NOT NULL
);
CREATE INDEX citizen_sign_ins_expiry ON citizen_sign_ins (expires_at);

-- A signed-in person: 30 minutes idle, 2 hours at most (checked and touched in one UPDATE).
CREATE TABLE citizen_sessions (
  id           uuid        PRIMARY KEY,
  token_hash   bytea       NOT NULL UNIQUE,
  person_id    uuid        NOT NULL REFERENCES persons (id),
  level        text        NOT NULL CHECK (level IN ('low', 'substantial', 'high')),
  method       text        NOT NULL CHECK (method IN ('phone', 'eid')),
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL
);
CREATE INDEX citizen_sessions_expiry ON citizen_sessions (expires_at);

-- A subscription in the person's name that they do not recognise (issue 5: "the carrier receives
-- it as a REPORTED_BY_HOLDER entry of its action list"). Listed to the carrier while the
-- subscription is live and still held by the person who reported it; one open report each.
CREATE TABLE subscription_reports (
  id              uuid        PRIMARY KEY,
  subscription_id uuid        NOT NULL REFERENCES subscriptions (id),
  person_id       uuid        NOT NULL REFERENCES persons (id),
  carrier_id      integer     NOT NULL REFERENCES carriers (id),
  reported_at     timestamptz NOT NULL DEFAULT now(),
  UNIQUE (subscription_id, person_id)
);
CREATE INDEX subscription_reports_carrier ON subscription_reports (carrier_id, subscription_id);
