/**
 * The test eID's persons in demo mode, picked from the synthetic demo registry so that every
 * path of the eID method can be tried: a few adults, a minor under 16 with a guardian, that
 * guardian, a deceased person, and a number that is in no registry. Labelled so a newcomer knows
 * who is who.
 *
 * Decrypting these persons is a demo-only read (DESIGN.md invariant 4): it is recorded, once
 * for the scan and once per person listed, as `demo_test_eid`.
 */
import type pg from 'pg';
import type { KeyRing } from '../../kernel/crypto/key-ring.ts';
import { associatedData, openRecord } from '../../kernel/crypto/envelope.ts';
import { dataKeyFor } from '../../kernel/crypto/key-ring.ts';
import { ageOn } from '../../registry/dates.ts';
import { composePersonalId } from '../../registry/personal-id.ts';
import { findPersonIdByPersonalId } from '../../registry/registry-lookup.ts';
import { personFromSealedFields, vietnamToday, type PersonRow } from '../../registry/registry-rows.ts';
import { GUARDIAN_AGE } from '../../verification/verification-service.ts';
import type { TestEidPerson } from './test-eid-provider.ts';

const ADULTS = 3;
/** Enough to find a minor with a guardian in any generated registry (about 8 % are minors). */
const MAX_SCANNED = 5_000;
const BATCH = 200;

interface Row {
  id: string;
  sealed: Buffer;
  dek_version: number;
  status: 'alive' | 'deceased';
}

function open(ring: KeyRing, row: Row): PersonRow {
  return personFromSealedFields(openRecord(dataKeyFor(ring, row.dek_version), row.sealed, associatedData('persons', 'sealed', row.id)), row.status);
}

async function personById(pool: pg.Pool, id: string): Promise<Row | undefined> {
  return (await pool.query<Row>('SELECT id, sealed, dek_version, status FROM persons WHERE id = $1', [id])).rows[0];
}

/** A well-formed personal ID number that belongs to nobody in the registry. */
async function unregisteredNumber(pool: pg.Pool, ring: KeyRing): Promise<string> {
  for (let serial = 999_999; serial > 999_000; serial--) {
    const id = composePersonalId('001', 1990, 'M', serial);
    if ((await findPersonIdByPersonalId(pool, ring, id)) === undefined) return id;
  }
  throw new Error('no free personal ID number for the "not in the registry" test person');
}

export async function pickDemoTestPersons(pool: pg.Pool, ring: KeyRing): Promise<TestEidPerson[]> {
  const today = vietnamToday();
  const adults: Array<{ id: string; p: PersonRow }> = [];
  let minor: { id: string; p: PersonRow; guardian: { id: string; p: PersonRow } } | undefined;
  let scanned = 0;
  let after = '00000000-0000-0000-0000-000000000000';
  while (scanned < MAX_SCANNED && (adults.length < ADULTS || !minor)) {
    const rows = (await pool.query<Row>(
      `SELECT id, sealed, dek_version, status FROM persons WHERE status = 'alive' AND id > $1 ORDER BY id LIMIT $2`, [after, BATCH],
    )).rows;
    if (rows.length === 0) break;
    for (const row of rows) {
      after = row.id;
      scanned++;
      const p = open(ring, row);
      const age = ageOn(p.birthDate, today);
      if (age >= 18 && adults.length < ADULTS) adults.push({ id: row.id, p });
      if (!minor && age < GUARDIAN_AGE && p.guardianPersonalIds.length > 0) {
        const guardianId = await findPersonIdByPersonalId(pool, ring, p.guardianPersonalIds[0]!);
        const guardianRow = guardianId ? await personById(pool, guardianId) : undefined;
        if (guardianRow?.status === 'alive') {
          scanned++;
          minor = { id: row.id, p, guardian: { id: guardianRow.id, p: open(ring, guardianRow) } };
        }
      }
    }
  }
  const deceasedRow = (await pool.query<Row>(`SELECT id, sealed, dek_version, status FROM persons WHERE status = 'deceased' ORDER BY id LIMIT 1`)).rows[0];
  const deceased = deceasedRow ? { id: deceasedRow.id, p: open(ring, deceasedRow) } : undefined;
  if (deceased) scanned++;

  const out: TestEidPerson[] = [];
  const listed: string[] = [];
  const age = (p: PersonRow) => ageOn(p.birthDate, today);
  for (const a of adults) {
    if (a.id === minor?.guardian.id) continue;
    out.push({ personalId: a.p.personalId, label: `Người lớn / Adult: ${a.p.fullName}, ${age(a.p)}` });
    listed.push(a.id);
  }
  if (minor) {
    out.push({ personalId: minor.p.personalId, label: `Trẻ dưới ${GUARDIAN_AGE} tuổi / Minor under ${GUARDIAN_AGE}: ${minor.p.fullName}, ${age(minor.p)} (guardian: ${minor.guardian.p.fullName})` });
    out.push({ personalId: minor.guardian.p.personalId, label: `Người giám hộ / Guardian of ${minor.p.fullName}: ${minor.guardian.p.fullName}, ${age(minor.guardian.p)}` });
    listed.push(minor.id, minor.guardian.id);
  }
  if (deceased) {
    out.push({ personalId: deceased.p.personalId, label: `Đã mất / Deceased: ${deceased.p.fullName} (idbind refuses)` });
    listed.push(deceased.id);
  }
  if (out.length > 0) {
    out.push({ personalId: await unregisteredNumber(pool, ring), label: 'Không có trong cơ sở dữ liệu / Not in the population registry (idbind refuses)' });
    await recordDemoRead(pool, scanned, listed);
  }
  return out;
}

/**
 * The access records of this demo-only read: the scan as one batch entry, each person listed as
 * one entry of theirs. (`demo_test_eid` is not among access-records.ts's purposes, which the
 * product's own code uses; the demo writes its entries itself.)
 */
async function recordDemoRead(pool: pg.Pool, scanned: number, personIds: readonly string[]): Promise<void> {
  await pool.query(
    `INSERT INTO access_records (person_id, purpose, actor, detail)
     SELECT NULL, 'demo_test_eid', 'demo', $1::jsonb
     UNION ALL SELECT p, 'demo_test_eid', 'demo', '{"listed_by":"demo test eID"}'::jsonb FROM unnest($2::uuid[]) AS p`,
    [JSON.stringify({ persons_decrypted: scanned, persons_listed: personIds.length }), personIds],
  );
}
