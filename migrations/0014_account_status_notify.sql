-- 0014: the database tells every hub process which account statuses changed, so that each may
-- keep a status cache for GET /v1/accounts/{ref} (issue 3 benchmarks: "a status cache kept
-- correct by the binding events") that stays correct when several hubs share this database
-- (src/bindings/account-status-cache.ts). Whoever changes `accounts` (a verification, an
-- unbinding, a registry-driven revocation, a bulk load, another hub, psql), the change is
-- announced: NOTIFY is delivered on commit only, so a cache never hears of an uncommitted change,
-- and a rolled-back one is never announced.
--
-- Channel `idbind_account_status`. Payload: the changed keys `<provider_id>:<account_ref>`
-- separated by one space (a provider id is a uuid, so the first `:` ends it; an account ref holds
-- no space), packed up to 7,900 bytes per notification (PostgreSQL's limit is 8,000). A statement
-- that changes more than 1,000 rows (a bulk revocation, a seed) sends one `*` instead: every
-- cache forgets everything, rather than 100,000 keys flooding every listener. TRUNCATE sends `*`.
-- Statement-level triggers with transition tables: one trigger call per statement, not per row.
-- A payload carries an account ref and a provider id, never a personal field (DESIGN.md
-- invariant 1); a listener must be a hub process, as for any other connection to this database.
CREATE FUNCTION accounts_status_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  flush_above constant integer := 1000;
  n integer;
  keys text[];
  k text;
  payload text := '';
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    PERFORM pg_notify('idbind_account_status', '*');
    RETURN NULL;
  END IF;
  -- Transition tables exist only for the events of this trigger: each branch names its own.
  IF TG_OP = 'INSERT' THEN
    SELECT count(*) INTO n FROM (SELECT 1 FROM new_rows LIMIT flush_above + 1) s;
  ELSE
    SELECT count(*) INTO n FROM (SELECT 1 FROM old_rows LIMIT flush_above + 1) s;
  END IF;
  IF n = 0 THEN
    RETURN NULL;
  END IF;
  IF n > flush_above THEN
    PERFORM pg_notify('idbind_account_status', '*');
    RETURN NULL;
  END IF;
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(DISTINCT r.provider_id::text || ':' || r.account_ref) INTO keys FROM new_rows r;
  ELSIF TG_OP = 'UPDATE' THEN
    -- Old and new keys both: an update that moved a row to another key invalidates the two.
    SELECT array_agg(DISTINCT x.k) INTO keys FROM (
      SELECT o.provider_id::text || ':' || o.account_ref AS k FROM old_rows o
      UNION SELECT r.provider_id::text || ':' || r.account_ref FROM new_rows r
    ) x;
  ELSE
    SELECT array_agg(DISTINCT o.provider_id::text || ':' || o.account_ref) INTO keys FROM old_rows o;
  END IF;
  FOREACH k IN ARRAY keys LOOP
    IF payload = '' THEN
      payload := k;
    ELSIF octet_length(payload) + 1 + octet_length(k) > 7900 THEN
      PERFORM pg_notify('idbind_account_status', payload);
      payload := k;
    ELSE
      payload := payload || ' ' || k;
    END IF;
  END LOOP;
  IF payload <> '' THEN
    PERFORM pg_notify('idbind_account_status', payload);
  END IF;
  RETURN NULL;
END $$;

-- A trigger with transition tables may name one event only: one per event.
CREATE TRIGGER accounts_status_notify_insert AFTER INSERT ON accounts
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION accounts_status_notify();
CREATE TRIGGER accounts_status_notify_update AFTER UPDATE ON accounts
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION accounts_status_notify();
CREATE TRIGGER accounts_status_notify_delete AFTER DELETE ON accounts
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION accounts_status_notify();
CREATE TRIGGER accounts_status_notify_truncate AFTER TRUNCATE ON accounts
  FOR EACH STATEMENT EXECUTE FUNCTION accounts_status_notify();
