-- 0013: the regulator's own staff (issue 5 "Officials and the authority console": "The
-- regulator's own staff sign in the same way, replacing the admin token of the registries page").
-- An official holding `administrator` may use the admin API with their passkey session instead of
-- the admin token. Only officials of an authority of kind `regulator` may hold it: the service
-- refuses it for others (OFFICIAL_INPUT_INVALID), and these triggers keep the database so too.

ALTER TABLE officials DROP CONSTRAINT officials_roles_check;
ALTER TABLE officials ADD CONSTRAINT officials_roles_check
  CHECK (roles <@ ARRAY['requester', 'approver', 'auditor', 'administrator']::text[] AND cardinality(roles) >= 1);

CREATE FUNCTION officials_administrator_of_regulator() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF 'administrator' = ANY (NEW.roles)
     AND (SELECT kind FROM authorities WHERE id = NEW.authority_id) IS DISTINCT FROM 'regulator' THEN
    RAISE EXCEPTION 'the administrator role is only for officials of a regulator authority'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'officials_administrator_of_regulator';
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER officials_administrator_of_regulator
  BEFORE INSERT OR UPDATE OF roles, authority_id ON officials
  FOR EACH ROW EXECUTE FUNCTION officials_administrator_of_regulator();

-- An authority with administrators cannot stop being a regulator.
CREATE FUNCTION authorities_keep_regulator_staff() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.kind = 'regulator' AND NEW.kind <> 'regulator'
     AND EXISTS (SELECT 1 FROM officials WHERE authority_id = NEW.id AND 'administrator' = ANY (roles)) THEN
    RAISE EXCEPTION 'this authority has officials with the administrator role'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'officials_administrator_of_regulator';
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER authorities_keep_regulator_staff
  BEFORE UPDATE OF kind ON authorities
  FOR EACH ROW EXECUTE FUNCTION authorities_keep_regulator_staff();
