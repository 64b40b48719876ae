-- 0005: an account carries its pseudonym (issue 3 benchmarks). The pseudonym of a (person,
-- provider) never changes once created (pseudonyms is the mapping and stays the one place to
-- reverse it), so copying it onto the account is safe, and a status read becomes one index
-- probe of one table instead of two.
ALTER TABLE accounts ADD COLUMN pseudonym text;
UPDATE accounts a SET pseudonym = ps.pseudonym FROM pseudonyms ps WHERE ps.person_id = a.person_id AND ps.provider_id = a.provider_id;
