/**
 * The CLI on registry files written by hand, not by `idbind generate` (issue 2, "Done means": "the
 * CLI flows above work on generated data and on hand-written files with edge cases"). The files
 * are what an operator or a carrier's engineer types or exports: a byte-order mark, CRLF and a
 * last line without a line break, blank lines, columns in another order, spaces around values,
 * quoted fields, names in NFC and NFD, month ends and 29 February, ID numbers whose digits
 * contradict the row, numbers written in every accepted form and some that are not, duplicates,
 * statuses in another case, and the online limit with ties. Each is run through the real `idbind`
 * binary; the exit status, the summary, the rejects file, the stored rows and the reconciliation's
 * categories are checked against the rules. Synthetic values only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { deriveMasterKeyId } from '../../src/kernel/crypto/master-keys.ts';
import { dataKeyFor, loadKeyRing, type KeyRing } from '../../src/kernel/crypto/key-ring.ts';
import { associatedData, openRecord } from '../../src/kernel/crypto/envelope.ts';
import { checkUploadStart } from '../../src/carriers/carrier-jobs.ts';

const BIN = new URL('../../bin/idbind.js', import.meta.url).pathname;
let db: TestDatabase;
let dir: string;
let env: NodeJS.ProcessEnv;
let masterKey: Buffer;

function idbind(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { env, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Writes a hand-made file (exact bytes: no line break is added) and returns its path. */
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function importJson(args: string[]) {
  const r = idbind(['import', ...args, '--json']);
  return { status: r.status, summary: JSON.parse(r.stdout) as { accepted: number; unchanged: number; rejected: number; rejects_file: string }, stderr: r.stderr };
}

/** The rejects file's lines after its header, and a check that it is the owner's only. */
function rejectsOf(path: string): string[] {
  expect(statSync(path).mode & 0o777).toBe(0o600);
  const lines = readFileSync(path, 'utf8').split('\n');
  expect(lines[0]).toBe('line,field,code');
  return lines.slice(1).filter((l) => l !== '');
}

let ring: KeyRing | undefined;
async function keyRing(): Promise<KeyRing> {
  ring ??= await loadKeyRing(db.pool, [{ id: deriveMasterKeyId(masterKey), key: masterKey }]);
  return ring;
}

/** Every stored person, opened (the test's own check of what the import stored). */
async function storedPeople(): Promise<{ personalId: string; fullName: string; birthDate: string; sex: string; status: string; diedOn: string; guardians: string }[]> {
  const r = await keyRing();
  const rows = await db.pool.query<{ id: string; sealed: Buffer; dek_version: number; status: string }>('SELECT id, sealed, dek_version, status FROM persons');
  return rows.rows.map((row) => {
    const f = openRecord(dataKeyFor(r, row.dek_version), row.sealed, associatedData('persons', 'sealed', row.id));
    return { personalId: f[0]!, fullName: f[1]!, birthDate: f[2]!, sex: f[3]!, status: row.status, diedOn: f[4]!, guardians: f[5]! };
  }).sort((a, b) => a.personalId.localeCompare(b.personalId));
}

/** A carrier's stored subscriptions, opened: number, holder's ID, name and birth date, and the row's channel, times and status. */
async function storedSubscriptions(carrier: string): Promise<string[][]> {
  const r = await keyRing();
  const rows = await db.pool.query<{ id: string; sealed: Buffer; dek_version: number; channel: string; registered_at: Date; status: string }>(
    `SELECT s.id, s.sealed, s.dek_version, s.channel, s.registered_at, s.status FROM subscriptions s JOIN carriers c ON c.id = s.carrier_id WHERE c.slug = $1`, [carrier],
  );
  return rows.rows.map((row) => [
    ...openRecord(dataKeyFor(r, row.dek_version), row.sealed, associatedData('subscriptions', 'sealed', row.id)),
    row.channel, row.registered_at.toISOString(), row.status,
  ]).sort((a, b) => a[0]!.localeCompare(b[0]!));
}

beforeAll(async () => {
  db = await createTestDatabase({ migrate: false });
  dir = mkdtempSync(join(tmpdir(), 'idbind-handwritten-'));
  masterKey = randomBytes(32);
  const { PATH, HOME } = process.env;
  env = { PATH, HOME, DATABASE_URL: db.url, IDBIND_MASTER_KEY: masterKey.toString('base64'), IDBIND_DATA_DIR: join(dir, 'data'), IDBIND_WORKERS: '1' };
});
afterAll(async () => {
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
});

const NFD = (s: string) => s.normalize('NFD');

// Synthetic ID numbers: province 001 (Hà Nội), century/sex digit, two year digits, serial.
// 0/1: 1900s man/woman; 2/3: 2000s.
const AN = '001090000001'; // man, 1990
const BE = '001190000002'; // woman, 1990
const HOA = '001196000003'; // woman, 1996 (29 February)
const MAI = '001300000020'; // woman, 2000 (29 February), deceased
const CON = '001208000017'; // boy, 2008, a minor with guardians

