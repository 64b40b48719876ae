/** Binary COPY tuples (copy-binary.ts) read back by a real PostgreSQL, type by type. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.ts';
import { CopyTupleWriter } from './copy-binary.ts';
import { copyInto } from './import-repository.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
  await db.pool.query(`CREATE TABLE copy_probe (id uuid, b bytea, i integer, l bigint, t text, at timestamptz)`);
});
afterAll(async () => db.drop());

describe('binary COPY tuples', () => {
  it('stores every value exactly: UUIDs, bytes, 32- and 64-bit integers, UTF-8 text, instants to the millisecond, NULLs, empty strings', async () => {
    const w = new CopyTupleWriter(1024); // small: the writer must grow
    const rows = [
      ['0190b2d6-1c2e-7a3b-8f00-0123456789ab', Buffer.from([0, 1, 2, 255]), 2147483647, 9_007_199_254_740_991, 'Nguyễn Thị Ánh', '2026-11-23T03:04:05.678Z'],
      ['ffffffff-ffff-7fff-bfff-ffffffffffff', Buffer.alloc(0), -1, -5_000_000_001, '', '1900-01-01T00:00:00.000Z'],
      ['00000000-0000-7000-8000-000000000000', null, 0, 0, null, '2399-12-31T23:59:59.999Z'],
      ['12345678-9abc-7def-8123-456789abcdef', Buffer.alloc(5000, 7), 42, 3_000_000_000, 'x'.repeat(3000), null],
    ] as const;
    for (const [id, b, i, l, t, at] of rows) w.tuple(6).uuid(id).bytea(b).int4(i).int8(l).text(t).timestamptz(at);
    const client = await db.pool.connect();
    try {
      await copyInto(client, 'copy_probe', ['id', 'b', 'i', 'l', 't', 'at'], w.bytes());
    } finally {
      client.release();
    }
    const r = await db.pool.query<{ id: string; b: Buffer | null; i: number; l: string; t: string | null; at: string | null }>(
      `SELECT id::text, b, i, l::text, t, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at FROM copy_probe ORDER BY i DESC`,
    );
    const sorted = [...rows].sort((x, y) => y[2] - x[2]);
    expect(r.rows.map((x) => [x.id, x.b === null ? null : x.b.toString('hex'), x.i, x.l, x.t, x.at])).toEqual(
      sorted.map(([id, b, i, l, t, at]) => [id, b === null ? null : Buffer.from(b).toString('hex'), i, String(l), t, at]),
    );
  });

  it('refuses what is not a UUID or an instant, rather than writing a broken tuple', () => {
    for (const bad of ['not-a-uuid', '0190b2d6-1c2e-7a3b-8f00-0123456789ag', '0190b2d61-c2e-7a3b-8f00-0123456789ab', '0190b2d6-1c2e-7a3b-8f00-0123456789a']) {
      expect(() => new CopyTupleWriter().uuid(bad), bad).toThrow(TypeError);
    }
    expect(() => new CopyTupleWriter().int8(2 ** 53)).toThrow(RangeError);
    expect(() => new CopyTupleWriter().timestamptz('yesterday')).toThrow(TypeError);
  });

  it('writes nothing for an empty batch', async () => {
    const client = await db.pool.connect();
    try {
      await copyInto(client, 'copy_probe', ['id'], new CopyTupleWriter().bytes());
    } finally {
      client.release();
    }
    expect((await db.pool.query('SELECT count(*)::int AS n FROM copy_probe')).rows[0].n).toBe(4);
  });
});
