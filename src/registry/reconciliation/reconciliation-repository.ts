/** SQL of junk-SIM reconciliation: the classification is one set-based statement. */
import type pg from 'pg';

/** The latest completed run, as a scalar subquery: what "in a junk-SIM category" means today. */
export const LATEST_COMPLETED_RUN_SQL = `SELECT id FROM reconciliation_runs WHERE status = 'completed' ORDER BY finished_at DESC NULLS LAST LIMIT 1`;
import { CATEGORIES, ONLINE_REGISTRATION_LIMIT, zeroCounts, type Category, type CategoryCounts } from './categories.ts';

/**
 * SQL: whether the junk-SIM flag the latest completed run gave the subscription `s` (an alias of
 * `subscriptions`) still stands, for the verification's checks (issue 3: "not in a reconciliation
 * category"), which test the other categories on the live data beside it.
 *
 * A run's flag is a snapshot: the registries may have removed its cause since, and until the next
 * run (days, at national scale) the flag refused a correctly registered person (false-positive
 * review, false-positive-review.db.test.ts): a carrier correcting a typo in the holder's name or
 * birth date, a death recorded in error corrected (`--correct-deaths`), or the holder ending one
 * of four online numbers. The categories are facts about the data (issue 2 "Reconciliation
 * categories"), so:
 * - NO_HOLDER, HOLDER_NOT_FOUND, HOLDER_DECEASED and HOLDER_DATA_MISMATCH are exactly the
 *   verification's live checks (holder, person found, alive, `mismatched`), which decide them on
 *   today's data; their flag adds nothing once those pass.
 * - ONLINE_BEYOND_LIMIT, which the live checks do not test (and which the run may not have given a
 *   subscription it put in an earlier category), stands for a flagged `online` subscription unless
 *   its holder now has at most ONLINE_REGISTRATION_LIMIT live subscriptions at the carrier
 *   registered at or before it: then its position is within the limit whatever the tie-break by
 *   number. Anything else keeps the flag (fail closed), as does a blind-index rotation in progress
 *   (a holder's rows may be indexed under two versions, and counted short).
 * Evaluated in this order (CASE), so that only a flagged online subscription costs the count, one
 * probe of the holder index.
 */
export function junkFlagStandsSql(s: string): string {
  return `CASE WHEN ${s}.channel <> 'online' THEN false
            WHEN NOT EXISTS (SELECT 1 FROM reconciliation_results rr
                             WHERE rr.run_id = (${LATEST_COMPLETED_RUN_SQL}) AND rr.subscription_id = ${s}.id) THEN false
            WHEN EXISTS (SELECT 1 FROM key_versions k WHERE k.purpose = 'blind_index' AND k.state = 'previous') THEN true
            ELSE (SELECT count(*) FROM subscriptions o
                  WHERE o.holder_bidx = ${s}.holder_bidx AND o.status <> 'terminated' AND o.carrier_id = ${s}.carrier_id
                    AND o.registered_at <= ${s}.registered_at) > ${ONLINE_REGISTRATION_LIMIT}
          END`;
}

export const LOCK_RECONCILIATION = 72_028;

export async function tryLockReconciliation(client: pg.PoolClient): Promise<boolean> {
  const r = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, 0) AS ok', [LOCK_RECONCILIATION]);
  return r.rows[0]!.ok;
}

/** Runs left 'running' by a process that died (we hold the lock, so none is really running). */
export async function failOrphanedRuns(db: pg.PoolClient): Promise<void> {
  await db.query(`UPDATE reconciliation_runs SET status = 'failed', error = 'interrupted', finished_at = now() WHERE status = 'running'`);
}

/**
 * The steps of a run, in order (reconciliation-service.ts). The API and the CLI show them as
 * "step n of 4"; a failed run keeps the step it failed in (migration 0024).
 */
export const RECONCILIATION_STEPS = ['reindexing', 'classifying', 'settling_ties', 'comparing'] as const;
export type ReconciliationStep = (typeof RECONCILIATION_STEPS)[number];

