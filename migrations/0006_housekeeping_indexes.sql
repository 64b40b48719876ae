-- 0006: indexes for the minute-by-minute housekeeping (src/verification/verification-maintenance.ts),
-- which would otherwise scan every verification and every rate-limit window ever written.
CREATE INDEX verifications_open_expiry ON verifications (code_expires_at) WHERE status = 'code_sent';
CREATE INDEX rate_counters_window ON rate_counters (window_start);
