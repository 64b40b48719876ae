-- 0022: the subscriptions' number indexes lead with the number (issue 2 benchmark; the number
-- lookups of issue 3).
--
-- With carrier_id first, a planner whose statistics had not yet seen a carrier (the table was
-- analysed before that carrier's first import) read the import's probe of a batch's numbers as
-- "every subscription of this carrier, filtered by number": one walk over all of the carrier's
-- rows imported so far for every batch, quadratic in the size of the file. On PostgreSQL 15,
-- 10.5 s for one batch of 6,500 numbers against 100,000 rows of the carrier (40 ms with the
-- number first); in the 4m benchmark the last carrier's import ran at a quarter of its rate.
-- With the number first, every lookup of a number descends to it, with or without its carrier
-- (registry-lookup.ts has none), whatever the statistics say.
--
-- Both indexes keep their columns and so their meaning: all subscriptions ever held of a number
-- at a carrier, and at most one live one. On a large existing registry this rebuild locks
-- writes to subscriptions while it runs.
DROP INDEX subscriptions_number;
CREATE INDEX subscriptions_number ON subscriptions (msisdn_bidx, carrier_id);
DROP INDEX subscriptions_live_number;
CREATE UNIQUE INDEX subscriptions_live_number ON subscriptions (msisdn_bidx, carrier_id) WHERE status <> 'terminated';