/** Where a run is: its step's code, its number from 1, and how many steps there are. */
export interface RunStep {
  code: ReconciliationStep;
  number: number;
  of: number;
}

export function runStep(code: ReconciliationStep): RunStep {
  return { code, number: RECONCILIATION_STEPS.indexOf(code) + 1, of: RECONCILIATION_STEPS.length };
}

/** Records the step a running run is in, in its own transaction, so that pollers see it. */
export async function setStep(db: pg.Pool, runId: string, step: ReconciliationStep): Promise<void> {
  await db.query(`UPDATE reconciliation_runs SET step = $2 WHERE id = $1 AND status = 'running'`, [runId, step]);
}

export async function createRun(db: pg.PoolClient, id: string): Promise<void> {
  await db.query(`INSERT INTO reconciliation_runs (id, status) VALUES ($1, 'running')`, [id]);
}

/**
 * Classifies every non-terminated subscription (first category that applies, in the order of
 * categories.ts) and returns how many there are, in one statement, so from one snapshot of the
 * registry while imports and carrier jobs go on.
 *
 * ONLINE_BEYOND_LIMIT needs each subscription's position among its holder's live subscriptions at
 * the carrier. Only a "crowded" holder (more than the online limit there, one of them online) can
 * have one beyond the limit, and such holders are a small share of the registry: one hashed
 * aggregate finds them and only their rows are ranked (`crowded`). Ranking every live
 * subscription with a window function sorted the whole table on disk, and made the run grow about
 * 5 times for 4 times the rows (docs/benchmarks.md, "Reconciliation"). Positions are by
 * registered_at, ties by row id here; ties that matter are settled by number afterwards
 * (fixOnlineTies, which reads the crowded rows this statement keeps in `reconciliation_crowded`,
 * a temporary table of the run's transaction), since the number is sealed.
 */
export async function classify(db: pg.PoolClient, runId: string): Promise<number> {
  await db.query(
    `CREATE TEMPORARY TABLE reconciliation_crowded ON COMMIT DROP AS
     SELECT id, carrier_id, holder_bidx, registered_at, channel, 0::bigint AS position FROM subscriptions WITH NO DATA`,
  );
  const n = await db.query<{ n: string }>(
    `WITH crowded AS MATERIALIZED (
       SELECT s.id, s.carrier_id, s.holder_bidx, s.registered_at, s.channel,
              row_number() OVER (PARTITION BY s.carrier_id, s.holder_bidx ORDER BY s.registered_at, s.id) AS position
       FROM subscriptions s
       JOIN (SELECT carrier_id, holder_bidx FROM subscriptions
             WHERE status <> 'terminated' AND holder_bidx IS NOT NULL
             GROUP BY carrier_id, holder_bidx
             HAVING count(*) > $2 AND bool_or(channel = 'online')) g
         ON g.carrier_id = s.carrier_id AND g.holder_bidx = s.holder_bidx
       WHERE s.status <> 'terminated'
     ), kept AS (
       INSERT INTO reconciliation_crowded SELECT * FROM crowded
     ), classified AS (
       INSERT INTO reconciliation_results (run_id, subscription_id, carrier_id, category)
       SELECT $1, id, carrier_id, category FROM (
         SELECT s.id, s.carrier_id,
           CASE
             WHEN s.holder_bidx IS NULL THEN 'NO_HOLDER'
             WHEN p.id IS NULL THEN 'HOLDER_NOT_FOUND'
             WHEN p.status = 'deceased' THEN 'HOLDER_DECEASED'
             WHEN s.holder_match_bidx IS DISTINCT FROM p.match_bidx THEN 'HOLDER_DATA_MISMATCH'
             WHEN s.channel = 'online' AND c.position > $2 THEN 'ONLINE_BEYOND_LIMIT'
           END AS category
         FROM subscriptions s LEFT JOIN persons p ON p.pid_bidx = s.holder_bidx
         LEFT JOIN crowded c ON c.id = s.id
         WHERE s.status <> 'terminated'
       ) x WHERE category IS NOT NULL
     )
     SELECT count(*) AS n FROM subscriptions WHERE status <> 'terminated'`,
    [runId, ONLINE_REGISTRATION_LIMIT],
  );
  // A new table has no statistics: the tie-break's join would be planned for a guessed size.
  await db.query('ANALYZE reconciliation_crowded');
  return Number(n.rows[0]!.n);
}

