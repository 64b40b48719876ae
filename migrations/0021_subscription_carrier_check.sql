-- 0021: importing a subscription no longer checks its carrier row (issue 2 benchmark).
--
-- subscriptions.carrier_id's foreign key ran PostgreSQL's referential check for every imported
-- row: a lookup of the carrier and a share lock on that one row, about 4.5 µs of the server's
-- CPU per row, a third of what COPY itself costs (docs/benchmarks.md, "Latest figures"). Every
-- subscription of a file has the same carrier, and the hub writes subscriptions only with a
-- carrier id it has just read from carriers (findOrCreateCarrier, findCarrier) under the
-- carrier's import lock.
--
-- What the key guarded, that no subscription outlives its carrier, now holds because a carrier
-- cannot be removed: the registries' history must stay readable, and a carrier's id is its
-- subscriptions' and action lists' only link to it. Its slug stays editable.
ALTER TABLE subscriptions DROP CONSTRAINT subscriptions_carrier_id_fkey;

CREATE FUNCTION carriers_are_permanent() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'carriers are permanent: a carrier''s subscriptions and history refer to it'
    USING ERRCODE = 'restrict_violation';
END;
$$;
CREATE TRIGGER carriers_no_delete BEFORE DELETE OR UPDATE OF id ON carriers FOR EACH ROW EXECUTE FUNCTION carriers_are_permanent();
CREATE TRIGGER carriers_no_truncate BEFORE TRUNCATE ON carriers FOR EACH STATEMENT EXECUTE FUNCTION carriers_are_permanent();
