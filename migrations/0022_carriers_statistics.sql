-- 0022: the planner knows how many carriers there are (issue 3 number lookups).
--
-- carriers holds a handful of rows, too few for autovacuum ever to analyse it (its threshold is
-- 50 changed rows). Never analysed, it looks like about a thousand rows to the planner, which then
-- answered the verification's number lookup (phone-eligibility.ts: one probe of the (carrier,
-- number) index per carrier) with a hash join over a scan of every subscription: on PostgreSQL 15,
-- chosen over the probes for registries of up to a few million subscriptions. The hub analyses
-- the table whenever it creates a carrier (findOrCreateCarrier); this counts the carriers that
-- exist already.
ANALYZE carriers;