export interface TiedRow {
  id: string;
  sealed: Buffer;
  dek_version: number;
  registered_at: Date;
  channel: string;
  carrier_id: number;
  holder_bidx: Buffer;
  category: Category | null;
}

/** Live subscriptions of crowded holders (kept by classify) with a tie in registered_at. */
export async function tiedHolderRows(db: pg.PoolClient, runId: string): Promise<TiedRow[]> {
  const r = await db.query<TiedRow>(
    `SELECT c.id, s.sealed, s.dek_version, c.registered_at, c.channel, c.carrier_id, c.holder_bidx, r.category
     FROM reconciliation_crowded c JOIN subscriptions s ON s.id = c.id
     LEFT JOIN reconciliation_results r ON r.run_id = $1 AND r.subscription_id = c.id
     WHERE (c.carrier_id, c.holder_bidx) IN (
       SELECT carrier_id, holder_bidx FROM reconciliation_crowded
       GROUP BY carrier_id, holder_bidx HAVING count(*) > count(DISTINCT registered_at))`,
    [runId],
  );
  return r.rows;
}

export async function setOnlineBeyondLimit(db: pg.PoolClient, runId: string, carrierIdOf: Map<string, number>, add: string[], remove: string[]): Promise<void> {
  if (remove.length > 0) {
    await db.query(`DELETE FROM reconciliation_results WHERE run_id = $1 AND subscription_id = ANY($2::uuid[]) AND category = 'ONLINE_BEYOND_LIMIT'`, [runId, remove]);
  }
  if (add.length > 0) {
    await db.query(
      `INSERT INTO reconciliation_results (run_id, subscription_id, carrier_id, category)
       SELECT $1, id, c, 'ONLINE_BEYOND_LIMIT' FROM unnest($2::uuid[], $3::int[]) AS u(id, c) ON CONFLICT DO NOTHING`,
      [runId, add, add.map((id) => carrierIdOf.get(id)!)],
    );
  }
}

export interface RunSummary {
  run_id: string;
  status: 'running' | 'completed' | 'failed';
  started_at: string;
  finished_at: string | null;
  subscriptions: number | null;
  categories: CategoryCounts | null;
  by_carrier: Record<string, CategoryCounts> | null;
  compared_to_previous: Record<Category, { new: number; resolved: number }> | null;
  previous_run_id?: string | null;
  /** The step a running run is in, or the step a failed run stopped in; null once completed. */
  step: RunStep | null;
  /**
   * When the run's per-subscription results were deleted by retention (migration 0025), or null.
   * Its counts stay; its action lists are gone.
   */
  results_pruned_at: string | null;
}

/**
 * Results of run $1 not in run $2 ('new') and of $2 not in $1 ('resolved'), per category: one
 * full join of the two runs' results, which PostgreSQL can only run as a hash or merge join.
 * The two `NOT EXISTS` it replaces were planned while the new run's rows were uncommitted and
 * missing from the statistics: the planner expected none, chose a nested loop that scanned them
 * once per result of the previous run, and a third run at 4.8 M subscriptions spent minutes here
 * (docs/benchmarks.md, "Reconciliation"; reconciliation-plans.db.test.ts).
 */
export const COMPARE_RUNS_SQL = `SELECT coalesce(cur.category, prev.category) AS category,
     CASE WHEN prev.subscription_id IS NULL THEN 'new' ELSE 'resolved' END AS kind, count(*) AS n
   FROM (SELECT subscription_id, category FROM reconciliation_results WHERE run_id = $1) cur
   FULL JOIN (SELECT subscription_id, category FROM reconciliation_results WHERE run_id = $2) prev
     ON prev.subscription_id = cur.subscription_id AND prev.category = cur.category
   WHERE cur.subscription_id IS NULL OR prev.subscription_id IS NULL
   GROUP BY 1, 2`;

