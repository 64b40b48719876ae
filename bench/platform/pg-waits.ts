/**
 * Where a process's PostgreSQL connections spend a measurement: pg_stat_activity sampled every
 * `everyMs`, each sample counting every connection of that application name by state (`active`
 * running, `active` waiting on a lock or on the WAL, `idle`, `idle in transaction`). Many idle
 * samples mean the database was not the bottleneck; lock waits mean hot rows.
 */
import pg from 'pg';

export interface WaitTally {
  samples: number;
  /** Connection-samples by `state` or `state: wait_event_type/wait_event`. */
  by_state: Record<string, number>;
}

export function sampleWaits(url: string, applicationName: string, everyMs = 100): { stop(): Promise<WaitTally> } {
  const client = new pg.Client({ connectionString: url, application_name: 'bench-sampler' });
  const tally: WaitTally = { samples: 0, by_state: {} };
  let stopped = false;
  const loop = (async () => {
    await client.connect();
    while (!stopped) {
      const r = await client.query<{ state: string | null; wait: string | null }>(
        `SELECT state, CASE WHEN wait_event_type IS NULL THEN NULL ELSE wait_event_type || '/' || wait_event END AS wait
         FROM pg_stat_activity WHERE application_name = $1`,
        [applicationName],
      );
      tally.samples++;
      for (const row of r.rows) {
        // An idle connection "waits" on ClientRead: that is the client's time, not a wait.
        const key = row.state === 'active' && row.wait ? `active: ${row.wait}` : (row.state ?? 'unknown');
        tally.by_state[key] = (tally.by_state[key] ?? 0) + 1;
      }
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop.catch(() => undefined);
      await client.end().catch(() => undefined);
      return tally;
    },
  };
}
