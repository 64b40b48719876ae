/**
 * Which mode a database is served in, recorded by its first `idbind serve` (migration 0031), so
 * that a production database is never served in demo mode (issue 2: `--demo` generates keys, seeds
 * demo data and opens demo-only endpoints; DESIGN.md invariant 5, fail closed). Served with
 * `--demo`, a production database would get the demo platforms, whose API keys the demo prints,
 * and `/v1/demo/session`, which hands a browser the admin token.
 */
import type pg from 'pg';
import { DEMO_PLATFORM_NAMES } from './demo-platforms.ts';

export type DeploymentMode = 'demo' | 'production';

/**
 * The database's mode: the one recorded, or, on its first `serve`, the one it is started in. A
 * database served before migration 0031 has none recorded and is not necessarily empty: one that
 * holds the demo platforms is a demo's; one with registry data or providers but no demo platform
 * was loaded and run in production (a demo seeds its platforms at its first start).
 */
export async function claimDeploymentMode(pool: pg.Pool, mode: DeploymentMode): Promise<DeploymentMode> {
  await pool.query(
    `INSERT INTO deployment_mode (mode)
     SELECT CASE
       WHEN EXISTS (SELECT 1 FROM providers WHERE name = ANY($2::text[])) THEN 'demo'
       WHEN EXISTS (SELECT 1 FROM providers) OR EXISTS (SELECT 1 FROM persons) OR EXISTS (SELECT 1 FROM subscriptions) THEN 'production'
       ELSE $1 END
     ON CONFLICT (only_row) DO NOTHING`,
    [mode, DEMO_PLATFORM_NAMES],
  );
  // A statement of its own: a first start racing this one may have recorded its mode meanwhile.
  const r = await pool.query<{ mode: DeploymentMode }>('SELECT mode FROM deployment_mode');
  return r.rows[0]!.mode;
}
