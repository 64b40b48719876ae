-- 0007: the OpenID Provider (issue 4): its clients (idbind's platforms), its signing keys, its
-- short-lived artefacts (oidc-provider's adapter), the hosted verification flows, consents to
-- release statutory claims, and guardians of minors' accounts (Decree 147/2024 Art. 27).

-- One OpenID client per provider (client_id is public; the secret is sealed like every secret,
-- because client_secret_basic needs it back to compare). AAD: oidc_clients.sealed#id.
CREATE TABLE oidc_clients (
  id                         uuid        PRIMARY KEY REFERENCES providers (id),
  client_id                  text        NOT NULL UNIQUE,
  sealed                     bytea       NOT NULL,
  dek_version                integer     NOT NULL,
  redirect_uris              text[]      NOT NULL CHECK (cardinality(redirect_uris) BETWEEN 1 AND 20),
  require_par                boolean     NOT NULL DEFAULT false,
  token_endpoint_auth_method text        NOT NULL DEFAULT 'client_secret_basic'
                                         CHECK (token_endpoint_auth_method IN ('client_secret_basic', 'private_key_jwt')),
  jwks                       jsonb,
  refresh_tokens             boolean     NOT NULL DEFAULT false,
  created_at                 timestamptz NOT NULL DEFAULT now(),
  updated_at                 timestamptz NOT NULL DEFAULT now(),
  CHECK (token_endpoint_auth_method <> 'private_key_jwt' OR jwks IS NOT NULL)
);

-- ID token signing keys: the private JWK sealed (AAD oidc_signing_keys.sealed#id). `current`
-- signs; `previous` is still published in the JWKS so tokens signed before a rotation verify;
-- `retired` is no longer published.
CREATE TABLE oidc_signing_keys (
  id          uuid        PRIMARY KEY,
  kid         text        NOT NULL UNIQUE,
  alg         text        NOT NULL,
  public_jwk  jsonb       NOT NULL,
  sealed      bytea       NOT NULL,
  dek_version integer     NOT NULL,
  state       text        NOT NULL CHECK (state IN ('current', 'previous', 'retired')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  retired_at  timestamptz
);
CREATE UNIQUE INDEX oidc_signing_keys_one_current ON oidc_signing_keys ((true)) WHERE state = 'current';

-- oidc-provider's artefacts (sessions, interactions, codes, tokens, grants, PAR requests). They
-- hold internal ids and the platform's request parameters, never a personal field.
CREATE TABLE oidc_payloads (
  model       text        NOT NULL,
  id          text        NOT NULL,
  payload     jsonb       NOT NULL,
  grant_id    text,
  uid         text,
  user_code   text,
  expires_at  timestamptz,
  consumed_at timestamptz,
  PRIMARY KEY (model, id)
);
CREATE INDEX oidc_payloads_grant ON oidc_payloads (grant_id) WHERE grant_id IS NOT NULL;
CREATE INDEX oidc_payloads_uid ON oidc_payloads (uid) WHERE uid IS NOT NULL;
CREATE INDEX oidc_payloads_expiry ON oidc_payloads (expires_at) WHERE expires_at IS NOT NULL;

-- One hosted verification (the pages at /verify/<uid>): who verified, how, at which level, the
-- guardian of a minor, the consent, and the binding made. The number a person verified is kept
-- sealed (AAD hosted_flows.sealed#id) only for a statutory platform's `phone_number` claim, and
-- only for the flow's life.
CREATE TABLE hosted_flows (
  id                      uuid        PRIMARY KEY,
  uid                     text        NOT NULL UNIQUE,
  provider_id             uuid        NOT NULL REFERENCES providers (id),
  account_ref             text        NOT NULL CHECK (account_ref ~ '^[A-Za-z0-9._:-]{1,128}$'),
  min_level               text        NOT NULL CHECK (min_level IN ('low', 'substantial', 'high')),
  statutory_claims        text[]      NOT NULL DEFAULT '{}',
  stage                   text        NOT NULL CHECK (stage IN ('choose_method', 'phone_code', 'guardian_intro', 'consent', 'finished')),
  role                    text        NOT NULL DEFAULT 'subject' CHECK (role IN ('subject', 'guardian')),
  verification_id         uuid,
  subject_person_id       uuid        REFERENCES persons (id),
  subject_method          text        CHECK (subject_method IN ('phone', 'eid')),
  subject_level           text        CHECK (subject_level IN ('low', 'substantial', 'high')),
  subject_subscription_id uuid,
  guardian_person_id      uuid        REFERENCES persons (id),
  guardian_method         text        CHECK (guardian_method IN ('phone', 'eid')),
  consent_id              uuid,
  account_id              uuid        REFERENCES accounts (id),
  phone_hint              text, -- the last three digits of the number a code was sent to, for the page
  sealed                  bytea,
  dek_version             integer,
  redirect_url            text, -- where the browser goes once the flow is finished (oidc-provider's resume URL)
  error_code              text,
  error_detail            text,
  created_at              timestamptz NOT NULL DEFAULT now(),
  updated_at              timestamptz NOT NULL DEFAULT now(),
  expires_at              timestamptz NOT NULL
);
CREATE INDEX hosted_flows_expiry ON hosted_flows (expires_at);

-- A person's consent to release statutory claims (name, birth date, phone number) to one
-- platform, with the purpose and legal basis shown (issue 4 "Claims"). Withdrawal stops future
-- releases; it cannot recall what was released.
CREATE TABLE claim_consents (
  id           uuid        PRIMARY KEY,
  person_id    uuid        NOT NULL REFERENCES persons (id),
  provider_id  uuid        NOT NULL REFERENCES providers (id),
  claims       text[]      NOT NULL,
  purpose      text        NOT NULL,
  legal_basis  text        NOT NULL,
  granted_at   timestamptz NOT NULL DEFAULT now(),
  withdrawn_at timestamptz
);
CREATE INDEX claim_consents_person ON claim_consents (person_id, provider_id);

-- A minor's account (Decree 147/2024 Art. 27): bound with a guardian's consent. The platform
-- learns `minor: true`, never who the guardian is. `minor` turns false (and `account.minor_ended`
-- is sent) when the person turns 16; the guardian stays recorded for the person's history.
ALTER TABLE accounts
  ADD COLUMN minor               boolean     NOT NULL DEFAULT false,
  ADD COLUMN guardian_person_id  uuid        REFERENCES persons (id),
  ADD COLUMN guardian_consent_at timestamptz;
CREATE INDEX accounts_minor ON accounts (id) WHERE minor;

-- The account's reason for its latest change gains `minor_ended` (the person turned 16).
ALTER TABLE accounts DROP CONSTRAINT accounts_status_reason_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_status_reason_check CHECK (status_reason IN
  ('verified', 'sim_changed', 'terminated', 'holder_changed', 'ported_out', 'deceased', 'account_closed', 'minor_ended'));
