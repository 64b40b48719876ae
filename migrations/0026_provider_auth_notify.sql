-- 0026: the database tells every hub process which providers' credentials or settings changed,
-- so that each process's cache of authenticated API keys (src/providers/provider-auth-cache.ts)
-- forgets them at once (audit of issue 3, finding 5: a key rotated with overlap 0 by
-- `idbind providers rotate-key` kept working for up to 5 s in a running hub, whose cache only
-- the changing process cleared). The same pattern as migration 0014 for account statuses: NOTIFY
-- is delivered on commit only, to every listening session, whoever made the change (the admin
-- API, the provider's own rotation, the CLI, psql).
--
-- Channel `idbind_provider_auth`. Payload: the changed providers' ids separated by one space, or
-- `*` (forget every provider) when one statement changes more than 200 of them (a payload stays
-- under PostgreSQL's 8,000 bytes) or on TRUNCATE of the keys. Provider ids are not personal data.
--
-- What a cached authentication depends on, and which change announces it:
--   - the key row: its expiry moved (rotation, with any overlap), the row deleted: provider_api_keys
--     UPDATE, DELETE, TRUNCATE. A new key needs no announcement: an unknown key is never cached.
--   - the provider row: status (disabled), kind, legal profile, webhook URL, limits: providers
--     UPDATE. Providers are never deleted (migration 0023).
-- The end of an overlap is no change in the database: each cached entry ends at its key's expiry.
CREATE FUNCTION provider_auth_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  ids text[];
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    PERFORM pg_notify('idbind_provider_auth', '*');
    RETURN NULL;
  END IF;
  -- The old rows' providers: a cached key is filed under the provider it authenticated as.
  SELECT array_agg(DISTINCT o.provider_id::text) INTO ids FROM old_rows o;
  IF ids IS NULL THEN
    RETURN NULL;
  END IF;
  IF cardinality(ids) > 200 THEN
    PERFORM pg_notify('idbind_provider_auth', '*');
  ELSE
    PERFORM pg_notify('idbind_provider_auth', array_to_string(ids, ' '));
  END IF;
  RETURN NULL;
END $$;

-- The same for `providers`, whose id column is `id`.
CREATE FUNCTION providers_auth_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  ids text[];
BEGIN
  SELECT array_agg(DISTINCT o.id::text) INTO ids FROM old_rows o;
  IF ids IS NULL THEN
    RETURN NULL;
  END IF;
  IF cardinality(ids) > 200 THEN
    PERFORM pg_notify('idbind_provider_auth', '*');
  ELSE
    PERFORM pg_notify('idbind_provider_auth', array_to_string(ids, ' '));
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER provider_api_keys_auth_notify_update AFTER UPDATE ON provider_api_keys
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION provider_auth_notify();
CREATE TRIGGER provider_api_keys_auth_notify_delete AFTER DELETE ON provider_api_keys
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION provider_auth_notify();
CREATE TRIGGER provider_api_keys_auth_notify_truncate AFTER TRUNCATE ON provider_api_keys
  FOR EACH STATEMENT EXECUTE FUNCTION provider_auth_notify();
CREATE TRIGGER providers_auth_notify_update AFTER UPDATE ON providers
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION providers_auth_notify();
