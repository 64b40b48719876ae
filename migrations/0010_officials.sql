-- 0010: officials and authorities of the authority console (issue 5 "Officials and the authority
-- console"; DESIGN.md invariant 3). Officials sign in with passkeys (WebAuthn) enrolled through a
-- one-time invitation; every official action is an audit record.
--
-- An official's display name is a work name (rank and name as on a warrant), not a citizen's
-- personal data; it is kept minimal and in the clear because the console and the audit show it.

CREATE TABLE authorities (
  id          uuid        PRIMARY KEY,
  name        text        NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
  kind        text        NOT NULL CHECK (kind IN ('police', 'procuracy', 'court', 'regulator')),
  -- Seeded by demo mode (the only ones the demo sign-in route accepts).
  demo        boolean     NOT NULL DEFAULT false,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE officials (
  id              uuid        PRIMARY KEY,
  authority_id    uuid        NOT NULL REFERENCES authorities (id),
  display_name    text        NOT NULL CHECK (length(display_name) BETWEEN 1 AND 100),
  roles           text[]      NOT NULL CHECK (roles <@ ARRAY['requester', 'approver', 'auditor']::text[] AND cardinality(roles) >= 1),
  status          text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'deactivated')),
  created_at      timestamptz NOT NULL DEFAULT now(),
  deactivated_at  timestamptz,
  CHECK ((status = 'deactivated') = (deactivated_at IS NOT NULL))
);
CREATE INDEX officials_authority ON officials (authority_id);

-- WebAuthn credentials (W3C WebAuthn Level 3 6.1): several per official.
CREATE TABLE official_passkeys (
  credential_id  text        PRIMARY KEY,
  official_id    uuid        NOT NULL REFERENCES officials (id),
  public_key     bytea       NOT NULL,
  counter        bigint      NOT NULL DEFAULT 0,
  transports     text[]      NOT NULL DEFAULT '{}',
  created_at     timestamptz NOT NULL DEFAULT now(),
  last_used_at   timestamptz
);
CREATE INDEX official_passkeys_official ON official_passkeys (official_id);

-- One-time enrolment links. The token itself is never stored: token_hash is HMAC-SHA256 under a
-- key derived from the key ring's blind-index key (version blind_index_version), so a copy of the
-- database cannot enrol a passkey. Consumed by one conditional UPDATE (used_at IS NULL, not expired).
CREATE TABLE official_invitations (
  id                   uuid        PRIMARY KEY,
  official_id          uuid        NOT NULL REFERENCES officials (id),
  token_hash           bytea       NOT NULL UNIQUE,
  blind_index_version  integer     NOT NULL,
  created_at           timestamptz NOT NULL DEFAULT now(),
  expires_at           timestamptz NOT NULL,
  used_at              timestamptz
);
CREATE INDEX official_invitations_official ON official_invitations (official_id);

-- WebAuthn challenges, single use, 5 minutes (sign-in, or enrolment of one invitation).
CREATE TABLE official_challenges (
  challenge      text        PRIMARY KEY,
  purpose        text        NOT NULL CHECK (purpose IN ('sign_in', 'enrol')),
  invitation_id  uuid        REFERENCES official_invitations (id),
  expires_at     timestamptz NOT NULL,
  CHECK ((purpose = 'enrol') = (invitation_id IS NOT NULL))
);
CREATE INDEX official_challenges_expiry ON official_challenges (expires_at);

-- Console sessions (cookie idbind_official): SHA-256 of the token only; 8 hours idle, 12 absolute.
CREATE TABLE official_sessions (
  token_hash           bytea       PRIMARY KEY,
  official_id          uuid        NOT NULL REFERENCES officials (id),
  created_at           timestamptz NOT NULL DEFAULT now(),
  expires_at           timestamptz NOT NULL,
  absolute_expires_at  timestamptz NOT NULL
);
CREATE INDEX official_sessions_official ON official_sessions (official_id);

-- Every official action (sign-in, enrolment, deactivation, and each disclosure stage through
-- recordOfficialAction). Append-only.
CREATE TABLE official_audit (
  id            bigserial   PRIMARY KEY,
  official_id   uuid        NOT NULL REFERENCES officials (id),
  authority_id  uuid        NOT NULL REFERENCES authorities (id),
  action        text        NOT NULL,
  subject       text,
  detail        jsonb       NOT NULL DEFAULT '{}',
  at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX official_audit_official ON official_audit (official_id, at);
CREATE INDEX official_audit_authority ON official_audit (authority_id, at);
