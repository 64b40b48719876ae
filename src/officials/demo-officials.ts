/**
 * Demo mode's authorities and officials (issue 5 "Demo"): a police unit, a procuracy and a court,
 * with a requester (police), an approver (procuracy), an approver in the police (to show that an
 * approver of the requester's own authority is refused), an auditor (procuracy) and a judge (an
 * approver of the court: seals and emergency reviews). Names are synthetic work
 * names. In demo mode they sign in without a passkey through `POST /v1/demo/officials/{id}/session`
 * (the authority console's "Demo: sign in as ..." buttons); they can also enrol a passkey through
 * an invitation like any official.
 */
import type pg from 'pg';
import type { KeyRing } from '../kernel/crypto/key-ring.ts';
import { uuidv7 } from '../kernel/ids.ts';
import { OFFICIAL_SELECT, officialOf, type OfficialRow, recordOfficialAction, type Official, type OfficialRole } from './official-auth.ts';

export const DEMO_POLICE = 'Công an TP Hà Nội — Phòng An ninh mạng (demo)';
export const DEMO_PROCURACY = 'Viện kiểm sát nhân dân TP Hà Nội (demo)';
/** A court, so that the demo can show a seal extended and an emergency reviewed (issue 5). */
export const DEMO_COURT = 'Tòa án nhân dân TP Hà Nội (demo)';

const DEMO_OFFICIALS: readonly { key: keyof DemoOfficials; authority: 'police' | 'procuracy' | 'court'; name: string; roles: OfficialRole[] }[] = [
  { key: 'requester', authority: 'police', name: 'Đại úy Nguyễn Minh Khoa', roles: ['requester'] },
  { key: 'approver', authority: 'procuracy', name: 'Kiểm sát viên Trần Thu Hà', roles: ['approver'] },
  { key: 'policeApprover', authority: 'police', name: 'Thiếu tá Lê Quang Vinh', roles: ['approver'] },
  { key: 'auditor', authority: 'procuracy', name: 'Kiểm tra viên Phạm Thanh Mai', roles: ['auditor'] },
  { key: 'judge', authority: 'court', name: 'Thẩm phán Đỗ Văn Hùng', roles: ['approver'] },
];

export interface DemoOfficials {
  requester: Official;
  approver: Official;
  policeApprover: Official;
  auditor: Official;
  /** An approver of a court: extends seals, reviews emergencies. */
  judge: Official;
}

/**
 * Creates the demo authorities and officials when missing (idempotent: found by name; safe when
 * two processes start at once). Answers the four officials, for the demo disclosure seeding.
 * `ring` and `publicUrl` are taken for symmetry with the other demo seeders; no invitation is issued.
 */
export async function ensureDemoAuthorities(pool: pg.Pool, _ring: KeyRing, _publicUrl: string): Promise<DemoOfficials> {
  const authorityIds: Record<'police' | 'procuracy' | 'court', string> = { police: '', procuracy: '', court: '' };
  for (const [key, name, kind] of [['police', DEMO_POLICE, 'police'], ['procuracy', DEMO_PROCURACY, 'procuracy'], ['court', DEMO_COURT, 'court']] as const) {
    await pool.query('INSERT INTO authorities (id, name, kind, demo) VALUES ($1, $2, $3, true) ON CONFLICT (name) DO NOTHING', [uuidv7(), name, kind]);
    const { rows } = await pool.query<{ id: string }>('SELECT id FROM authorities WHERE name = $1', [name]);
    authorityIds[key] = rows[0]!.id;
  }
  const out: Partial<DemoOfficials> = {};
  for (const o of DEMO_OFFICIALS) {
    const authorityId = authorityIds[o.authority];
    // Under a lock on the authority, so two starting processes do not both create the official.
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT 1 FROM authorities WHERE id = $1 FOR UPDATE', [authorityId]);
      let found = await client.query<{ id: string }>('SELECT id FROM officials WHERE authority_id = $1 AND display_name = $2', [authorityId, o.name]);
      if (!found.rows[0]) {
        await client.query('INSERT INTO officials (id, authority_id, display_name, roles) VALUES ($1, $2, $3, $4)', [uuidv7(), authorityId, o.name, o.roles]);
        found = await client.query<{ id: string }>('SELECT id FROM officials WHERE authority_id = $1 AND display_name = $2', [authorityId, o.name]);
        const created = await client.query<OfficialRow>(`${OFFICIAL_SELECT} WHERE o.id = $1`, [found.rows[0]!.id]);
        await recordOfficialAction(client, { official: officialOf(created.rows[0]!), action: 'official.created', subject: found.rows[0]!.id, detail: { by: 'demo', roles: o.roles } });
      }
      await client.query('COMMIT');
      const row = await pool.query<OfficialRow>(`${OFFICIAL_SELECT} WHERE o.id = $1`, [found.rows[0]!.id]);
      out[o.key] = officialOf(row.rows[0]!);
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
  }
  return out as DemoOfficials;
}

/** The active officials of demo authorities (for the demo sign-in buttons). */
export async function listDemoOfficials(pool: pg.Pool): Promise<Official[]> {
  const { rows } = await pool.query<OfficialRow>(`${OFFICIAL_SELECT} WHERE a.demo AND o.status = 'active' ORDER BY a.created_at, o.created_at, o.id`);
  return rows.map(officialOf);
}

/** Whether `id` is an active official of a demo authority (the only ones the demo sign-in accepts). */
export async function isDemoOfficial(pool: pg.Pool, id: string): Promise<boolean> {
  const { rows } = await pool.query("SELECT 1 FROM officials o JOIN authorities a ON a.id = o.authority_id WHERE o.id = $1 AND a.demo AND o.status = 'active'", [id]);
  return rows.length === 1;
}
