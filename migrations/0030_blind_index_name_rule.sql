-- 0030: the name rule of each blind-index key version (issue 2, HOLDER_DATA_MISMATCH: "names
-- compare after Unicode normalisation, case folding" and Vietnamese letters reduced to base Latin;
-- src/registry/name-match.ts). Match indexes are blind indexes, so a change to how names are folded
-- cannot apply to one row at a time: a person indexed by the old rule and a subscription by the new
-- would stop matching. Each version keeps the rule it was created with; the versions that exist
-- now were created under rule 1. A new version (a first start, `idbind keys rotate --blind-index`)
-- takes the latest rule, and the rotation's re-index applies it to every row (docs/keys.md).
ALTER TABLE key_versions ADD COLUMN name_rule smallint;
UPDATE key_versions SET name_rule = 1 WHERE purpose = 'blind_index';
ALTER TABLE key_versions ADD CONSTRAINT key_versions_name_rule
  CHECK ((purpose = 'blind_index') = (name_rule IS NOT NULL) AND (name_rule IS NULL OR name_rule >= 1));
