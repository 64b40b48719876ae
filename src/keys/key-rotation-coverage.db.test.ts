/**
 * Key rotation covers every sealed table, not only the registries (DESIGN.md invariant 2): the
 * webhook signing secrets, the demo SMS outbox and open verifications are re-encrypted and
 * re-indexed, and a key version is retired only once nothing needs it, so a retirement never
 * strands a webhook secret or an open one-time code.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { loadKeyRing, type KeyRing } from '../kernel/crypto/key-ring.ts';
import { associatedData, openBytes, sealBytes } from '../kernel/crypto/envelope.ts';
import { dataKeyFor } from '../kernel/crypto/key-ring.ts';
import { msisdnIndex } from '../registry/row-crypto.ts';
import { SEALED_TABLES } from '../registry/reindex.ts';
import { createProvider, rotateWebhookSecret, webhookSecrets } from '../providers/provider-service.ts';
import { outboxSmsGateway, readOutbox } from '../verification/sms/sms-outbox.ts';
import { codeMac, codeMatches } from '../verification/one-time-code.ts';
import { addKeyVersion, completeKeyWork, keyStatus, retireUnusedKeys } from './key-rotation-service.ts';

let db: TestDatabase;
let providerId: string;
let secrets: string[];
const number = '+84912345678';
const openId = randomUUID();
const doneId = randomUUID();

beforeAll(async () => {
  db = await createTestDatabase();
  const created = await createProvider(db.pool, db.ring, { allowLoopback: true }, { name: 'Rotating Platform', kind: 'platform' });
  providerId = created.provider.id;
  const rotated = await rotateWebhookSecret(db.pool, db.ring, providerId);
  secrets = [rotated.webhookSecret, created.webhookSecret];
  await outboxSmsGateway(db.pool, async () => db.ring).send(number, 'Your code: 123456');
  // An open verification (number sealed, code under blind-index v1) and a completed one (number gone).
  const ring = db.ring;
  await db.pool.query(
    `INSERT INTO verifications (id, provider_id, account_ref, msisdn_bidx, bidx_version, sealed, dek_version, status, code_hmac, code_key_version, code_expires_at)
     VALUES ($1, $2, 'acct-open', $3, $4, $5, $6, 'code_sent', $7, $4, now() + interval '5 minutes'),
            ($8, $2, 'acct-done', $3, $4, NULL, NULL, 'verified', NULL, NULL, NULL)`,
    [openId, providerId, msisdnIndex(ring.currentBlindIndex.key, number), ring.currentBlindIndex.version,
      sealBytes(ring.currentData.key, ring.currentData.version, Buffer.from(number), associatedData('verifications', 'sealed', openId)),
      ring.currentData.version, codeMac(ring, ring.currentBlindIndex.version, openId, '424242'), doneId],
  );
});
afterAll(async () => db.drop());

async function openVerification(ring: KeyRing) {
  const r = await db.pool.query('SELECT sealed, dek_version, msisdn_bidx, bidx_version, code_hmac, code_key_version FROM verifications WHERE id = $1', [openId]);
  const row = r.rows[0];
  return { ...row, number: openBytes(dataKeyFor(ring, row.dek_version), row.sealed, associatedData('verifications', 'sealed', openId)).toString('utf8') };
}

describe('key rotation coverage', () => {
  it('knows every table of the schema that holds a sealed value or a blind index', async () => {
    const r = await db.pool.query<{ table_name: string; column_name: string }>(
      `SELECT table_name, column_name FROM information_schema.columns
       WHERE table_schema = current_schema() AND column_name IN ('sealed', 'dek_version', 'bidx_version')`,
    );
    const tables = [...new Set(r.rows.map((x) => x.table_name))].sort();
    expect(tables).toEqual([...SEALED_TABLES].sort());
  });

  it('re-encrypts webhook secrets, outbox messages and open verifications, then retires the old data key', async () => {
    await addKeyVersion(db.pool, db.master, 'data');
    const ring = await loadKeyRing(db.pool, [db.master]);
    expect((await keyStatus(db.pool, [db.master])).pending.reencrypt_rows).toBe(4); // 2 secrets, 1 message, 1 open verification
    const result = await completeKeyWork(db.pool, ring, 'test', undefined, { retireGraceMs: 0 });
    expect(result).toMatchObject({ reencrypted: 4, retired: [{ purpose: 'data', version: 1 }] });
    const versions = await db.pool.query(
      `SELECT dek_version AS v FROM webhook_secrets UNION ALL SELECT dek_version FROM sms_outbox UNION ALL SELECT dek_version FROM verifications WHERE sealed IS NOT NULL`,
    );
    expect(versions.rows.map((x) => x.v)).toEqual([2, 2, 2, 2]);
    // With version 1 destroyed, everything still opens under the new key.
    const after = await loadKeyRing(db.pool, [db.master]);
    expect([...after.data.keys()]).toEqual([2]);
    expect(await webhookSecrets(db.pool, after, providerId)).toEqual(secrets);
    expect(await readOutbox(db.pool, after, number)).toMatchObject([{ to: number, text: 'Your code: 123456' }]);
    expect((await openVerification(after)).number).toBe(number);
    db.ring = after;
  });

  it('re-indexes the outbox and open verifications, and keeps the old blind-index key while a code under it can be confirmed', async () => {
    await addKeyVersion(db.pool, db.master, 'blind_index');
    const ring = await loadKeyRing(db.pool, [db.master]);
    const result = await completeKeyWork(db.pool, ring, 'test', undefined, { retireGraceMs: 0 });
    expect(result).toMatchObject({ reindexed: 2, retired: [] }); // the message and the open verification
    const status = await keyStatus(db.pool, [db.master]);
    expect(status.pending).toEqual({ reencrypt_rows: 0, reindex_rows: 0, open_codes: 1, open_invitations: 0, open_carrier_jobs: 0 });
    expect(status.blind_index_keys.find((k) => k.version === 1)).toMatchObject({ state: 'previous', rows: 1 });
    const v = await openVerification(ring);
    expect(v).toMatchObject({ bidx_version: 2, code_key_version: 1 });
    expect(v.msisdn_bidx.equals(msisdnIndex(ring.currentBlindIndex.key, number))).toBe(true);
    // The code sent before the rotation still confirms.
    expect(codeMatches(ring, 1, openId, '424242', v.code_hmac)).toBe(true);

    // Once the code has expired (a completed verification never counted), the version is retired.
    await db.pool.query(`UPDATE verifications SET code_expires_at = now() - interval '2 minutes' WHERE id = $1`, [openId]);
    expect(await retireUnusedKeys(db.pool, { graceMs: 0 })).toEqual([{ purpose: 'blind_index', version: 1 }]);
    const after = await loadKeyRing(db.pool, [db.master]);
    expect(after.blindIndex.map((k) => k.version)).toEqual([2]);
    expect(await readOutbox(db.pool, after, number)).toMatchObject([{ to: number, text: 'Your code: 123456' }]);
    const done = await db.pool.query('SELECT bidx_version FROM verifications WHERE id = $1', [doneId]);
    expect(done.rows[0].bidx_version).toBe(1);
  });
});