describe('a population file written by hand', () => {
  const rows = [
    // Columns in another order, spaces around the header's names.
    'sex,status, personal_id , full_name,birth_date,died_on,guardian_personal_ids',
    ` M , alive , ${AN} ,  Nguyễn  Văn   An , 1990-05-01 ,,`, // 2: spaces around and inside values
    `F,alive,${BE},${NFD('Trần Thị Bé')},1990-01-31,,`, // 3: a name in NFD, a month's last day
    `F,alive,${HOA},Lê Thị Hoa,1996-02-29,,`, // 4: 29 February of a leap year
    'F,alive,001197000004,Lê Thị Hoa,1997-02-29,,', // 5: 29 February of a common year
    'M,alive,001100000005,Phạm Văn Dũng,2100-01-01,,', // 6: born in the future
    'M,alive,001291000006,Phạm Văn Dũng,1991-01-01,,', // 7: century digit 2 (2000s) for 1991
    'M,alive,001191000007,Phạm Văn Dũng,1991-01-01,,', // 8: digit 1 is a woman's
    'M,alive,001192000008,Phạm Văn Dũng,1991-01-01,,', // 9: year digits 92 for 1991
    'M,deceased,001080000008,Hoàng Văn Tư,1980-12-31,1979-12-31,', // 10: died before birth
    'M,alive,001080000009,Hoàng Văn Tư,1980-12-31,2020-01-01,', // 11: a death date for the living
    'M,Alive,001080000010,Hoàng Văn Tư,1980-12-31,,', // 12: a status in another case
    'm,alive,001080000011,Hoàng Văn Tư,1980-12-31,,', // 13: a sex in another case
    '', // 14: blank
    `M,alive,${AN},Nguyễn Văn An,1990-05-01,,`, // 15: the same number again: the later row loses
    'M,alive,"001080000012","Ngô, Văn",1980-06-30,,', // 16: quoted, a comma inside a name
    'M,alive,001080000013,Đỗ Văn Bảy,1980-06-31,,', // 17: 31 June
    'M,alive,001080000014,Đỗ Văn Bảy,1980-06-30', // 18: a column short
    'M,alive,001080000015,Đỗ Văn Bảy,1980-06-30,,,', // 19: a column too many
    'M,alive,003080000016,Đỗ Văn Bảy,1980-06-30,,', // 20: 003 is no province code
    'M,alive,00108000001,Đỗ Văn Bảy,1980-06-30,,', // 21: 11 digits
    `M,alive,${CON},Bé Con,2008-06-30,,${AN}; ${BE}`, // 22: a minor with two guardians
    'M,alive,001208000018,Bé Con,2008-06-30,,001208000018', // 23: his own guardian
    'F,deceased,001100000019,Vũ Thị Mai,2000-02-29,2024-02-29,', // 24: digit 1 (1900s) for 2000
    `F,deceased,${MAI},Vũ Thị Mai,2000-02-29,2024-02-29,`, // 25: dead on a 29 February
    'M,alive,001000000021,Cụ Già,1900-02-29,,', // 26: 1900 was no leap year
    '   ', // 27: spaces only
    'M,alive,001080000022,Đỗ Văn 2,1980-06-30,,', // 28: a digit in a name
  ];
  // A byte-order mark, CRLF line ends, no line break after the last line.
  const text = '\uFEFF' + rows.join('\r\n');
  const expectedRejects = [
    '5,birth_date,DATE_INVALID',
    '6,birth_date,DATE_INVALID',
    '7,personal_id,PERSONAL_ID_CONTRADICTS_BIRTH_DATE',
    '8,personal_id,PERSONAL_ID_CONTRADICTS_SEX',
    '9,personal_id,PERSONAL_ID_CONTRADICTS_BIRTH_DATE',
    '10,died_on,DIED_ON_INCONSISTENT',
    '11,died_on,DIED_ON_INCONSISTENT',
    '12,status,STATUS_UNKNOWN',
    '13,sex,SEX_INVALID',
    '15,personal_id,DUPLICATE_KEY',
    '16,full_name,NAME_INVALID',
    '17,birth_date,DATE_INVALID',
    '18,*,MALFORMED_ROW',
    '19,*,MALFORMED_ROW',
    '20,personal_id,PERSONAL_ID_INVALID',
    '21,personal_id,PERSONAL_ID_INVALID',
    '23,guardian_personal_ids,GUARDIAN_ID_INVALID',
    '24,personal_id,PERSONAL_ID_CONTRADICTS_BIRTH_DATE',
    '26,birth_date,DATE_INVALID',
    '28,full_name,NAME_INVALID',
  ];

  it('takes the good rows, rejects each bad one with its physical line, field and precise code, and never a value', async () => {
    const path = file('population.csv', text);
    const r = importJson(['population', path]);
    expect(r.status).toBe(3);
    expect(r.summary).toMatchObject({ accepted: 5, unchanged: 0, rejected: expectedRejects.length });
    expect(r.summary.rejects_file).toBe(join(dir, 'data', 'rejects', 'population.population.csv.rejects.csv'));
    const rejects = rejectsOf(r.summary.rejects_file);
    expect(rejects).toEqual(expectedRejects);
    for (const value of ['001197000004', '001080000015', 'Hoàng', '1980-12-31']) expect(readFileSync(r.summary.rejects_file, 'utf8')).not.toContain(value);
    // Stored as the format says: trimmed, NFC, single spaces, guardians sorted.
    expect(await storedPeople()).toEqual([
      { personalId: AN, fullName: 'Nguyễn Văn An', birthDate: '1990-05-01', sex: 'M', status: 'alive', diedOn: '', guardians: '' },
      { personalId: BE, fullName: 'Trần Thị Bé'.normalize('NFC'), birthDate: '1990-01-31', sex: 'F', status: 'alive', diedOn: '', guardians: '' },
      { personalId: HOA, fullName: 'Lê Thị Hoa', birthDate: '1996-02-29', sex: 'F', status: 'alive', diedOn: '', guardians: '' },
      { personalId: CON, fullName: 'Bé Con', birthDate: '2008-06-30', sex: 'M', status: 'alive', diedOn: '', guardians: `${AN};${BE}` },
      { personalId: MAI, fullName: 'Vũ Thị Mai', birthDate: '2000-02-29', sex: 'F', status: 'deceased', diedOn: '2024-02-29', guardians: '' },
    ]);
  });

  it('changes nothing when imported again, nor when the same people come in NFC, LF and without the mark', async () => {
    const before = await db.pool.query('SELECT id, sealed, digest, updated_at FROM persons ORDER BY id');
    const again = importJson(['population', join(dir, 'population.csv')]);
    expect(again.status).toBe(3);
    expect(again.summary).toMatchObject({ accepted: 0, unchanged: 5, rejected: expectedRejects.length });
    expect(rejectsOf(again.summary.rejects_file)).toEqual(expectedRejects);
    const plain = file('population-plain.csv', [
      'personal_id,full_name,birth_date,sex,status,died_on,guardian_personal_ids',
      `${AN},Nguyễn Văn An,1990-05-01,M,alive,,`,
      `${BE},Trần Thị Bé,1990-01-31,F,alive,,`,
      `${CON},Bé Con,2008-06-30,M,alive,,${BE};${AN}`,
    ].join('\n') + '\n');
    const r = importJson(['population', plain]);
    expect(r.status).toBe(0);
    expect(r.summary).toMatchObject({ accepted: 0, unchanged: 3, rejected: 0 });
    expect((await db.pool.query('SELECT id, sealed, digest, updated_at FROM persons ORDER BY id')).rows).toEqual(before.rows);
  });
});