/** Counts per category and per carrier, and the change against the previous completed run. */
export async function summarise(db: pg.PoolClient, runId: string, startedAt: Date): Promise<Pick<RunSummary, 'categories' | 'by_carrier' | 'compared_to_previous' | 'previous_run_id'>> {
  const counts = await db.query<{ slug: string; category: Category; n: string }>(
    `SELECT c.slug, r.category, count(*) AS n FROM reconciliation_results r JOIN carriers c ON c.id = r.carrier_id
     WHERE r.run_id = $1 GROUP BY c.slug, r.category`,
    [runId],
  );
  const carriers = await db.query<{ slug: string }>('SELECT slug FROM carriers ORDER BY slug');
  const categories = zeroCounts();
  const byCarrier: Record<string, CategoryCounts> = {};
  for (const c of carriers.rows) byCarrier[c.slug] = zeroCounts();
  for (const row of counts.rows) {
    categories[row.category] += Number(row.n);
    byCarrier[row.slug]![row.category] += Number(row.n);
  }
  const prev = await db.query<{ id: string }>(
    `SELECT id FROM reconciliation_runs WHERE status = 'completed' AND id <> $1 AND started_at <= $2 ORDER BY started_at DESC, id DESC LIMIT 1`,
    [runId, startedAt],
  );
  const previousId = prev.rows[0]?.id ?? null;
  const compared = Object.fromEntries(CATEGORIES.map((c) => [c, { new: 0, resolved: 0 }])) as Record<Category, { new: number; resolved: number }>;
  if (previousId) {
    const diff = await db.query<{ category: Category; kind: 'new' | 'resolved'; n: string }>(COMPARE_RUNS_SQL, [runId, previousId]);
    for (const d of diff.rows) compared[d.category][d.kind] = Number(d.n);
  } else {
    for (const c of CATEGORIES) compared[c].new = categories[c];
  }
  return { categories, by_carrier: byCarrier, compared_to_previous: compared, previous_run_id: previousId };
}

export async function completeRun(db: pg.PoolClient, runId: string, subscriptions: number, summary: object): Promise<void> {
  await db.query(
    `UPDATE reconciliation_runs SET status = 'completed', step = NULL, subscriptions = $2, summary = $3, finished_at = clock_timestamp() WHERE id = $1`,
    [runId, subscriptions, JSON.stringify(summary)],
  );
}

export async function failRun(db: pg.Pool | pg.PoolClient, runId: string, error: string): Promise<void> {
  await db.query(`UPDATE reconciliation_runs SET status = 'failed', error = $2, finished_at = clock_timestamp() WHERE id = $1 AND status = 'running'`, [runId, error]);
}

interface RunRow {
  id: string;
  status: RunSummary['status'];
  started_at: Date;
  finished_at: Date | null;
  subscriptions: string | null;
  step: string | null;
  results_pruned_at: Date | null;
  summary: Pick<RunSummary, 'categories' | 'by_carrier' | 'compared_to_previous' | 'previous_run_id'> | null;
}

/**
 * The counts in the authoritative order of categories.ts. The summary is stored as jsonb, which
 * orders an object's keys by length, so they come back out of the order.
 */
function inCategoryOrder<T>(counts: Record<string, T> | undefined | null): Record<Category, T> | null {
  if (!counts) return null;
  return Object.fromEntries(CATEGORIES.filter((c) => c in counts).map((c) => [c, counts[c]!])) as Record<Category, T>;
}

