-- 0008: the upstream national eID broker (issue 4 "National eID broker"; src/oidc/eid/). One row
-- per login started at the upstream, usable once (consumed by one conditional UPDATE), for 10
-- minutes. Only hashes are stored: the state sent upstream and the browser-binding cookie, both
-- 256-bit random values, as SHA-256. The PKCE code verifier and the nonce are derived from the
-- cookie and the state (eid-broker.ts), so nothing here can redeem an authorization code, and
-- nothing here is sealed (no key rotation work).
CREATE TABLE eid_logins (
  state_hash   bytea       PRIMARY KEY,
  browser_hash bytea       NOT NULL,
  flow_uid     text        NOT NULL CHECK (length(flow_uid) BETWEEN 1 AND 128),
  role         text        NOT NULL CHECK (role IN ('subject', 'guardian')),
  min_level    text        NOT NULL CHECK (min_level IN ('low', 'substantial', 'high')),
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  consumed_at  timestamptz
);
CREATE INDEX eid_logins_expiry ON eid_logins (expires_at);