describe('files with nothing or no rows', () => {
  it('takes a header alone (CSV) and an empty NDJSON file as nothing to import, exit 0', () => {
    for (const [name, text] of [['header-only.csv', '\uFEFFpersonal_id,full_name,birth_date,sex,status\r\n'], ['header-no-break.csv', 'personal_id,full_name,birth_date,sex,status'], ['empty.ndjson', ''], ['blank.ndjson', '\n\r\n  \n']] as const) {
      const r = importJson(['population', file(name, text)]);
      expect(r.status, name).toBe(0);
      expect(r.summary, name).toMatchObject({ accepted: 0, unchanged: 0, rejected: 0 });
      expect(rejectsOf(r.summary.rejects_file)).toEqual([]);
    }
  });

  it('refuses a CSV file without a header row, or whose header misses a required column or has one the format does not define (exit 1)', () => {
    const cases: [string, string, RegExp][] = [
      ['empty.csv', '', /IMPORT_FORMAT_INVALID.*empty/],
      ['mark-only.csv', '\uFEFF', /IMPORT_FORMAT_INVALID.*empty/],
      ['no-status.csv', 'personal_id,full_name,birth_date,sex\n001090000001,Nguyễn Văn An,1990-05-01,M\n', /IMPORT_FORMAT_INVALID.*missing column.*status/],
      ['nickname.csv', 'personal_id,full_name,birth_date,sex,status,nickname\n', /IMPORT_FORMAT_INVALID.*position\(s\) 6/],
      // No header: the first row is taken for one, and its values are never echoed.
      ['no-header.csv', `${AN},Nguyễn Văn An,1990-05-01,M,alive\n`, /IMPORT_FORMAT_INVALID.*header row missing/],
    ];
    for (const [name, text, message] of cases) {
      const r = idbind(['import', 'population', file(name, text)]);
      expect(r.status, name).toBe(1);
      expect(r.stderr, name).toMatch(message);
      expect(r.stderr).not.toContain(AN);
      expect(r.stderr).not.toContain('Nguyễn');
    }
  });
});

const SUBSCRIPTION_HEADER = 'msisdn,holder_personal_id,holder_full_name,holder_birth_date,channel,registered_at,status,sim_changed_at,device_changed_at';

