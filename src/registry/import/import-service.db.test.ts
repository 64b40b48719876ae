import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { Readable } from 'node:stream';
import { mkdtempSync, readFileSync, statSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.ts';
import { fileSha256, importRegistry } from './import-service.ts';
import { composePersonalId } from '../personal-id.ts';
import { findPersonIdByPersonalId } from '../registry-lookup.ts';

let db: TestDatabase;
let dir: string;
beforeAll(async () => {
  db = await createTestDatabase();
  dir = mkdtempSync(join(tmpdir(), 'idbind-import-'));
});
afterAll(async () => {
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
});

const HEADER = 'personal_id,full_name,birth_date,sex,status,died_on,guardian_personal_ids';
const an = composePersonalId('001', 1990, 'M', 1); // 001090000001
const binh = composePersonalId('079', 2001, 'F', 2); // 079301000002
const child = composePersonalId('048', 2015, 'M', 3);

function write(name: string, lines: string[]): string {
  const p = join(dir, name);
  writeFileSync(p, lines.join('\n') + '\n');
  return p;
}

async function run(path: string, kind: 'population' | 'subscriptions' = 'population', carrier?: string) {
  return importRegistry({ pool: db.pool, ring: db.ring, kind, carrier, path, rejectsPath: path + '.rejects.csv', workers: 2, chunkBytes: 64 });
}

describe('population import', () => {
  it('accepts valid rows, rejects each bad one with line, field and code, and stores nothing in clear', async () => {
    const path = write('population.csv', [
      HEADER,
      `${an},Nguyễn Văn An,1990-05-01,M,alive,,`,
      `${binh},"Trần Thị Bình",2001-12-31,F,deceased,2024-02-03,`,
      `${child},Lê Minh Khôi,2015-07-07,M,alive,,${an};${binh}`,
      `12345,Bad Id,1990-01-01,M,alive,,`, // 5: bad ID
      `${composePersonalId('001', 1991, 'M', 9)},Wrong Year,1990-01-01,M,alive,,`, // 6: contradicts birth date
      `${composePersonalId('001', 1990, 'F', 9)},Wrong Sex,1990-01-01,M,alive,,`, // 7: contradicts sex
      `${composePersonalId('001', 1990, 'M', 8)},Bad Date,1990-02-30,M,alive,,`, // 8: bad date
      `${composePersonalId('001', 1990, 'M', 7)},Bad Status,1990-02-03,M,missing,,`, // 9: unknown status
      `${an},Nguyễn Văn An Duplicate,1990-05-01,M,alive,,`, // 10: duplicate key
      `003090000007,Unknown Province,1990-02-03,M,alive,,`, // 11: province 003 does not exist
      `"unclosed,quote`, // 12 onward: malformed
    ]);
    const summary = await run(path);
    expect(summary).toMatchObject({ accepted: 3, unchanged: 0 });
    const rejects = readFileSync(summary.rejects_file, 'utf8');
    expect(statSync(summary.rejects_file).mode & 0o777).toBe(0o600);
    expect(rejects).toContain('5,personal_id,PERSONAL_ID_INVALID');
    expect(rejects).toContain('6,personal_id,PERSONAL_ID_CONTRADICTS_BIRTH_DATE');
    expect(rejects).toContain('7,personal_id,PERSONAL_ID_CONTRADICTS_SEX');
    expect(rejects).toContain('8,birth_date,DATE_INVALID');
    expect(rejects).toContain('9,status,STATUS_UNKNOWN');
    expect(rejects).toContain('10,personal_id,DUPLICATE_KEY');
    expect(rejects).toContain('11,personal_id,PERSONAL_ID_INVALID');
    expect(rejects).not.toContain('Nguyễn');
    const count = await db.pool.query('SELECT count(*)::int AS n, count(*) FILTER (WHERE status = $1)::int AS dead FROM persons', ['deceased']);
    expect(count.rows[0]).toEqual({ n: 3, dead: 1 });
  });

  it('changes nothing when the same file is imported again', async () => {
    const before = await db.pool.query('SELECT id, sealed, updated_at FROM persons ORDER BY id');
    const summary = await run(join(dir, 'population.csv'));
    expect(summary.accepted).toBe(0);
    expect(summary.unchanged).toBe(3);
    const after = await db.pool.query('SELECT id, sealed, updated_at FROM persons ORDER BY id');
    expect(after.rows).toEqual(before.rows);
  });

  it('updates a changed row in place and counts it accepted', async () => {
    const path = write('population-2.csv', [HEADER, `${an},Nguyễn Văn An,1990-05-01,M,deceased,2025-01-01,`, `${binh},"Trần Thị Bình",2001-12-31,F,deceased,2024-02-03,`]);
    const summary = await run(path);
    expect(summary).toMatchObject({ accepted: 1, unchanged: 1, rejected: 0 });
    const r = await db.pool.query('SELECT count(*)::int AS n, count(*) FILTER (WHERE status = $1)::int AS dead FROM persons', ['deceased']);
    expect(r.rows[0]).toEqual({ n: 3, dead: 2 });
  });
});

describe('NDJSON import', () => {
  it('takes the same fields as CSV, and rejects unknown fields, non-string values and broken lines', async () => {
    const p = join(dir, 'people.ndjson');
    const ok = { personal_id: composePersonalId('092', 1970, 'F', 5), full_name: 'Huỳnh Thị Lan', birth_date: '1970-09-09', sex: 'F', status: 'alive', died_on: null };
    writeFileSync(p, [
      JSON.stringify(ok),
      JSON.stringify({ ...ok, personal_id: composePersonalId('092', 1970, 'F', 6), nickname: 'Lan' }),
      JSON.stringify({ ...ok, personal_id: 920700000007 }),
      '{"personal_id": ',
      '',
      '[1,2]',
    ].join('\n') + '\n');
    const summary = await run(p);
    expect(summary).toMatchObject({ accepted: 1, rejected: 4 });
    expect(readFileSync(summary.rejects_file, 'utf8').trim().split('\n').slice(1)).toEqual([
      '2,*,UNKNOWN_FIELD', '3,personal_id,MALFORMED_ROW', '4,*,MALFORMED_ROW', '6,*,MALFORMED_ROW',
    ]);
  });

  // Audit of issue 2, finding 2: the key of an unknown field was written to the rejects file and
  // to import_rejects.field as it came.
  it('never writes the key of an unknown field anywhere: not to the rejects file, not to import_rejects', async () => {
    const p = join(dir, 'unknown-keys.ndjson');
    const ok = { personal_id: composePersonalId('093', 1975, 'M', 1), full_name: 'Tạ Văn Khóa', birth_date: '1975-01-01', sex: 'M', status: 'alive' };
    const secretId = composePersonalId('001', 1985, 'F', 299); // 001185000299
    writeFileSync(p, [
      JSON.stringify(ok),
      JSON.stringify({ ...ok, personal_id: composePersonalId('093', 1975, 'M', 2), [secretId]: 'x' }),
      JSON.stringify({ ...ok, personal_id: composePersonalId('093', 1975, 'M', 3), 'a,b\nc': 'x' }),
      JSON.stringify({ ...ok, personal_id: composePersonalId('093', 1975, 'M', 4), 'Lê Thị Bí Mật': 'x' }),
    ].join('\n') + '\n');
    const summary = await run(p);
    expect(summary).toMatchObject({ accepted: 1, rejected: 3 });
    const file = readFileSync(summary.rejects_file, 'utf8');
    expect(file).toBe('line,field,code\n2,*,UNKNOWN_FIELD\n3,*,UNKNOWN_FIELD\n4,*,UNKNOWN_FIELD\n');
    const stored = await db.pool.query<{ line: string; field: string; code: string }>('SELECT line::text, field, code FROM import_rejects WHERE run_id = $1 ORDER BY line', [summary.run_id]);
    expect(stored.rows).toEqual([2, 3, 4].map((line) => ({ line: String(line), field: '*', code: 'UNKNOWN_FIELD' })));
    for (const secret of [secretId, 'a,b', 'Bí Mật']) {
      expect(file).not.toContain(secret);
      expect(JSON.stringify(stored.rows)).not.toContain(secret);
    }
  });

  it('refuses a CSV whose header has an unknown or missing column, changing nothing', async () => {
    const before = await db.pool.query('SELECT count(*)::int AS n FROM persons');
    const p = write('bad-header.csv', ['personal_id,full_name,birth_date,sex,status,nickname', `${an},X,1990-05-01,M,alive,x`]);
    await expect(run(p)).rejects.toMatchObject({ code: 'IMPORT_FORMAT_INVALID' });
    const p2 = write('missing-col.csv', ['personal_id,full_name,birth_date,sex', `${an},X,1990-05-01,M`]);
    await expect(run(p2)).rejects.toThrow(/missing column\(s\) in the header: status/);
    const p3 = write('no-header.csv', [`${an},Nguyễn Văn An,1990-05-01,M,alive,,`]);
    await expect(run(p3)).rejects.toThrow(/unknown column\(s\) at position\(s\) 1, 2, 3, 4, 5, 6, 7/);
    await expect(run(p3)).rejects.not.toThrow(/Nguy/);
    const after = await db.pool.query('SELECT count(*)::int AS n FROM persons');
    expect(after.rows[0].n).toBe(before.rows[0].n);
  });

  it('refuses a second import of the same registry while one runs', async () => {
    const client = await db.pool.connect();
    try {
      await client.query('SELECT pg_advisory_lock(72026, 0)');
      await expect(run(join(dir, 'population.csv'))).rejects.toMatchObject({ code: 'IMPORT_ALREADY_RUNNING' });
    } finally {
      await client.query('SELECT pg_advisory_unlock_all()');
      client.release();
    }
  });
});

/** The pool, with every statement its clients send recorded (texts only). */
function recordingPool(statements: string[]): pg.Pool {
  return new Proxy(db.pool, {
    get(target, prop, receiver) {
      if (prop !== 'connect') return Reflect.get(target, prop, receiver);
      return async () => {
        const client = await target.connect();
        return new Proxy(client, {
          get(c, p2, r2) {
            if (p2 !== 'query') return Reflect.get(c, p2, r2);
            return (q: unknown, ...rest: unknown[]) => {
              statements.push(typeof q === 'string' ? q : ((q as { text?: string; _text?: string }).text ?? String((q as { constructor: { name: string } }).constructor.name)));
              return (c.query as (...a: unknown[]) => unknown).call(c, q, ...rest);
            };
          },
        });
      };
    },
  });
}

describe('first imports skip the probe, and fall back to it', () => {
  it('inserts batches of new people unprobed, and a duplicate of an earlier batch is still rejected as a duplicate', async () => {
    const ids = Array.from({ length: 6 }, (_, i) => composePersonalId('040', 1970, 'F', 600 + i));
    const rows = ids.map((id, i) => `${id},Đỗ Thị Hà Phương Thảo Nguyên,1970-03-0${i + 1},F,alive,,`); // over 64 bytes
    // Line 7 repeats line 3, two batches after it was committed.
    const lines = [HEADER, ...rows.slice(0, 5), rows[1]!, rows[5]!];
    const path = write('unprobed.csv', lines);
    // One line per read and chunks of 64 bytes: one row per batch.
    const open = () => Readable.from(lines.map((l) => Buffer.from(l + '\n')));
    const statements: string[] = [];
    const summary = await importRegistry({
      pool: recordingPool(statements), ring: db.ring, kind: 'population', path, open, rejectsPath: path + '.rejects.csv', workers: 2, chunkBytes: 64,
    });
    expect(summary).toMatchObject({ accepted: 6, unchanged: 0, rejected: 1 });
    expect(readFileSync(summary.rejects_file, 'utf8').trim().split('\n').slice(1)).toEqual(['7,personal_id,DUPLICATE_KEY']);
    const probes = statements.filter((q) => q.includes('FROM persons WHERE pid_bidx')).length;
    // Every batch commits, and so does the run's completion (import-runs.ts completeImportRun).
    const batches = statements.filter((q) => q === 'COMMIT').length - 1;
    // Probed: the first batch, the duplicate's batch after its unprobed insert failed, and the one after it.
    expect(batches).toBe(7);
    expect(probes).toBe(3);
    expect(statements.filter((q) => q === 'ROLLBACK')).toHaveLength(1);
    const stored = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM persons WHERE import_run_id = $1', [summary.run_id]);
    expect(stored.rows[0]!.n).toBe(6);

    // Imported again: every batch probes (each finds its row) and nothing changes.
    const again: string[] = [];
    const second = await importRegistry({
      pool: recordingPool(again), ring: db.ring, kind: 'population', path, open, rejectsPath: path + '.rejects2.csv', workers: 2, chunkBytes: 64,
    });
    expect(second).toMatchObject({ accepted: 0, unchanged: 6, rejected: 1 });
    expect(again.filter((q) => q.includes('FROM persons WHERE pid_bidx'))).toHaveLength(7);
    expect(again.filter((q) => q === 'ROLLBACK')).toHaveLength(0);
  });
});

describe("a carrier's first import probes only what the unique index cannot see", () => {
  it('inserts live rows unprobed, and still rejects a number repeated after a live or a terminated row of the file', async () => {
    const SUB_HEADER = 'msisdn,holder_personal_id,holder_full_name,holder_birth_date,channel,registered_at,status,sim_changed_at,device_changed_at';
    const row = (n: number, status: string) => `096123${String(n).padStart(4, '0')},${an},Nguyễn Văn An,1990-05-01,store,2024-01-01T08:00:00,${status},,`;
    const lines = [
      SUB_HEADER,
      row(4001, 'active'), // 2: A
      row(4002, 'terminated'), // 3: B, outside the unique index of live numbers
      row(4003, 'active'), // 4: C
      row(4001, 'active'), // 5: A again, live after live: the index refuses the unprobed COPY
      row(4002, 'active'), // 6: B again, live after terminated: found through the filter
      row(4003, 'terminated'), // 7: C again, terminated after live: terminated rows are probed
      row(4004, 'active'), // 8: D
    ];
    const path = write('first-carrier-import.csv', lines);
    // One line per read and chunks of 64 bytes: one row per batch.
    const open = () => Readable.from(lines.map((l) => Buffer.from(l + '\n')));
    const probe = (q: string) => q.includes('CROSS JOIN LATERAL (SELECT * FROM subscriptions');
    const statements: string[] = [];
    const options = { ring: db.ring, kind: 'subscriptions' as const, carrier: 'first-import-carrier', path, open, workers: 2, chunkBytes: 64 };
    const summary = await importRegistry({ ...options, pool: recordingPool(statements), rejectsPath: path + '.rejects.csv' });
    expect(summary).toMatchObject({ accepted: 4, unchanged: 0, rejected: 3 });
    expect(readFileSync(summary.rejects_file, 'utf8').trim().split('\n').slice(1)).toEqual(['5,msisdn,DUPLICATE_KEY', '6,msisdn,DUPLICATE_KEY', '7,msisdn,DUPLICATE_KEY']);
    expect(statements.filter((q) => q === 'COMMIT')).toHaveLength(7 + 1); // 7 batches, then the run's completion
    // Probed: B's batch (terminated), A's again after its unprobed COPY was refused, B's again
    // (the filter holds B), C's again (terminated). A, C and D were inserted unprobed.
    expect(statements.filter(probe)).toHaveLength(4);
    expect(statements.filter((q) => q === 'ROLLBACK')).toHaveLength(1);
    const stored = await db.pool.query<{ status: string; n: number }>(
      'SELECT status, count(*)::int AS n FROM subscriptions WHERE import_run_id = $1 GROUP BY status ORDER BY status', [summary.run_id]);
    expect(stored.rows).toEqual([{ status: 'active', n: 3 }, { status: 'terminated', n: 1 }]);

    // Imported again, the carrier is no longer new: every batch probes, and nothing changes.
    const again: string[] = [];
    const second = await importRegistry({ ...options, pool: recordingPool(again), rejectsPath: path + '.rejects2.csv' });
    expect(second).toMatchObject({ accepted: 0, unchanged: 4, rejected: 3 });
    expect(again.filter(probe)).toHaveLength(7);
    expect(again.filter((q) => q === 'ROLLBACK')).toHaveLength(0);
  });
});

describe('CSV details', () => {
  it('reads CRLF files and quoted fields, one record per line: a field broken across two lines is two malformed lines', async () => {
    const ids = [composePersonalId('060', 1960, 'M', 31), composePersonalId('060', 1960, 'M', 32), composePersonalId('060', 1960, 'M', 33)];
    const p = join(dir, 'crlf.csv');
    writeFileSync(p, [
      'personal_id,full_name,birth_date,sex,status,died_on,guardian_personal_ids',
      `${ids[0]},"Ngô Văn Tâm",1960-01-01,M,alive,,`,
      `${ids[1]},"Ngô Văn`, // a quoted field with a line break (no field may hold one): lines 3 and 4 rejected
      `Tú",1960-01-01,M,alive,,`,
      `${ids[2]},Ngô Văn Tài,1960-01-01,M,alive,,`, // line 5
      `${ids[2]},Ngô Văn Tài,1960-01-01,M,alive,,`, // line 6: duplicate
    ].join('\r\n') + '\r\n');
    const summary = await run(p);
    expect(summary).toMatchObject({ accepted: 2, rejected: 3 });
    expect(readFileSync(summary.rejects_file, 'utf8').trim().split('\n').slice(1)).toEqual(['3,*,MALFORMED_ROW', '4,*,MALFORMED_ROW', '6,personal_id,DUPLICATE_KEY']);
  });

  // Audit of issue 2, finding 1: a quote inside an unquoted field opened a "quoted field" that
  // swallowed every later line, neither imported nor rejected (or, past 16 MiB, failed the import).
  it('rejects a line with a stray quote, or a quote never closed, as that line only, and imports every other row', async () => {
    const pid = (n: number) => composePersonalId('064', 1964, 'F', n);
    const people = write('stray-quote.csv', [
      'personal_id,full_name,birth_date,sex,status',
      `${pid(1)},Phan Thị Một,1964-01-01,F,alive`,
      `${pid(2)},Phan "Thị Hai,1964-01-01,F,alive`, // line 3 of 6: a quote inside a field
      `${pid(3)},Phan Thị Ba,1964-01-01,F,alive`,
      `${pid(4)},Phan Thị Bốn,1964-01-01,F,alive`,
      `${pid(5)},Phan Thị Năm,1964-01-01,F,alive`,
    ]);
    const a = await run(people);
    expect(a).toMatchObject({ accepted: 4, unchanged: 0, rejected: 1 });
    expect(readFileSync(a.rejects_file, 'utf8')).toBe('line,field,code\n3,*,MALFORMED_ROW\n');

    const subscriptions = write('stray-quote-subscriptions.csv', [
      'msisdn,holder_personal_id,holder_full_name,holder_birth_date,channel,registered_at,status',
      `0964000001,${pid(1)},Phan Thị Một,1964-01-01,store,2024-01-01,active`,
      `0964000002,${pid(2)},Phan Thị Hai",1964-01-01,store,2024-01-01,active`, // line 3: a quote at a field's end
      `0964000003,${pid(3)},Phan Thị Ba,1964-01-01,store,2024-01-01,active`,
      `0964000004,${pid(4)},"Phan Thị Bốn,1964-01-01,store,2024-01-01,active`, // line 5: a quoted field never closed
      ...Array.from({ length: 40 }, (_, i) => `09641${String(i).padStart(5, '0')},${pid(5)},Phan Thị Năm,1964-01-01,online,2024-01-01,active`),
    ]);
    const b = await run(subscriptions, 'subscriptions', 'stray-quote');
    expect(b).toMatchObject({ accepted: 42, unchanged: 0, rejected: 2 });
    expect(b.accepted + b.unchanged + b.rejected).toBe(44);
    expect(readFileSync(b.rejects_file, 'utf8')).toBe('line,field,code\n3,*,MALFORMED_ROW\n5,*,MALFORMED_ROW\n');
    const stored = await db.pool.query(`SELECT count(*)::int AS n FROM subscriptions s JOIN carriers c ON c.id = s.carrier_id WHERE c.slug = 'stray-quote'`);
    expect(stored.rows[0].n).toBe(42);
  });
});

// Audit of issue 2, finding 5: Latin-1 bytes in a subscriber file were stored as U+FFFD (and found
// a false HOLDER_DATA_MISMATCH later), while the population file rejected them as NAME_INVALID.
describe('invalid UTF-8', () => {
  const latin1 = (s: string) => Buffer.from(s, 'latin1');
  const pid = (n: number) => composePersonalId('066', 1966, 'M', n);

  it('rejects the line as ENCODING_INVALID in population and subscription files, CSV and NDJSON, and imports the rest', async () => {
    const people = join(dir, 'latin1-population.csv');
    writeFileSync(people, Buffer.concat([
      Buffer.from(`personal_id,full_name,birth_date,sex,status\n${pid(1)},Đỗ Văn Một,1966-01-01,M,alive\n${pid(2)},`),
      latin1('Trân Thï Sáong'), Buffer.from(`,1966-01-01,M,alive\n${pid(3)},Đỗ Văn Ba,1966-01-01,M,alive\n`),
    ]));
    const a = await run(people);
    expect(a).toMatchObject({ accepted: 2, rejected: 1 });
    expect(readFileSync(a.rejects_file, 'utf8')).toBe('line,field,code\n3,full_name,ENCODING_INVALID\n');

    const header = 'msisdn,holder_personal_id,holder_full_name,holder_birth_date,channel,registered_at,status';
    const csv = join(dir, 'latin1-subscriptions.csv');
    writeFileSync(csv, Buffer.concat([
      Buffer.from(`${header}\n0966000001,${pid(1)},Đỗ Văn Một,1966-01-01,store,2024-01-01,active\n0966000002,${pid(2)},`),
      latin1('Trân Thï Sáong'), Buffer.from(`,1966-01-01,store,2024-01-01,active\n0966000003,${pid(3)},Đỗ Văn Ba,1966-01-01,store,2024-01-01,active\n`),
    ]));
    const b = await run(csv, 'subscriptions', 'latin1');
    expect(b).toMatchObject({ accepted: 2, rejected: 1 });
    expect(readFileSync(b.rejects_file, 'utf8')).toBe('line,field,code\n3,holder_full_name,ENCODING_INVALID\n');

    const nd = join(dir, 'latin1-subscriptions.ndjson');
    const object = (msisdn: string, n: number) => `{"msisdn":"${msisdn}","holder_personal_id":"${pid(n)}","holder_full_name":"`;
    const rest = '","holder_birth_date":"1966-01-01","channel":"store","registered_at":"2024-01-01","status":"active"}\n';
    writeFileSync(nd, Buffer.concat([
      Buffer.from(object('0966000004', 1) + 'Đỗ Văn Một' + rest), Buffer.from(object('0966000005', 2)), latin1('Trân Thï'), Buffer.from(rest),
      Buffer.from(object('0966000006', 3) + 'Đỗ Văn Ba' + rest),
    ]));
    const c = await run(nd, 'subscriptions', 'latin1');
    expect(c).toMatchObject({ accepted: 2, rejected: 1 });
    expect(readFileSync(c.rejects_file, 'utf8')).toBe('line,field,code\n2,holder_full_name,ENCODING_INVALID\n');
    const stored = await db.pool.query(`SELECT count(*)::int AS n FROM subscriptions s JOIN carriers c ON c.id = s.carrier_id WHERE c.slug = 'latin1'`);
    expect(stored.rows[0].n).toBe(4);
  });
});

describe('carriers', () => {
  it('are permanent: a carrier with subscriptions can be neither deleted, renumbered nor truncated (0021)', async () => {
    const path = write('carrier-permanent.csv', [
      'msisdn,holder_personal_id,holder_full_name,holder_birth_date,channel,registered_at,status,sim_changed_at,device_changed_at',
      `0961234570,${an},Nguyễn Văn An,1990-05-01,store,2024-01-01T08:00:00,active,,`,
    ]);
    expect(await run(path, 'subscriptions', 'permanent-carrier')).toMatchObject({ accepted: 1 });
    const { id } = (await db.pool.query<{ id: number }>(`SELECT id FROM carriers WHERE slug = 'permanent-carrier'`)).rows[0]!;
    for (const sql of [`DELETE FROM carriers WHERE id = ${id}`, `UPDATE carriers SET id = ${id + 1000} WHERE id = ${id}`, 'TRUNCATE carriers CASCADE']) {
      await expect(db.pool.query(sql), sql).rejects.toMatchObject({ code: '23001' });
    }
    await db.pool.query(`UPDATE carriers SET slug = 'permanent-carrier-renamed' WHERE id = ${id}`);
    expect((await db.pool.query('SELECT count(*)::int AS n FROM subscriptions WHERE carrier_id = $1', [id])).rows[0].n).toBe(1);
  });
});

describe('import progress', () => {
  it('reports as progress the bytes committed, never those read ahead: 100 % comes with the last commit', async () => {
    // Rows of one length, so the bytes committed say how many rows are: header + rows x length.
    const rows = Array.from({ length: 40 }, (_, i) => `${composePersonalId('025', 1980, 'M', 500 + i)},Đỗ Văn Bảo,1980-01-01,M,alive,,`);
    expect(new Set(rows.map((r) => Buffer.byteLength(r))).size).toBe(1);
    const path = write('progress.csv', [HEADER, ...rows]);
    const rowBytes = Buffer.byteLength(rows[0]!) + 1;
    const events: { bytes: number; totalBytes: number; rowsRead: number }[] = [];
    await importRegistry({
      pool: db.pool, ring: db.ring, kind: 'population', path, rejectsPath: path + '.rejects.csv', workers: 2, chunkBytes: 64,
      // Read 100 bytes at a time, so the file makes many chunks, several in flight at once.
      open: () => {
        const bytes = readFileSync(path);
        return Readable.from(Array.from({ length: Math.ceil(bytes.length / 100) }, (_, i) => bytes.subarray(i * 100, i * 100 + 100)));
      },
      onProgress: (p) => events.push({ bytes: p.bytes, totalBytes: p.totalBytes, rowsRead: p.rowsRead }),
    });
    expect(events.length).toBeGreaterThan(3);
    const total = statSync(path).size;
    for (const e of events.slice(0, -1)) expect(e.bytes).toBe(HEADER.length + 1 + e.rowsRead * rowBytes);
    expect(events.slice(0, -2).every((e) => e.bytes < total)).toBe(true);
    expect(events.at(-1)).toEqual({ bytes: total, totalBytes: total, rowsRead: 40 });
  });
});

describe('deaths', () => {
  it('refuses to bring a deceased person back from a row (an older file), unless told it is a correction', async () => {
    const pid = composePersonalId('031', 1970, 'M', 77);
    const alive = write('death-1.csv', [HEADER, `${pid},Phan Văn Tâm,1970-02-02,M,alive,,`]);
    const dead = write('death-2.csv', [HEADER, `${pid},Phan Văn Tâm,1970-02-02,M,deceased,2025-01-01,`]);
    expect(await run(alive)).toMatchObject({ accepted: 1 });
    expect(await run(dead)).toMatchObject({ accepted: 1, rejected: 0 });
    const status = async () => {
      const id = await findPersonIdByPersonalId(db.pool, db.ring, pid);
      return (await db.pool.query('SELECT status FROM persons WHERE id = $1', [id])).rows.map((r) => r.status);
    };
    expect(await status()).toEqual(['deceased']);
    // The older file again: refused, still deceased.
    const again = await run(alive);
    expect(again).toMatchObject({ accepted: 0, unchanged: 0, rejected: 1 });
    expect(readFileSync(again.rejects_file, 'utf8').trim().split('\n').slice(1)).toEqual(['2,status,DECEASED_IN_REGISTRY']);
    expect(await status()).toEqual(['deceased']);
    // A corrected death, said so.
    const corrected = await importRegistry({
      pool: db.pool, ring: db.ring, kind: 'population', path: alive, rejectsPath: alive + '.rejects.csv', workers: 1, correctDeaths: true,
    });
    expect(corrected).toMatchObject({ accepted: 1, rejected: 0 });
    expect(await status()).toEqual(['alive']);
    // The run's access record says it was allowed to correct deaths (the regulator's audit).
    const audit = await db.pool.query(`SELECT detail FROM access_records WHERE run_id IN ($1, $2) ORDER BY id`, [again.run_id, corrected.run_id]);
    expect(audit.rows.map((r) => r.detail)).toEqual([{ accepted: 0 }, { accepted: 1, correct_deaths: true }]);
  });

  it('an interrupted run is not resumed with --correct-deaths (nor one with it without): the file is read again in one mode', async () => {
    const pid = composePersonalId('031', 1971, 'F', 78);
    const other = composePersonalId('031', 1972, 'M', 79);
    expect(await run(write('mode-0.csv', [HEADER, `${pid},Phan Thị Hoa,1971-02-02,F,deceased,2025-01-01,`]))).toMatchObject({ accepted: 1 });
    const correction = write('mode-1.csv', [HEADER, `${pid},Phan Thị Hoa,1971-02-02,F,alive,,`, `${other},Lý Văn Hùng,1972-03-03,M,alive,,`]);
    // A run of this file without the option, interrupted after its first row (line 2) was refused.
    const interrupted = '0195f000-0000-7000-8000-000000000001';
    await db.pool.query(
      `INSERT INTO import_runs (id, kind, source_name, source_sha256, source_bytes, status, checkpoint_line, rows_read, rejected)
       VALUES ($1, 'population', 'mode-1.csv', $2, $3, 'failed', 2, 1, 1)`,
      [interrupted, await fileSha256(correction), statSync(correction).size]);
    await db.pool.query(`INSERT INTO import_rejects (run_id, line, field, code) VALUES ($1, 2, 'status', 'DECEASED_IN_REGISTRY')`, [interrupted]);
    const corrected = await importRegistry({
      pool: db.pool, ring: db.ring, kind: 'population', path: correction, rejectsPath: correction + '.rejects.csv', workers: 1, correctDeaths: true,
    });
    expect(corrected).toMatchObject({ resumed_after_line: 0, accepted: 2, rejected: 0 });
    const id = await findPersonIdByPersonalId(db.pool, db.ring, pid);
    expect((await db.pool.query('SELECT status FROM persons WHERE id = $1', [id])).rows).toEqual([{ status: 'alive' }]);
    const runs = await db.pool.query(`SELECT id, status, options FROM import_runs WHERE source_sha256 = $1 ORDER BY started_at`, [await fileSha256(correction)]);
    expect(runs.rows).toEqual([
      { id: interrupted, status: 'abandoned', options: {} },
      { id: corrected.run_id, status: 'completed', options: { correct_deaths: true } },
    ]);
  });
});
