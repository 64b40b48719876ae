-- 0019: the request path's statements find a verification by its primary key, whatever the
-- table's statistics (src/verification/verification-plans.db.test.ts).
--
-- On a young, never analysed table PostgreSQL planned the hub's named statements that count an
-- attempt, consume a code and finish a verification (`WHERE id = $1 AND status = 'code_sent'
-- AND code_expires_at > now() ...`) onto 0006's partial index of open sessions, which their
-- `status = 'code_sent'` matches: every call read every open verification and its dead versions
-- (about 1,400 buffers a call in the issue 3 benchmark, 2.4 ms instead of 0.2), and each
-- connection kept that plan. The expiry sweep's index now has a predicate no statement of the
-- request path states (an open session is exactly one not completed: every status change away
-- from `code_sent` sets `completed_at`), so none of them can be planned onto it.
DROP INDEX verifications_open_expiry;
CREATE INDEX verifications_open_expiry ON verifications (code_expires_at) WHERE completed_at IS NULL;

-- 0002's (provider_id, created_at) index was the next one chosen (`provider_id = $2`), with the
-- same effect. No statement reads verifications by provider: a provider's figures come from
-- verification_stats, and providers are never deleted, so its foreign key needs no index.
DROP INDEX verifications_provider;