describe("a carrier's subscriber file written by hand, and its reconciliation", () => {
  const rows = [
    SUBSCRIPTION_HEADER,
    `0912345601,${AN},NGUYEN VAN AN,1990-05-01,store,2024-01-01,active,,`, // 2: clean (the name folds to the registry's)
    `84912345602,${AN},Nguyễn Văn An,1990-05-01,online,2024-01-02T08:00,active,,`, // 3: 84..., online 2nd
    `+84912345603,${AN},nguyễn văn an,1990-05-01,online,2024-01-03 08:00:00+07:00,active,,`, // 4: +84..., online 3rd
    ` 0912345604 , ${AN} , Nguyễn Văn An , 1990-05-01 , online , 2024-01-04T01:00:00Z , active ,,`, // 5: 4th, online: ONLINE_BEYOND_LIMIT
    `0912 345 605,${AN},Nguyễn Văn An,1990-05-01,store,2024-01-05,active,,`, // 6: spaces are not one of the accepted forms
    `0912.345.606,${AN},Nguyễn Văn An,1990-05-01,store,2024-01-05,active,,`, // 7: nor dots
    `02438123456,${AN},Nguyễn Văn An,1990-05-01,store,2024-01-05,active,,`, // 8: a Hà Nội landline
    `091234560,${AN},Nguyễn Văn An,1990-05-01,store,2024-01-05,active,,`, // 9: a digit short
    `09123456090,${AN},Nguyễn Văn An,1990-05-01,store,2024-01-05,active,,`, // 10: a digit too many
    `0912345610,${BE},Trần Thị Bé,1990-01-31,Online,2024-01-05,active,,`, // 11: a channel in another case
    `0912345611,${BE},Trần Thị Bé,1990-01-31,store,2024-01-05,Active,,`, // 12: a status in another case
    `0912345612,${BE},${NFD('Trần Thị Bé')},1990-01-31,vneid,2024-01-05,active,,`, // 13: NFD name: clean
    `0912345613,009999000000,Ma Văn Quỷ,1990-01-31,store,2024-01-05,active,,`, // 14: no such province
    `0912345614,001080000099,Ma Văn Quỷ,1980-01-01,store,2024-01-05,active,,`, // 15: HOLDER_NOT_FOUND
    `0912345615,,,,store,2024-01-05,active,,`, // 16: NO_HOLDER
    `0912345601,${AN},Nguyễn Văn An,1990-05-01,store,2024-01-01,active,,`, // 17: the number of line 2 again
    `+84912345601,${AN},Nguyễn Văn An,1990-05-01,store,2024-01-01,active,,`, // 18: and in another form
    `0912345616,${BE},Trần Thị Bé,1990-01-31,store,2099-01-05,active,,`, // 19: registered in 2099
    `0912345617,${BE},Trần Thị Bé,1990-02-30,store,2024-01-05,active,,`, // 20: 30 February
    `0912345618,${HOA},Lê Thị Hoa,1996-02-29,store,2024-02-29T23:59:59,active,2025-02-29,`, // 21: 29 February 2025
    `0912345619,${MAI},Vũ Thị Mai,2000-02-29,store,2024-01-05,active,,`, // 22: HOLDER_DECEASED
    `0912345620,${MAI},Vũ Thị Mai,2000-02-29,store,2024-01-05,terminated,,`, // 23: terminated: not classified
    `0912345621,${BE},Trần Thị Bé,,store,2024-01-05,active,,`, // 24: no birth date: HOLDER_DATA_MISMATCH
    `0912345622,${HOA},Lê Thị Hoa,1996-02-29,store,2024-02-29T23:59:59,blocked_outgoing,2024-03-01,`, // 25: clean
    `0912345623,${MAI},Vũ Thị Mai Anh,2000-02-29,online,2024-01-05,active,,`, // 26: deceased comes before mismatch
  ];
  const expectedRejects = [
    '6,msisdn,NOT_VIETNAMESE_MOBILE',
    '7,msisdn,NOT_VIETNAMESE_MOBILE',
    '8,msisdn,NOT_VIETNAMESE_MOBILE',
    '9,msisdn,NOT_VIETNAMESE_MOBILE',
    '10,msisdn,NOT_VIETNAMESE_MOBILE',
    '11,channel,CHANNEL_UNKNOWN',
    '12,status,STATUS_UNKNOWN',
    '14,holder_personal_id,PERSONAL_ID_INVALID',
    '17,msisdn,DUPLICATE_KEY',
    '18,msisdn,DUPLICATE_KEY',
    '19,registered_at,DATE_INVALID',
    '20,holder_birth_date,DATE_INVALID',
    '21,sim_changed_at,DATE_INVALID',
  ];
  let firstRun = '';

  it('imports the good rows and rejects each bad one precisely (exit 3)', async () => {
    const path = file('viettel.csv', rows.join('\n'));
    const r = importJson(['subscriptions', '--carrier', 'viettel', path]);
    expect(r.status).toBe(3);
    expect(r.summary).toMatchObject({ accepted: 12, unchanged: 0, rejected: expectedRejects.length });
    expect(rejectsOf(r.summary.rejects_file)).toEqual(expectedRejects);
    expect(readFileSync(r.summary.rejects_file, 'utf8')).not.toMatch(/0912|Ma Văn|2099/);
    const stored = await db.pool.query<{ status: string; channel: string; n: string }>(
      `SELECT status, channel, count(*) AS n FROM subscriptions s JOIN carriers c ON c.id = s.carrier_id WHERE c.slug = 'viettel' GROUP BY 1, 2 ORDER BY 1, 2`,
    );
    // Numbers in E.164 whatever form they were written in; values trimmed; names in NFC as written.
    const opened = await storedSubscriptions('viettel');
    expect(opened.slice(0, 5)).toEqual([
      ['+84912345601', AN, 'NGUYEN VAN AN', '1990-05-01', 'store', '2023-12-31T17:00:00.000Z', 'active'],
      ['+84912345602', AN, 'Nguyễn Văn An', '1990-05-01', 'online', '2024-01-02T01:00:00.000Z', 'active'],
      ['+84912345603', AN, 'nguyễn văn an', '1990-05-01', 'online', '2024-01-03T01:00:00.000Z', 'active'],
      ['+84912345604', AN, 'Nguyễn Văn An', '1990-05-01', 'online', '2024-01-04T01:00:00.000Z', 'active'],
      ['+84912345612', BE, 'Trần Thị Bé'.normalize('NFC'), '1990-01-31', 'vneid', '2024-01-04T17:00:00.000Z', 'active'],
    ]);
    expect(opened.map((o) => o[0])).toEqual(['01', '02', '03', '04', '12', '14', '15', '19', '20', '21', '22', '23'].map((n) => `+849123456${n}`));
    expect(stored.rows.map((x) => `${x.status}/${x.channel}/${x.n}`)).toEqual([
      'active/online/4', 'active/store/5', 'active/vneid/1', 'blocked_outgoing/store/1', 'terminated/store/1',
    ]);
  });

  it('reconciles into the issue\'s categories, first that applies, and lists the numbers per carrier', () => {
    const r = idbind(['reconcile', '--json', '--out', join(dir, 'actions')]);
    expect(r.status).toBe(0);
    const run = JSON.parse(r.stdout);
    firstRun = run.run_id;
    expect(run.subscriptions).toBe(11);
    expect(run.categories).toEqual({ NO_HOLDER: 1, HOLDER_NOT_FOUND: 1, HOLDER_DECEASED: 2, HOLDER_DATA_MISMATCH: 1, ONLINE_BEYOND_LIMIT: 1 });
    const list = readFileSync(join(dir, 'actions', 'viettel.csv'), 'utf8').trim().split('\n');
    expect(list[0]).toBe('msisdn,category');
    expect(list.slice(1).sort()).toEqual([
      '+84912345604,ONLINE_BEYOND_LIMIT',
      '+84912345614,HOLDER_NOT_FOUND',
      '+84912345615,NO_HOLDER',
      '+84912345619,HOLDER_DECEASED',
      '+84912345621,HOLDER_DATA_MISMATCH',
      '+84912345623,HOLDER_DECEASED',
    ]);
  });

  it('changes nothing when the file is imported again: same counts, and a new run finds nothing new or resolved', () => {
    const again = importJson(['subscriptions', '--carrier', 'viettel', join(dir, 'viettel.csv')]);
    expect(again.status).toBe(3);
    expect(again.summary).toMatchObject({ accepted: 0, unchanged: 12, rejected: expectedRejects.length });
    expect(rejectsOf(again.summary.rejects_file)).toEqual(expectedRejects);
    const run = JSON.parse(idbind(['reconcile', '--json']).stdout);
    expect(run.run_id).not.toBe(firstRun);
    expect(run.categories).toEqual({ NO_HOLDER: 1, HOLDER_NOT_FOUND: 1, HOLDER_DECEASED: 2, HOLDER_DATA_MISMATCH: 1, ONLINE_BEYOND_LIMIT: 1 });
    for (const c of Object.values(run.compared_to_previous) as { new: number; resolved: number }[]) expect(c).toEqual({ new: 0, resolved: 0 });
  });
});

