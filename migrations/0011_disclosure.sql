-- Disclosure requests (issue 5 "Disclosure requests"; DESIGN.md invariant 3): one named account,
-- legal basis, case reference, statement of reasons, requesting authority and official (the fields
-- of EU DSA Art. 10 orders); approved by an approver of another authority; released only once a
-- signed checkpoint of the transparency log covers the approval; the person notified at release
-- or when a court's seal expires.
--
-- Nothing here is the person's identity: the account and person are references, and the
-- identity is decrypted from the registry at each view of a release (an access record each).

CREATE TABLE disclosure_requests (
  id                     uuid        PRIMARY KEY,
  provider_id            uuid        NOT NULL REFERENCES providers (id),
  account_id             uuid        NOT NULL REFERENCES accounts (id),
  -- The person bound to the account when the request was filed (internal; never shown to the requester before release).
  person_id              uuid        NOT NULL REFERENCES persons (id),
  pseudonym              text        NOT NULL,
  account_ref            text        NOT NULL,
  legal_basis            text        NOT NULL CHECK (length(legal_basis) BETWEEN 3 AND 500),
  case_reference         text        NOT NULL CHECK (length(case_reference) BETWEEN 1 AND 200),
  reasons                text        NOT NULL CHECK (length(reasons) BETWEEN 20 AND 5000),
  asks                   text[]      NOT NULL CHECK (asks <@ ARRAY['identity', 'history']::text[] AND cardinality(asks) >= 1),
  emergency              boolean     NOT NULL DEFAULT false,
  seal_until             date,
  requester_official_id  uuid        NOT NULL REFERENCES officials (id),
  requester_authority_id uuid        NOT NULL REFERENCES authorities (id),
  status                 text        NOT NULL CHECK (status IN ('submitted', 'approved', 'rejected', 'released', 'expired')),
  approver_official_id   uuid        REFERENCES officials (id),
  approver_authority_id  uuid        REFERENCES authorities (id),
  approved_at            timestamptz,
  rejection_reasons      text,
  decided_at             timestamptz,
  released_at            timestamptz,
  -- Emergency: the released identity stops being shown to the requester after 72 hours.
  release_visible_until  timestamptz,
  -- Emergency: a second approver's retrospective review is due 48 hours after the approval.
  review_due_at          timestamptz,
  reviewed_at            timestamptz,
  reviewer_official_id   uuid        REFERENCES officials (id),
  review_outcome         text        CHECK (review_outcome IN ('upheld', 'not_upheld')),
  review_reasons         text,
  person_notified_at     timestamptz,
  unsealed_at            timestamptz,
  expires_at             timestamptz NOT NULL,
  created_at             timestamptz NOT NULL DEFAULT now(),
  CHECK (NOT emergency OR asks = ARRAY['identity']::text[])
);
CREATE INDEX disclosure_requests_authority ON disclosure_requests (requester_authority_id, created_at);
CREATE INDEX disclosure_requests_official_day ON disclosure_requests (requester_official_id, created_at);
CREATE INDEX disclosure_requests_person ON disclosure_requests (person_id);
CREATE INDEX disclosure_requests_open ON disclosure_requests (status, expires_at) WHERE status IN ('submitted', 'approved');
CREATE INDEX disclosure_requests_sealed ON disclosure_requests (seal_until) WHERE status = 'released' AND unsealed_at IS NULL AND seal_until IS NOT NULL;

-- Each stage of a request as a transparency-log entry, with the commitment's opening (salt and
-- canonical record) that the proof bundle hands to the person and the requesting authority.
CREATE TABLE disclosure_stages (
  request_id   uuid        NOT NULL REFERENCES disclosure_requests (id),
  seq          integer     NOT NULL,
  stage        text        NOT NULL CHECK (stage IN ('submitted', 'approved', 'rejected', 'released', 'seal_extended', 'unsealed', 'reviewed')),
  log_index    bigint      NOT NULL UNIQUE,
  salt         text        NOT NULL,
  record       jsonb       NOT NULL,
  commitment   text        NOT NULL,
  official_id  uuid        REFERENCES officials (id),
  at           timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (request_id, seq)
);

-- News for the person's view (issue 5: "The person is notified (in their view, and by SMS ...)").
CREATE TABLE person_notifications (
  id          bigserial   PRIMARY KEY,
  person_id   uuid        NOT NULL REFERENCES persons (id),
  kind        text        NOT NULL CHECK (kind IN ('disclosure_released', 'disclosure_unsealed')),
  request_id  uuid        REFERENCES disclosure_requests (id),
  sms_sent    boolean     NOT NULL DEFAULT false,
  created_at  timestamptz NOT NULL DEFAULT now(),
  read_at     timestamptz
);
CREATE INDEX person_notifications_person ON person_notifications (person_id, created_at);