function toSummary(r: RunRow): RunSummary {
  const byCarrier = r.summary?.by_carrier;
  return {
    run_id: r.id,
    status: r.status,
    started_at: r.started_at.toISOString(),
    finished_at: r.finished_at?.toISOString() ?? null,
    subscriptions: r.subscriptions === null ? null : Number(r.subscriptions),
    categories: inCategoryOrder(r.summary?.categories),
    by_carrier: byCarrier ? Object.fromEntries(Object.entries(byCarrier).map(([slug, counts]) => [slug, inCategoryOrder(counts)!])) : null,
    compared_to_previous: inCategoryOrder(r.summary?.compared_to_previous),
    previous_run_id: r.summary?.previous_run_id ?? null,
    step: r.status !== 'completed' && (RECONCILIATION_STEPS as readonly string[]).includes(r.step ?? '') ? runStep(r.step as ReconciliationStep) : null,
    results_pruned_at: r.results_pruned_at?.toISOString() ?? null,
  };
}

export async function readRun(db: pg.Pool | pg.PoolClient, runId: string): Promise<RunSummary | undefined> {
  const r = await db.query<RunRow>('SELECT id, status, started_at, finished_at, subscriptions, step, results_pruned_at, summary FROM reconciliation_runs WHERE id = $1', [runId]);
  return r.rows[0] ? toSummary(r.rows[0]) : undefined;
}

export async function listRuns(db: pg.Pool | pg.PoolClient, limit: number): Promise<RunSummary[]> {
  const r = await db.query<RunRow>('SELECT id, status, started_at, finished_at, subscriptions, step, results_pruned_at, summary FROM reconciliation_runs ORDER BY started_at DESC, id DESC LIMIT $1', [limit]);
  return r.rows.map(toSummary);
}

/**
 * Runs whose results retention deletes: every completed run that still has its results, except the
 * `keep` most recent (a failed run has none: its transaction rolled back). The newest completed run is the one phone eligibility and the
 * next run's comparison read (LATEST_COMPLETED_RUN_SQL orders the same way), so `keep` is at least
 * 1. Oldest first, so that an interrupted prune has kept the newer ones.
 */
export async function runsToPrune(db: pg.Pool | pg.PoolClient, keep: number): Promise<{ id: string; results: number }[]> {
  const r = await db.query<{ id: string; results: string }>(
    // The count comes from the run's summary, not from counting millions of rows.
    `SELECT r.id, coalesce((SELECT sum(n::bigint) FROM jsonb_each_text(r.summary->'categories') AS c(category, n)), 0) AS results
       FROM reconciliation_runs r
      WHERE r.status = 'completed' AND r.results_pruned_at IS NULL
        AND r.id NOT IN (SELECT id FROM reconciliation_runs WHERE status = 'completed'
                          ORDER BY finished_at DESC NULLS LAST, started_at DESC, id DESC LIMIT $1)
      ORDER BY r.started_at, r.id`,
    [keep],
  );
  return r.rows.map((row) => ({ id: row.id, results: Number(row.results) }));
}

/** Deletes one run's results and records it, in one transaction of the caller's. */
export async function pruneRunResults(db: pg.PoolClient, runId: string): Promise<number> {
  const deleted = await db.query('DELETE FROM reconciliation_results WHERE run_id = $1', [runId]);
  await db.query('UPDATE reconciliation_runs SET results_pruned_at = clock_timestamp() WHERE id = $1', [runId]);
  return deleted.rowCount ?? 0;
}

export interface ActionRow {
  id: string;
  sealed: Buffer;
  dek_version: number;
  category: Category;
}

/** One carrier's action list of a run, in a stable order (category, then row id). */
export async function* actionRows(db: pg.Pool, runId: string, carrierId: number): AsyncGenerator<ActionRow[]> {
  let after = '00000000-0000-0000-0000-000000000000';
  for (;;) {
    const r = await db.query<ActionRow>(
      `SELECT s.id, s.sealed, s.dek_version, r.category FROM reconciliation_results r JOIN subscriptions s ON s.id = r.subscription_id
       WHERE r.run_id = $1 AND r.carrier_id = $2 AND r.subscription_id > $3 ORDER BY r.subscription_id LIMIT 5000`,
      [runId, carrierId, after],
    );
    if (r.rows.length === 0) return;
    yield r.rows;
    after = r.rows[r.rows.length - 1]!.id;
  }
}