describe('the online limit on a hand-written file: ties on registered_at, terminated rows, video and vneid', () => {
  it('counts the holder\'s live subscriptions in registered_at order, ties by number, and flags only online ones from the fourth', () => {
    const A = `${HOA},Lê Thị Hoa,1996-02-29`;
    // Every row registered at the same instant, written four ways; the file is not in number order.
    const path = file('mobifone.csv', [
      'msisdn,holder_personal_id,holder_full_name,holder_birth_date,channel,registered_at,status',
      `0901000009,${A},online,2024-03-01T08:00:00+07:00,active`, // 5th: beyond
      `0901000005,${A},online,2024-03-01T01:00:00Z,active`, // 2nd
      `0901000001,${A},store,2024-03-01 08:00,terminated`, // terminated: takes no place
      `0901000007,${A},video,2024-03-01T08:00,blocked_both`, // 3rd: video is not online
      `0901000003,${A},vneid,2024-03-01T08:00:00.000+0700,active`, // 1st
      `0901000008,${A},online,2024-03-01T08:00:00+07:00,blocked_outgoing`, // 4th: beyond
      `0901000010,${A},vneid,2024-03-01T08:00,active`, // 6th, vneid: clean
    ].join('\r\n') + '\r\n');
    const r = importJson(['subscriptions', '--carrier', 'mobifone', path]);
    expect(r.status).toBe(0);
    expect(r.summary).toMatchObject({ accepted: 7, rejected: 0 });
    const run = JSON.parse(idbind(['reconcile', '--json', '--out', join(dir, 'actions-2')]).stdout);
    expect(run.by_carrier.mobifone).toEqual({ NO_HOLDER: 0, HOLDER_NOT_FOUND: 0, HOLDER_DECEASED: 0, HOLDER_DATA_MISMATCH: 0, ONLINE_BEYOND_LIMIT: 2 });
    expect(readFileSync(join(dir, 'actions-2', 'mobifone.csv'), 'utf8').trim().split('\n').slice(1).sort()).toEqual([
      '+84901000008,ONLINE_BEYOND_LIMIT', '+84901000009,ONLINE_BEYOND_LIMIT',
    ]);
  });
});

