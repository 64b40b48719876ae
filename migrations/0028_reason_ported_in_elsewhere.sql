-- 0028: a binding's reason `ported_in_elsewhere` (issue 3 "Bindings follow the subscription and
-- the person"; DESIGN.md invariant 7). The number was ported in at another carrier under another
-- holder while the subscription the binding was made through is still live at its carrier (the
-- donor's port-out not received yet): the binding needs re-verification, and the number verifies
-- no one until the registries agree (src/bindings/binding-lifecycle.ts).
ALTER TABLE accounts DROP CONSTRAINT accounts_status_reason_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_status_reason_check CHECK (status_reason IN
  ('verified', 'sim_changed', 'terminated', 'holder_changed', 'ported_out', 'deceased', 'account_closed', 'minor_ended', 'unbound_by_person',
   'ported_in_elsewhere'));
