/**
 * Reads of one person's registry record for the OpenID Provider and the hosted flow, each with
 * its purpose recorded in the person's access history (DESIGN.md invariant 4).
 */
import type pg from 'pg';
import { associatedData, openRecord } from '../kernel/crypto/envelope.ts';
import { dataKeyFor, type KeyRing } from '../kernel/crypto/key-ring.ts';
import { ageOn } from '../registry/dates.ts';
import { personFromSealedFields, vietnamToday, type PersonRow } from '../registry/registry-rows.ts';

export interface PersonRecord extends PersonRow {
  id: string;
  age: number;
}

/** Opens one person's sealed record (the caller records why). Undefined: no such person. */
export async function openPerson(db: pg.Pool | pg.PoolClient, ring: KeyRing, personId: string): Promise<PersonRecord | undefined> {
  const r = await db.query<{ sealed: Buffer; dek_version: number; status: 'alive' | 'deceased' }>(
    'SELECT sealed, dek_version, status FROM persons WHERE id = $1',
    [personId],
  );
  const row = r.rows[0];
  if (!row) return undefined;
  const person = personFromSealedFields(openRecord(dataKeyFor(ring, row.dek_version), row.sealed, associatedData('persons', 'sealed', personId)), row.status);
  return { ...person, id: personId, age: ageOn(person.birthDate, vietnamToday()) };
}