describe('hand-written CSV quoting and header placement', () => {
  // A person typing CSV puts a space after each comma; unquoted values are trimmed, and a quoted
  // one (a name with a comma, or quoted out of habit) was rejected as MALFORMED_ROW for the space
  // before its opening quote, the whole header refused as "not well-formed CSV" for the same.
  it('takes spaces or tabs around a quoted field, as around an unquoted one; a quote inside a value is still malformed', async () => {
    const path = file('spaced-quotes.csv', [
      '"personal_id", "full_name", "birth_date", sex, status',
      '001090000042, "Mai Văn Năm", 1990-01-01, M, alive',
      '"001090000043" ,\t"Mai Văn Sáu"\t, 1990-01-01 , M , alive ',
      '001090000044, Mai "Văn" Bảy, 1990-01-01, M, alive',
      '001090000045, "Mai Văn" Tám, 1990-01-01, M, alive',
    ].join('\n') + '\n');
    const r = importJson(['population', path]);
    expect(r.stderr).toBe('');
    expect(r.summary).toMatchObject({ accepted: 2, unchanged: 0, rejected: 2 });
    expect(r.status).toBe(3);
    expect(rejectsOf(r.summary.rejects_file)).toEqual(['4,*,MALFORMED_ROW', '5,*,MALFORMED_ROW']);
    const people = await storedPeople();
    expect(people.filter((p) => ['001090000042', '001090000043'].includes(p.personalId)).map((p) => p.fullName)).toEqual(['Mai Văn Năm', 'Mai Văn Sáu']);
  });

  it('says a CSV file whose first line is blank has no header on line 1, not that it is empty', () => {
    const r = idbind(['import', 'population', file('blank-first-line.csv', '\r\npersonal_id,full_name,birth_date,sex,status\r\n001090000041,Mai Văn Bốn,1990-01-01,M,alive\r\n')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/IMPORT_FORMAT_INVALID/);
    expect(r.stderr).not.toMatch(/file is empty/);
    expect(r.stderr).toMatch(/line 1 is blank/);
    // The carriers' upload check reads line 1 as the header through the same checkHeader.
    const upload = `\r\n${SUBSCRIPTION_HEADER}\r\n0912345601,,,,store,2024-01-01,active,,\r\n`;
    expect(() => checkUploadStart(Buffer.from(upload), true, 'csv')).toThrow(/line 1 is blank/);
    expect(() => checkUploadStart(Buffer.from(`${SUBSCRIPTION_HEADER},\r\n`), true, 'csv')).toThrow(/no name at position 10/);
    // A line of commas alone is not blank: a header whose names were left out.
    expect(() => checkUploadStart(Buffer.from(',,,,\r\n0912345601,,,,\r\n'), true, 'csv')).toThrow(/no column names/);
  });
});

describe('names with an apostrophe typed as a typographic one', () => {
  // Ê Đê, Gia Rai and other names of the Central Highlands hold an apostrophe ("H'Hen Niê"), which
  // word processors and spreadsheets turn into ’ (U+2019) as it is typed. The population file's
  // row was rejected (NAME_INVALID: only ' is a name's character), and a carrier's ’ against the
  // registry's ' was a HOLDER_DATA_MISMATCH: a junk SIM for a correctly registered person.
  it('stores ’ as the apostrophe it stands for, so the person is taken and the carrier\'s spelling matches', async () => {
    const H = '066192000001'; // Đắk Lắk, a woman born in 1992
    const pop = importJson(['population', file('highlands.csv', `personal_id,full_name,birth_date,sex,status\n${H},H\u2019Hen Niê,1992-03-01,F,alive\n`)]);
    expect(pop.summary).toMatchObject({ accepted: 1, rejected: 0 });
    expect(pop.status).toBe(0);
    expect((await storedPeople()).find((p) => p.personalId === H)?.fullName).toBe("H'Hen Niê");
    const subs = importJson(['subscriptions', '--carrier', 'gmobile', file('gmobile.csv', [
      'msisdn,holder_personal_id,holder_full_name,holder_birth_date,channel,registered_at,status',
      `0991000001,${H},H'Hen Niê,1992-03-01,store,2024-01-01,active`,
      `0991000002,${H},H\u2019HEN NIE,1992-03-01,store,2024-01-01,active`,
    ].join('\n') + '\n')]);
    expect(subs.summary).toMatchObject({ accepted: 2, rejected: 0 });
    const run = JSON.parse(idbind(['reconcile', '--json']).stdout);
    expect(run.by_carrier.gmobile).toEqual({ NO_HOLDER: 0, HOLDER_NOT_FOUND: 0, HOLDER_DECEASED: 0, HOLDER_DATA_MISMATCH: 0, ONLINE_BEYOND_LIMIT: 0 });
  });
});

describe('header rows as spreadsheets save them', () => {
  // Refused either way (exit 1): the message must say what is wrong, not send the engineer looking
  // for a missing header row.
  it('names a trailing comma (an empty column name) and lines ended by CR alone for what they are', () => {
    const trailing = idbind(['import', 'population', file('trailing-comma.csv', 'personal_id,full_name,birth_date,sex,status,\r\n001090000051,Mai Văn Một,1990-01-01,M,alive,\r\n')]);
    expect(trailing.status).toBe(1);
    expect(trailing.stderr).toMatch(/IMPORT_FORMAT_INVALID.*no name.*position 6/);
    const classicMac = idbind(['import', 'population', file('classic-mac.csv', 'personal_id,full_name,birth_date,sex,status\r001090000052,Mai Văn Hai,1990-01-01,M,alive\r')]);
    expect(classicMac.status).toBe(1);
    expect(classicMac.stderr).toMatch(/IMPORT_FORMAT_INVALID.*carriage return/);
    expect(classicMac.stderr).not.toContain('001090000052');
  });
});

describe('times as a database exports them', () => {
  // PostgreSQL writes a timestamptz as `2024-01-05 08:00:00+07` (ISO 8601 allows an offset of
  // hours alone); a carrier's engineer exporting the subscriber table with COPY gets that form.
  it('takes an offset of hours alone (+07, -05), and stores the instant it names', async () => {
    const path = file('reddi.csv', [
      'msisdn,holder_personal_id,holder_full_name,holder_birth_date,channel,registered_at,status,sim_changed_at,device_changed_at',
      `0559000001,${AN},Nguyễn Văn An,1990-05-01,store,2024-01-05 08:00:00+07,active,2024-02-01 10:30:00.123456+07,2024-02-02T00:00:00-05`,
      `0559000002,${AN},Nguyễn Văn An,1990-05-01,store,2024-01-05 08:00:00+7,active,,`,
      `0559000003,${AN},Nguyễn Văn An,1990-05-01,store,2024-01-05 08:00:00+07:,active,,`,
    ].join('\n') + '\n');
    const r = importJson(['subscriptions', '--carrier', 'reddi', path]);
    expect(rejectsOf(r.summary.rejects_file)).toEqual(['3,registered_at,DATE_INVALID', '4,registered_at,DATE_INVALID']);
    expect(r.summary).toMatchObject({ accepted: 1, rejected: 2 });
    const stored = await db.pool.query<{ registered_at: Date; sim_changed_at: Date; device_changed_at: Date }>(
      `SELECT registered_at, sim_changed_at, device_changed_at FROM subscriptions s JOIN carriers c ON c.id = s.carrier_id WHERE c.slug = 'reddi'`,
    );
    expect(stored.rows.map((x) => [x.registered_at.toISOString(), x.sim_changed_at.toISOString(), x.device_changed_at.toISOString()])).toEqual([
      ['2024-01-05T01:00:00.000Z', '2024-02-01T03:30:00.123Z', '2024-02-02T05:00:00.000Z'],
    ]);
  });
});

describe('an NDJSON population file written by hand', () => {
  it('ignores a byte-order mark, reads CRLF and blank lines, numbers rejects by physical line, and takes null as empty', async () => {
    const lines = [
      '{"personal_id":"001090000061","full_name":"Mai Văn Một","birth_date":"1990-01-01","sex":"M","status":"alive","died_on":null}',
      '',
      '  {"status":"alive","sex":"F","birth_date":"1990-12-31","full_name":"Mai Thị Hai","personal_id":"001190000062"}  ',
      '{"personal_id":"001090000063","full_name":"Mai Văn Ba","birth_date":"1990-01-01","sex":"M","status":"Alive"}',
      '{"personal_id":1090000064,"full_name":"Mai Văn Bốn","birth_date":"1990-01-01","sex":"M","status":"alive"}',
      '{"personal_id":"001090000065","full_name":"Mai Văn Năm","birth_date":"1990-01-01","sex":"M","status":"alive"},',
      '{"personal_id":"001090000061","full_name":"Mai Văn Một","birth_date":"1990-01-01","sex":"M","status":"alive"}',
    ];
    const r = importJson(['population', file('people.ndjson', '\uFEFF' + lines.join('\r\n'))]);
    expect(r.status).toBe(3);
    expect(r.summary).toMatchObject({ accepted: 2, rejected: 4 });
    expect(rejectsOf(r.summary.rejects_file)).toEqual(['4,status,STATUS_UNKNOWN', '5,personal_id,MALFORMED_ROW', '6,*,MALFORMED_ROW', '7,personal_id,DUPLICATE_KEY']);
    const people = (await storedPeople()).filter((p) => ['001090000061', '001190000062', '001090000063', '001090000065'].includes(p.personalId));
    expect(people.map((p) => [p.personalId, p.fullName, p.sex])).toEqual([['001090000061', 'Mai Văn Một', 'M'], ['001190000062', 'Mai Thị Hai', 'F']]);
  });
});

describe('a spreadsheet saved with another separator', () => {
  // Excel on Windows with Vietnamese regional settings (decimal comma) separates CSV columns with
  // ';'; a tab-separated export saved as .csv is the other common one. Refused either way (exit 1),
  // with the reason, not "unknown column at position 1, is the header row missing?".
  it('names the separator it found', () => {
    for (const [name, sep, word] of [['semicolons.csv', ';', 'semicolon'], ['tabs.csv', '\t', 'tab']] as const) {
      const header = ['personal_id', 'full_name', 'birth_date', 'sex', 'status'].join(sep);
      const r = idbind(['import', 'population', file(name, `${header}\r\n${['001090000081', 'Mai Văn Chín', '1990-01-01', 'M', 'alive'].join(sep)}\r\n`)]);
      expect(r.status, name).toBe(1);
      expect(r.stderr, name).toMatch(new RegExp(`IMPORT_FORMAT_INVALID.*separated by ${word}s`));
    }
  });
});

describe('a file name ending in upper case', () => {
  // Windows and older export tools write PEOPLE.CSV; the format is chosen by the ending, and .CSV
  // is no other format than .csv.
  it('chooses the format by the ending in any case', () => {
    const csv = importJson(['population', file('PEOPLE.CSV', 'personal_id,full_name,birth_date,sex,status\r\n001090000071,Mai Văn Bảy,1990-01-01,M,alive\r\n')]);
    expect(csv.status).toBe(0);
    expect(csv.summary).toMatchObject({ accepted: 1, rejected: 0 });
    const ndjson = importJson(['population', file('People.NDJSON', '{"personal_id":"001090000072","full_name":"Mai Văn Tám","birth_date":"1990-01-01","sex":"M","status":"alive"}\n')]);
    expect(ndjson.status).toBe(0);
    expect(ndjson.summary).toMatchObject({ accepted: 1, rejected: 0 });
    expect(idbind(['import', 'population', file('people.txt', 'personal_id\n')]).status).toBe(1);
  });

  it('takes a delta file named EVENTS.NDJSON as NDJSON too', () => {
    const r = importJson(['subscription-events', '--carrier', 'viettel', file('EVENTS.NDJSON', '{"event_id":"hand-1","type":"blocked_outgoing","msisdn":"0912345601","at":"2024-06-01T08:00:00+07:00"}\n')]);
    expect(r.stderr).not.toMatch(/must end in \.ndjson/);
    // Read and applied or refused by the number's state: either way, its one line was read.
    expect(r.summary.accepted + r.summary.rejected).toBe(1);
  });
});

describe('a file whose content is not the format its name says', () => {
  // The carriers' upload check refuses these whole (carrier-jobs.ts checkUploadStart), and
  // docs/formats.md says the CLI and the API apply the same rules. The CLI rejected a JSON array
  // or a pretty-printed object line by line as MALFORMED_ROW (exit 3, nothing taken), and a JSON
  // file named .csv as having unknown columns.
  it('refuses a JSON array, a CSV or a UTF-16 file named .ndjson, and JSON named .csv, as the API does (exit 1)', () => {
    const person = { personal_id: '001090000091', full_name: 'Mai Văn Mười', birth_date: '1990-01-01', sex: 'M', status: 'alive' };
    const cases: [string, string | Buffer, RegExp][] = [
      ['array.ndjson', JSON.stringify([person], null, 2) + '\n', /not NDJSON/],
      ['csv-named.ndjson', 'personal_id,full_name,birth_date,sex,status\n001090000091,Mai Văn Mười,1990-01-01,M,alive\n', /not NDJSON/],
      ['utf16.ndjson', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(JSON.stringify(person) + '\n', 'utf16le')]), /UTF-16/],
      ['json-named.csv', '\uFEFF' + JSON.stringify(person) + '\n', /JSON, not CSV/],
    ];
    for (const [name, content, message] of cases) {
      const path = join(dir, name);
      writeFileSync(path, content);
      const r = idbind(['import', 'population', path]);
      expect(r.status, name).toBe(1);
      expect(r.stderr, name).toMatch(/IMPORT_FORMAT_INVALID/);
      expect(r.stderr, name).toMatch(message);
      expect(r.stderr).not.toContain('001090000091');
    }
  });
});
