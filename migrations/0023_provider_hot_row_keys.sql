-- 0023: a verification no longer locks its platform's row (issue 3 "Verification API" benchmark).
--
-- Each phone verification wrote up to six rows that referenced the platform: its idempotency
-- key, the verification, the pseudonym (on a first binding), the account, the event and the
-- webhook delivery. PostgreSQL checked each foreign key by reading the platform's row and taking
-- a KEY SHARE lock on it, so every verification of one platform, and every concurrent one, went
-- through the same row: under load, those locks are shared by many transactions at once and
-- PostgreSQL records each such set as a multixact. The checks were also about half of the
-- binding statement's time (EXPLAIN ANALYZE: 0.32 of 0.70 ms, ten referential checks).
--
-- The hub writes these rows only with the id of the provider that has just authenticated (or,
-- for events and deliveries, a copy of the account's own provider_id in the same statement).
-- What the keys guarded, that no row outlives its provider, now holds because a provider cannot
-- be removed, as carriers cannot (migration 0021): its accounts, pseudonyms, events and
-- disclosure history must stay readable, and the provider's id is their only link to it. A
-- provider is disabled, never deleted. The keys that reference persons and accounts stay (their
-- rows are not shared by concurrent verifications), and so do the provider keys of the tables
-- written rarely (API keys, webhook secrets, OIDC clients, hosted flows, disclosure requests).
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_provider_id_fkey;
ALTER TABLE verifications DROP CONSTRAINT verifications_provider_id_fkey;
ALTER TABLE pseudonyms DROP CONSTRAINT pseudonyms_provider_id_fkey;
ALTER TABLE accounts DROP CONSTRAINT accounts_provider_id_fkey;
ALTER TABLE events DROP CONSTRAINT events_provider_id_fkey;
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_provider_id_fkey;

CREATE FUNCTION providers_are_permanent() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'providers are permanent: their accounts, pseudonyms, events and history refer to them'
    USING ERRCODE = 'restrict_violation';
END;
$$;
CREATE TRIGGER providers_no_delete BEFORE DELETE OR UPDATE OF id ON providers FOR EACH ROW EXECUTE FUNCTION providers_are_permanent();
CREATE TRIGGER providers_no_truncate BEFORE TRUNCATE ON providers FOR EACH STATEMENT EXECUTE FUNCTION providers_are_permanent();
