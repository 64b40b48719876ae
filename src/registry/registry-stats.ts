/** Registry sizes for the regulator's dashboard: counts only, no personal data. */
import type pg from 'pg';

export interface RegistryStats {
  people: { total: number; alive: number; deceased: number };
  subscriptions: { total: number; live: number; terminated: number };
  carriers: { slug: string; subscriptions: number; live: number }[];
}

export async function registryStats(pool: pg.Pool): Promise<RegistryStats> {
  const people = await pool.query<{ total: string; deceased: string }>(
    `SELECT count(*) AS total, count(*) FILTER (WHERE status = 'deceased') AS deceased FROM persons`,
  );
  const carriers = await pool.query<{ slug: string; total: string; live: string }>(
    `SELECT c.slug, count(s.id) AS total, count(s.id) FILTER (WHERE s.status <> 'terminated') AS live
     FROM carriers c LEFT JOIN subscriptions s ON s.carrier_id = c.id GROUP BY c.slug ORDER BY c.slug`,
  );
  const p = people.rows[0]!;
  const list = carriers.rows.map((c) => ({ slug: c.slug, subscriptions: Number(c.total), live: Number(c.live) }));
  const total = list.reduce((a, c) => a + c.subscriptions, 0);
  const live = list.reduce((a, c) => a + c.live, 0);
  return {
    people: { total: Number(p.total), alive: Number(p.total) - Number(p.deceased), deceased: Number(p.deceased) },
    subscriptions: { total, live, terminated: total - live },
    carriers: list,
  };
}
