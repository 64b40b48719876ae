/**
 * Everything the hub and the CLI emit carries no personal field (DESIGN.md invariant 2; README
 * "IDBIND_LOG_LEVEL": "logs never carry a personal field"), scanned end to end: a generated
 * registry imported with the real `idbind` binary (with bad rows), reconciled, then `idbind serve`
 * in production mode at log level trace, driven through the whole verification API with the
 * registry's own numbers (start, resend, wrong and right codes, status, bulk status, unbind),
 * webhooks to a local receiver, failed requests carrying personal values (bad numbers, malformed
 * JSON, unknown fields, rate limits, bad keys), a carrier upload, key rotations; and a demo hub
 * on its own data directory. Collected: every process's stdout and stderr, the rejects files, the
 * carrier job's rejects, /metrics, every problem document answered, and every file written to the
 * data directories (the embedded PostgreSQL's cluster included, byte for byte). None may hold a
 * phone number in any written form, a personal ID number, a name, a birth date, a one-time code,
 * an API key, a webhook secret or a pseudonym (each only where it is the answer to its caller:
 * a confirm's reply, a webhook body, the SMS gateway, the demo's printed banner).
 *
 * Named `.test.ts`, not `.db.test.ts`: it never uses DATABASE_URL (the hub's own embedded
 * PostgreSQL, as an operator runs it, whose files it scans), so CI's second pass against the system
 * PostgreSQL 15 would only run it again as it is.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';

const BIN = new URL('../../bin/idbind.js', import.meta.url).pathname;
const DUMP = process.env.PRIVACY_DUMP_DIR;
/** Marks the output of a command whose answer is a secret it made (a new API key, shown once). */
const OWN_SECRET = '[prints its own new secret]'; // set to keep what was collected, for a human to read

/** One thing the hub or the CLI emitted, named by where it came from. */
interface Emission { source: string; text: string }
const emitted: Emission[] = [];
const emit = (source: string, text: string) => void emitted.push({ source, text });

let dir: string;
let baseEnv: NodeJS.ProcessEnv;

function idbind(args: string[], extraEnv: NodeJS.ProcessEnv = {}, source = `idbind ${args.slice(0, 2).join(' ')}`) {
  const r = spawnSync(process.execPath, [BIN, ...args], { env: { ...baseEnv, ...extraEnv }, encoding: 'utf8', timeout: 180_000 });
  emit(`${source} (stdout)`, r.stdout);
  emit(`${source} (stderr)`, r.stderr);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

// ---------------------------------------------------------------- the registry's personal values

/** A CSV line's fields (the generator quotes a field only when it must). */
function csvFields(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') { cur += '"'; i++; } else if (c === '"') quoted = false; else cur += c;
    } else if (c === '"') quoted = true; else if (c === ',') { out.push(cur); cur = ''; } else cur += c;
  }
  out.push(cur);
  return out;
}
function csvRows(file: string): Record<string, string>[] {
  const [head, ...lines] = readFileSync(file, 'utf8').trim().split('\n');
  const names = csvFields(head!);
  return lines.map((l) => Object.fromEntries(csvFields(l).map((v, i) => [names[i]!, v])));
}

interface Registry {
  people: Record<string, string>[];
  subs: (Record<string, string> & { carrier: string })[];
}
function readRegistry(genDir: string, carriers: string[]): Registry {
  return {
    people: csvRows(join(genDir, 'population.csv')),
    subs: carriers.flatMap((carrier) => csvRows(join(genDir, `${carrier}.csv`)).map((r) => ({ ...r, carrier }))),
  };
}
/** The 9 significant digits of a Vietnamese mobile number in any of its written forms. */
const significant = (msisdn: string) => msisdn.replace(/^(\+84|84|0)/, '');

/** A needle: a value that must not appear, and what it is. */
/**
 * `digits`: found inside any run of digits (spaces, dots or dashes between them allowed), as a
 * number is written. `token`: found only as a whole run of digits of its own length: a one-time
 * code is 6 digits, which every long run of digits holds by chance (a log's response time
 * 13.619200999997702 holds twelve), and a code is written whole, as the SMS text writes it.
 */
interface Needle { value: string; kind: string; digits?: boolean; token?: boolean }
function registryNeedles(reg: Registry): Needle[] {
  const needles: Needle[] = [];
  for (const p of reg.people) {
    needles.push({ value: p.personal_id!, kind: 'personal ID', digits: true });
    needles.push({ value: p.full_name!, kind: 'full name' });
  }
  for (const s of reg.subs) {
    // Every written form: 0XXXXXXXXX, 84XXXXXXXXX and +84XXXXXXXXX all hold these 9 digits.
    needles.push({ value: significant(s.msisdn!), kind: 'phone number', digits: true });
    if (s.holder_personal_id) needles.push({ value: s.holder_personal_id, kind: 'personal ID', digits: true });
    if (s.holder_full_name) needles.push({ value: s.holder_full_name, kind: 'full name' });
  }
  return needles;
}

/**
 * Finds needles in large texts (a 16 MB WAL segment, megabytes of trace log) fast enough: digits
 * through every run of digits in the text (single spaces, dots or dashes between digits allowed,
 * as people write numbers: 0912 345 678), each substring of a needle's length in a set; names and
 * secrets by plain search, names case-folded too, grouped by their first word.
 */
class Haystack {
  private readonly bySize = new Map<number, Map<string, number>>();
  private readonly folded: string;
  constructor(readonly text: string, sizes: number[]) {
    this.folded = text.normalize('NFC').toLowerCase();
    for (const size of sizes) this.bySize.set(size, new Map());
    for (const m of text.matchAll(/\d(?:[ .-]?\d)*/g)) {
      const run = m[0].replace(/[ .-]/g, '');
      for (const [size, set] of this.bySize) {
        for (let i = 0; i + size <= run.length; i++) {
          const sub = run.slice(i, i + size);
          if (!set.has(sub)) set.set(sub, m.index);
        }
      }
    }
  }
  /** Where a digits needle occurs, or -1. */
  findDigits(value: string): number {
    return this.bySize.get(value.length)?.get(value) ?? -1;
  }
  /** Each occurrence of `word` in the case-folded text (a name's first word: a family name). */
  *wordAt(word: string): Generator<number> {
    for (let at = this.folded.indexOf(word); at >= 0; at = this.folded.indexOf(word, at + 1)) yield at;
  }
  foldedAt(at: number, value: string): boolean {
    return this.folded.startsWith(value, at);
  }
  context(at: number, length: number): string {
    return this.folded.slice(Math.max(0, at - 80), at + length + 80);
  }
}

const fold = (s: string) => s.normalize('NFC').toLowerCase();

/** Every (source, needle) hit, with a little context, as one readable list. */
function leaks(emissions: Emission[], needles: Needle[]): string[] {
  expect(needles.every((n) => typeof n.value === 'string' && n.value.length >= 6), 'every needle is a value').toBe(true);
  const unique = [...new Map(needles.map((n) => [`${n.kind}:${n.value}`, n])).values()];
  const digits = unique.filter((n) => n.digits);
  const tokens = unique.filter((n) => n.token);
  const sizes = [...new Set(digits.map((n) => n.value.length))];
  // Names and secrets, grouped by their first word (a family name, or a key's prefix): one search per group.
  const byWord = new Map<string, Needle[]>();
  for (const n of unique.filter((x) => !x.digits && !x.token)) {
    const word = fold(n.value).split(' ')[0]!.slice(0, 24);
    byWord.set(word, [...(byWord.get(word) ?? []), n]);
  }
  const found: string[] = [];
  for (const e of emissions) {
    // A URL's percent-encoding hides nothing: %2B84..., Nguy%E1%BB%85n.
    let text = e.text;
    if (/%[0-9A-Fa-f]{2}/.test(text) && text.length < 10_000_000) {
      text += '\n' + text.replace(/(?:%[0-9A-Fa-f]{2})+/g, (m) => { try { return decodeURIComponent(m); } catch { return m; } });
    }
    const hay = new Haystack(text, sizes);
    const hit = (n: Needle, at: number, context: string) => found.push(`${e.source}: ${n.kind} ${JSON.stringify(n.value)} in …${JSON.stringify(context)}…`);
    for (const n of digits) {
      const at = hay.findDigits(n.value);
      if (at >= 0) hit(n, at, text.slice(Math.max(0, at - 80), at + n.value.length + 80));
    }
    for (const n of tokens) {
      const at = text.search(new RegExp(`(?<!\\d)${n.value}(?!\\d)`));
      if (at >= 0) hit(n, at, text.slice(Math.max(0, at - 80), at + n.value.length + 80));
    }
    for (const [word, group] of byWord) {
      for (const at of hay.wordAt(word)) {
        for (const n of group) if (hay.foldedAt(at, fold(n.value))) hit(n, at, hay.context(at, n.value.length));
      }
    }
  }
  return [...new Set(found)];
}

// ---------------------------------------------------------------- local receivers

interface Received { path: string; body: string }
async function startReceiver(): Promise<{ url: string; requests: Received[]; close(): Promise<void> }> {
  const requests: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ path: req.url ?? '', body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(req.url?.startsWith('/down') ? 500 : 200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

// ---------------------------------------------------------------- a served hub

interface Served { url: string; child: ChildProcess; out: { stdout: string; stderr: string }; stop(): Promise<void> }
async function serve(name: string, args: string[], env: NodeJS.ProcessEnv): Promise<Served> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', ...args], { env: { ...baseEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  child.stdout!.on('data', (c: Buffer) => (out.stdout += c.toString('utf8')));
  child.stderr!.on('data', (c: Buffer) => (out.stderr += c.toString('utf8')));
  for (let i = 0; i < 3600 && !out.stdout.includes('Press Ctrl-C to stop.') && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 50));
  const m = /web app:\s+(http:\/\/[^\s]+?)\/?\n/.exec(out.stdout);
  if (!m) throw new Error(`serve did not start: ${out.stdout}\n${out.stderr}`);
  return {
    url: m[1]!,
    child,
    out,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      emit(`${name} (stdout)`, out.stdout);
      emit(`${name} (stderr)`, out.stderr);
    },
  };
}

/** Every file under a directory, as text (binary files too: a clear value in them is a leak). */
function filesUnder(root: string, skip: (path: string) => boolean = () => false): Emission[] {
  const out: Emission[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (skip(p)) continue;
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) out.push({ source: `file ${p.slice(root.length + 1)}`, text: readFileSync(p).toString('utf8') });
    }
  };
  walk(root);
  return out;
}

interface Api { status: number; body: string; json: Record<string, unknown> }
function apiClient(base: () => string, name: string) {
  return async (method: string, path: string, opts: { key?: string; body?: unknown; raw?: string; type?: string; headers?: Record<string, string> } = {}): Promise<Api> => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (opts.key) headers.authorization = `Bearer ${opts.key}`;
    let body: string | undefined;
    if (opts.raw !== undefined) { body = opts.raw; headers['content-type'] = opts.type ?? 'application/json'; }
    else if (opts.body !== undefined) { body = JSON.stringify(opts.body); headers['content-type'] = 'application/json'; }
    if (method === 'POST' && path === '/v1/verifications' && !headers['idempotency-key']) headers['idempotency-key'] = randomUUID();
    const res = await fetch(`${base()}${path}`, { method, headers, body });
    const text = await res.text();
    // A problem document is emitted by the hub to whoever asked: scanned like a log.
    if (res.status >= 400) emit(`${name}: ${res.status} answer to ${method} ${path.split('?')[0]}`, text);
    let json: Record<string, unknown> = {};
    try { json = JSON.parse(text) as Record<string, unknown>; } catch { /* not JSON */ }
    return { status: res.status, body: text, json };
  };
}

// ---------------------------------------------------------------- the run

const CARRIERS = ['viettel', 'vinaphone', 'mobifone', 'vietnamobile'];
let reg: Registry;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
/** Values that must not appear anywhere they are not the answer to their caller. */
const secrets: Needle[] = [];
/** One-time codes sent (by the SMS gateway or the demo outbox). */
const codes: Needle[] = [];
let adminToken: string;
let masterKey: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'idbind-privacy-'));
  // The embedded PostgreSQL runs as the postgres user when the tests run as root: it must reach its cluster.
  statSync(dir);
  spawnSync('chmod', ['755', dir]);
  receiver = await startReceiver();
  const { PATH, HOME } = process.env;
  masterKey = randomBytes(32).toString('base64');
  adminToken = randomBytes(32).toString('base64url');
  secrets.push({ value: masterKey, kind: 'master key' }, { value: adminToken, kind: 'admin token' });
  // No DATABASE_URL: the hub's own embedded PostgreSQL in the data directory, as an operator runs it.
  baseEnv = { PATH, HOME, IDBIND_DATA_DIR: join(dir, 'data'), IDBIND_MASTER_KEY: masterKey, IDBIND_WORKERS: '2', IDBIND_LOG_LEVEL: 'trace' };
}, 60_000);
afterAll(async () => {
  await receiver?.close();
  if (DUMP) {
    mkdirSync(DUMP, { recursive: true });
    emitted.forEach((e, i) => writeFileSync(join(DUMP, `${String(i).padStart(3, '0')}.txt`), `${e.source}\n\n${e.text}`));
  }
  if (!DUMP) rmSync(dir, { recursive: true, force: true });
});

describe('the scan itself', () => {
  it('finds a number in each written form, an ID, a name case-folded or percent-encoded, a secret', () => {
    const needles: Needle[] = [
      { value: '912345678', kind: 'phone number', digits: true }, { value: '079190000123', kind: 'personal ID', digits: true },
      { value: 'Nguyễn Văn An', kind: 'full name' }, { value: 'idbk_abcdefgh', kind: 'API key' },
    ];
    for (const text of ['to +84912345678', 'x=84912345678&', '"0912 345 678"', 'id 079190000123.', 'NGUYỄN VĂN AN', '/v1/accounts/Nguy%E1%BB%85n%20V%C4%83n%20An', 'Bearer idbk_abcdefgh']) {
      expect(leaks([{ source: 't', text }], needles), text).toHaveLength(1);
    }
    // Shorter digit runs and a partial name are not hits (a longer run holding the value is, on purpose).
    expect(leaks([{ source: 't', text: '91234567 07919000012 Nguyễn Văn, idbk_abc' }], needles)).toEqual([]);
  });

  it('finds a one-time code written whole, not inside a longer run of digits', () => {
    const code: Needle[] = [{ value: '689009', kind: 'one-time code', token: true }];
    for (const text of ['Ma xac thuc 689009 cho Sen Social', '{"code":"689009"}', 'code=689009&']) {
      expect(leaks([{ source: 't', text }], code), text).toHaveLength(1);
    }
    expect(leaks([{ source: 't', text: '"responseTime":13.6890091 "time":1795577689009 id 16890090' }], code)).toEqual([]);
  });
});

describe('what the hub and the CLI emit', () => {
  it('the CLI: generate, import (with bad rows), reconcile, providers, keys', () => {
    const gen = join(dir, 'gen');
    const g = idbind(['generate', '--people', '300', '--subscriptions', '360', '--seed', '23', '--out', gen, '--json']);
    expect(g.status).toBe(0);
    reg = readRegistry(gen, CARRIERS);
    // Bad rows made of real personal values: a rejects file and the CLI's output must name none.
    const p = reg.people;
    const badPop = join(dir, 'population-bad.csv');
    writeFileSync(badPop, readFileSync(join(gen, 'population.csv'), 'utf8')
      + `${p[0]!.personal_id},${p[0]!.full_name},${p[0]!.birth_date!.slice(0, 8)}31,${p[0]!.sex},alive,,\n` // a bad date
      + `${p[1]!.personal_id},${p[1]!.full_name},1899-01-01,${p[1]!.sex},alive,,\n` // contradicts the number
      + `"${p[2]!.personal_id},${p[2]!.full_name}\n` // malformed CSV
      + `${p[3]!.personal_id},${p[3]!.full_name},${p[3]!.birth_date},X,alive,,\n` // bad sex
      + `${p[4]!.personal_id},${p[4]!.full_name},${p[4]!.birth_date},${p[4]!.sex},zombie,,\n`); // bad status
    const pop = idbind(['import', 'population', badPop, '--json']);
    expect(pop.status).toBe(3);
    const rejects = JSON.parse(pop.stdout).rejects_file as string;
    emit('population rejects file', readFileSync(rejects, 'utf8'));
    const ndjson = join(dir, 'population-bad.ndjson');
    writeFileSync(ndjson, `{"personal_id":"${p[5]!.personal_id}","full_name":"${p[5]!.full_name}","birth_date":"${p[5]!.birth_date}"\n`
      + `{"personal_id":${p[6]!.personal_id},"full_name":"${p[6]!.full_name}"}\n`);
    idbind(['import', 'population', ndjson, '--json'], {}, 'idbind import population (NDJSON)');
    for (const carrier of CARRIERS) {
      const file = join(dir, `${carrier}.csv`);
      const s = reg.subs.find((x) => x.carrier === carrier)!;
      writeFileSync(file, readFileSync(join(gen, `${carrier}.csv`), 'utf8')
        + `${s.msisdn}9,${s.holder_personal_id},${s.holder_full_name},${s.holder_birth_date},store,2020-01-01T00:00:00+07:00,active,,\n` // not a mobile number
        + `${s.msisdn},${s.holder_personal_id},${s.holder_full_name},${s.holder_birth_date},store,2020-01-01T00:00:00+07:00,active,,\n` // duplicate
        + `0${significant(s.msisdn!)},${s.holder_personal_id}0,${s.holder_full_name},${s.holder_birth_date},carrier-pigeon,2020-01-01,active,,\n`);
      const r = idbind(['import', 'subscriptions', '--carrier', carrier, file, '--json']);
      expect(r.status).toBe(3);
      emit(`${carrier} rejects file`, readFileSync(JSON.parse(r.stdout).rejects_file as string, 'utf8'));
    }
    // A file that does not exist, named after a person's number (an operator may name files so).
    idbind(['import', 'subscriptions', '--carrier', 'viettel', join(dir, `${reg.subs[0]!.msisdn}.csv`), '--json'], {}, 'idbind import (missing file)');
    const rec = idbind(['reconcile', '--json', '--out', join(dir, 'actions')]);
    expect(rec.status).toBe(0);
    // The action lists hold numbers by design (issue 2: "msisdn, category code; nothing else personal").
    for (const f of readdirSync(join(dir, 'actions'))) {
      const lines = readFileSync(join(dir, 'actions', f), 'utf8').trim().split('\n');
      expect(lines[0]).toBe('msisdn,category');
      for (const l of lines.slice(1)) expect(l).toMatch(/^\+84\d{9},[A-Z_]+$/);
    }
    idbind(['keys', 'status', '--json']);
    idbind(['keys', 'rotate', '--data', '--json']);
    idbind(['keys', 'rotate', '--blind-index', '--json']);
    idbind(['keys', 'status']);
  }, 600_000);

  let hub: Served;
  let key = '';
  let carrierKey = '';
  const api = apiClient(() => hub.url, 'production hub');
  const pseudonyms: Needle[] = [];

  it('the production hub, at log level trace, driven through the whole API', async () => {
    const created = idbind(['providers', 'create', '--name', 'Hoa Sen Net', '--kind', 'platform', '--webhook-url', `${receiver.url}/hooks`, '--json'], { IDBIND_OUTBOUND_ALLOW_LOOPBACK: '1' }, `${OWN_SECRET} idbind providers create`);
    expect(created.status).toBe(0);
    const sen = JSON.parse(created.stdout) as { id: string; api_key: string; webhook_secret: string };
    key = sen.api_key;
    secrets.push({ value: sen.api_key, kind: 'API key' }, { value: sen.webhook_secret, kind: 'webhook secret' }, { value: sen.webhook_secret.replace(/^whsec_/, ''), kind: 'webhook secret' });
    const carrier = JSON.parse(idbind(['providers', 'create', '--name', 'Viettel Telecom', '--kind', 'carrier', '--carrier', 'viettel', '--json'], {}, `${OWN_SECRET} idbind providers create`).stdout) as { api_key: string; webhook_secret: string };
    carrierKey = carrier.api_key;
    secrets.push({ value: carrier.api_key, kind: 'API key' }, { value: carrier.webhook_secret, kind: 'webhook secret' });
    idbind(['providers', 'list', '--json']);

    try {
      await driveProduction();
    } finally {
      await hub?.stop();
    }
  }, 600_000);

  async function driveProduction() {
    hub = await serve('idbind serve (production)', [], {
      IDBIND_ADMIN_TOKEN: adminToken,
      IDBIND_SMS_URL: `${receiver.url}/sms`,
      IDBIND_OUTBOUND_ALLOW_LOOPBACK: '1',
      IDBIND_LIMIT_NUMBER_PER_HOUR: '3',
    });

    // Numbers that can verify: active, held by an adult of the registry with the same name and birth date.
    const people = new Map(reg.people.map((x) => [x.personal_id!, x]));
    const good = reg.subs.filter((s) => {
      const h = people.get(s.holder_personal_id!);
      return s.status === 'active' && s.channel !== 'online' && h && h.status === 'alive' && h.full_name === s.holder_full_name
        && h.birth_date === s.holder_birth_date && h.birth_date! < '2005-01-01' && !s.sim_changed_at && !s.device_changed_at;
    });
    expect(good.length).toBeGreaterThan(10);
    const smsCodes = () => receiver.requests.filter((r) => r.path === '/sms').map((r) => /\b(\d{6})\b/.exec(r.body)![1]!);

    const codeFor = async (accountRef: string, phone: string) => {
      const before = smsCodes().length;
      const start = await api('POST', '/v1/verifications', { key, body: { account_ref: accountRef, phone } });
      expect(start.status, start.body).toBe(201);
      for (const end = Date.now() + 60_000; smsCodes().length === before && Date.now() < end;) await new Promise((r) => setTimeout(r, 20));
      expect(smsCodes().length, 'the code reached the SMS gateway').toBeGreaterThan(before);
      const code = smsCodes().at(-1)!;
      codes.push({ value: code, kind: 'one-time code', token: true });
      return { id: start.json.id as string, code };
    };

    // Start, resend, a wrong code, the right one: bound.
    const a = good[0]!;
    const first = await codeFor('alice-42', a.msisdn!);
    // Too soon for a resend (RESEND_TOO_SOON): the problem is scanned; the first code stays valid.
    await api('POST', `/v1/verifications/${first.id}/resend`, { key, body: {} });
    const code = first.code;
    const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, '0');
    expect((await api('POST', `/v1/verifications/${first.id}/confirm`, { key, body: { code: wrong } })).status).toBe(422);
    // A code with a personal value in it, as a confused user might type.
    await api('POST', `/v1/verifications/${first.id}/confirm`, { key, body: { code: significant(a.msisdn!) } });
    const ok = await api('POST', `/v1/verifications/${first.id}/confirm`, { key, body: { code } });
    expect(ok.status, ok.body).toBe(200);
    pseudonyms.push({ value: ok.json.pseudonym as string, kind: 'pseudonym' });
    await api('GET', `/v1/verifications/${first.id}`, { key });
    await api('GET', '/v1/accounts/alice-42', { key });
    await api('POST', '/v1/accounts/status', { key, body: { account_refs: ['alice-42', 'bob-7'] } });
    await api('POST', '/v1/accounts/status', { key, raw: '{"account_ref":"alice-42"}\n{"account_ref":"bob-7"}\n', type: 'application/x-ndjson' });

    // A second person in the written forms 84... and +84..., five wrong codes, then the right one.
    const b = good[1]!;
    const second = await codeFor('bob-7', `84${significant(b.msisdn!)}`);
    for (let i = 0; i < 6; i++) await api('POST', `/v1/verifications/${second.id}/confirm`, { key, body: { code: String((Number(second.code) + 1 + i) % 1_000_000).padStart(6, '0') } });
    await api('POST', `/v1/verifications/${second.id}/confirm`, { key, body: { code: second.code } });
    const third = await codeFor('carol-1', `+84${significant(good[2]!.msisdn!)}`);
    const bound = await api('POST', `/v1/verifications/${third.id}/confirm`, { key, body: { code: third.code } });
    expect(bound.status, bound.body).toBe(200);
    pseudonyms.push({ value: bound.json.pseudonym as string, kind: 'pseudonym' });

    // Not eligible: a junk number (its holder unknown, deceased, ...), a terminated one.
    for (const s of reg.subs.filter((x) => !people.get(x.holder_personal_id!) || x.status !== 'active').slice(0, 4)) {
      await api('POST', '/v1/verifications', { key, body: { account_ref: 'dave-1', phone: s.msisdn } });
    }
    // Malformed numbers built from personal values; a personal ID and a name in the phone field.
    const c = good[3]!;
    for (const phone of [`${c.msisdn}1`, `0${significant(c.msisdn!).slice(1)}`, c.holder_personal_id!, c.holder_full_name!, `+1${significant(c.msisdn!)}`, `${significant(c.msisdn!)}`]) {
      await api('POST', '/v1/verifications', { key, body: { account_ref: 'eve-1', phone } });
    }
    // Malformed JSON, unknown fields, a name as an account ref, a number too long for the schema.
    const d = good[4]!;
    await api('POST', '/v1/verifications', { key, raw: `{"account_ref":"frank-1","phone":"${d.msisdn}"` });
    await api('POST', '/v1/verifications', { key, raw: `{"account_ref":"frank-1","phone":${d.msisdn}}` });
    await api('POST', '/v1/verifications', { key, raw: `{"account_ref":"frank-1","phone":"${d.msisdn}",,"full_name":"${d.holder_full_name}"}` });
    await api('POST', '/v1/verifications', { key, raw: `{"account_ref":"frank-1","phone":"${d.msisdn}","full_name":"${d.holder_full_name}","personal_id":"${d.holder_personal_id}"}` });
    await api('POST', '/v1/verifications', { key, raw: `{"account_ref":"frank-1","phone":"${d.msisdn}","${d.holder_personal_id}":1}` });
    await api('POST', '/v1/verifications', { key, body: { account_ref: d.holder_full_name, phone: d.msisdn } });
    await api('POST', '/v1/verifications', { key, body: { account_ref: 'frank-1', phone: `${d.msisdn} ${d.holder_full_name} ${d.holder_personal_id}` } });
    await api('POST', '/v1/verifications', { key, body: { account_ref: 'frank-1', phone: [d.msisdn] } });
    await api('POST', '/v1/verifications', { key, raw: `phone=${d.msisdn}`, type: 'application/x-www-form-urlencoded' });
    await api('POST', '/v1/verifications', { key, raw: `{"account_ref":"frank-1","phone":"${d.msisdn}"}`, type: 'text/plain' });
    await api('POST', `/v1/verifications/${first.id}/confirm`, { key, raw: `{"code":"${d.holder_personal_id}"` });
    await api('POST', '/v1/accounts/status', { key, raw: `{"account_refs":["${d.msisdn}",` });
    await api('POST', '/v1/accounts/status', { key, raw: `{"account_ref":"${d.holder_personal_id}"\nnot json ${d.msisdn}\n`, type: 'application/x-ndjson' });
    // A personal value in a path parameter, an unknown path or an Idempotency-Key is echoed in
    // the request log, a 404 problem and the idempotency_keys table: test/http/privacy-echo.db.test.ts.
    await api('GET', `/v1/nowhere?phone=${d.msisdn}`, { key });
    // Idempotency: the same key with another body.
    const idem = randomUUID();
    const e = good[5]!;
    await api('POST', '/v1/verifications', { key, body: { account_ref: 'gina-1', phone: e.msisdn }, headers: { 'idempotency-key': idem } });
    await api('POST', '/v1/verifications', { key, body: { account_ref: 'gina-1', phone: good[6]!.msisdn }, headers: { 'idempotency-key': idem } });
    // A rate limit per number (3 an hour here).
    for (let i = 0; i < 5; i++) await api('POST', '/v1/verifications', { key, body: { account_ref: `hank-${i}`, phone: good[7]!.msisdn } });
    // Bad keys: unknown, a real one altered, a personal value as a key, another provider's.
    await api('GET', '/v1/accounts/alice-42', { key: `${key.slice(0, -2)}xx` });
    await api('GET', '/v1/accounts/alice-42', { key: d.msisdn });
    await api('GET', '/v1/accounts/alice-42', { key: 'idbk_nope' });
    await api('GET', `/v1/verifications/${first.id}`, { key: carrierKey });
    await api('GET', '/v1/admin/registry/stats', { key: d.holder_personal_id });

    // Unbind: a webhook; a test event; the delivery log; a replay.
    expect((await api('DELETE', '/v1/accounts/alice-42', { key })).status).toBe(204);
    await api('POST', '/v1/webhooks/test', { key, body: {} });
    await api('GET', '/v1/webhooks/deliveries', { key });
    await api('POST', '/v1/webhooks/replay', { key, body: {} });
    await api('POST', '/v1/webhooks/replay', { key, body: { since: new Date(Date.now() - 60_000).toISOString() } });
    await api('GET', '/v1/provider', { key });
    await api('GET', '/v1/provider/verification-stats', { key });

    // Key rotation through the API and the CLI while the hub runs.
    const whsec = await api('POST', '/v1/provider/webhook-secrets', { key, body: { overlap_seconds: 60 } });
    expect(whsec.status, whsec.body).toBe(201);
    secrets.push({ value: whsec.json.webhook_secret as string, kind: 'webhook secret' });
    const rotated = await api('POST', '/v1/provider/api-keys', { key, body: { overlap_seconds: 60 } });
    expect(rotated.status, rotated.body).toBe(201);
    secrets.push({ value: rotated.json.api_key as string, kind: 'API key' });
    await api('POST', '/v1/provider/webhook-secrets', { key, body: {} }); // the old key, retiring: 403
    const cli = JSON.parse(idbind(['providers', 'rotate-key', '--name', 'Hoa Sen Net', '--json'], {}, `${OWN_SECRET} idbind providers rotate-key`).stdout) as { api_key: string };
    secrets.push({ value: cli.api_key, kind: 'API key' });
    key = cli.api_key;
    idbind(['keys', 'rotate', '--data', '--no-wait', '--json']);

    // A carrier uploads a registry with bad rows and a delta; its job's rejects.
    const v = reg.subs.filter((s) => s.carrier === 'viettel');
    const upload = `msisdn,holder_personal_id,holder_full_name,holder_birth_date,channel,registered_at,status,sim_changed_at,device_changed_at\n`
      + v.slice(0, 5).map((s) => [s.msisdn, s.holder_personal_id, s.holder_full_name, s.holder_birth_date, s.channel, s.registered_at, s.status, s.sim_changed_at, s.device_changed_at].join(',')).join('\n')
      + `\n${v[0]!.msisdn}1,${v[0]!.holder_personal_id},${v[0]!.holder_full_name},${v[0]!.holder_birth_date},store,2020-01-01,active,,\n`;
    const job = await api('POST', '/v1/carrier/registry', { key: carrierKey, raw: upload, type: 'text/csv' });
    expect(job.status, job.body).toBe(202);
    const delta = `{"event_id":"e1","type":"sim_changed","msisdn":"${good[2]!.msisdn}","at":"2025-01-01T00:00:00+07:00"}\n{"event_id":"e2","type":"holder_changed","msisdn":"${v[1]!.msisdn}","holder_personal_id":"${v[1]!.holder_personal_id}x"}\n`;
    const jobDone = async (id: string) => {
      for (const end = Date.now() + 60_000; Date.now() < end;) {
        const j = await api('GET', `/v1/carrier/jobs/${id}`, { key: carrierKey });
        if (j.json.status !== 'queued' && j.json.status !== 'running') return;
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    await jobDone(job.json.job_id as string);
    const deltaJob = await api('POST', '/v1/carrier/deltas', { key: carrierKey, raw: delta, type: 'application/x-ndjson' });
    expect(deltaJob.status, deltaJob.body).toBe(202);
    await jobDone(deltaJob.json.job_id as string);
    const jobs = await api('GET', '/v1/carrier/jobs', { key: carrierKey });
    for (const j of (jobs.json.jobs as { job_id: string }[] | undefined) ?? []) {
      const rj = await api('GET', `/v1/carrier/jobs/${j.job_id}/rejects`, { key: carrierKey });
      emit(`carrier job ${j.job_id} rejects`, rj.body);
      emit(`carrier job ${j.job_id}`, (await api('GET', `/v1/carrier/jobs/${j.job_id}`, { key: carrierKey })).body);
    }
    await api('GET', '/v1/carrier/action-list', { key: carrierKey });
    emit('carrier job list', jobs.body);

    // What the admin and a Prometheus scraper read.
    emit('/metrics', (await api('GET', '/metrics', { key: adminToken })).body);
    emit('admin verification stats', (await api('GET', '/v1/admin/verification-stats', { key: adminToken })).body);
    emit('admin registry stats', (await api('GET', '/v1/admin/registry/stats', { key: adminToken })).body);
    emit('admin providers', (await api('GET', '/v1/admin/providers', { key: adminToken })).body);
    await new Promise((r) => setTimeout(r, 2500)); // webhook deliveries, the statistics' flush
    expect(receiver.requests.filter((r) => r.path === '/hooks').length).toBeGreaterThan(0);
  }

  it('the database holds no personal value in clear, in any table (verifications, webhooks, outbox, statistics, access records included)', async () => {
    // The embedded server is stopped with the hub; every file of its cluster is scanned below. Here
    // the same data through SQL, table by table, while a CLI command holds the server up.
    const url = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '-e', `
        import { startEmbeddedServer } from ${JSON.stringify(new URL('../../src/kernel/db/embedded-server.ts', import.meta.url).pathname)};
        const s = await startEmbeddedServer({ dataDir: ${JSON.stringify(join(dir, 'data'))} });
        console.log(s.url);
        process.stdin.on('end', async () => { await s.stop(); process.exit(0); });
        process.stdin.resume();
      `], { stdio: ['pipe', 'pipe', 'inherit'], cwd: new URL('../..', import.meta.url).pathname });
      child.stdout!.once('data', (c: Buffer) => resolve(c.toString().trim()));
      child.once('error', reject);
      dbServer = child;
    });
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const tables = await client.query<{ tablename: string }>(`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`);
      const dump: Emission[] = [];
      for (const { tablename } of tables.rows) {
        const rows = await client.query<{ r: string }>(`SELECT t::text AS r FROM "${tablename}" t`);
        // bytea as hex is skipped: 9 digits turn up by chance in ciphertext hex. So are the
        // fractions of timestamps: their 6 digits of microseconds matched a one-time code by
        // chance (a key version created at 04:07:27.689009 against the code 689009).
        dump.push({
          source: `table ${tablename}`,
          text: rows.rows.map((x) => x.r).join('\n').replace(/\\\\x[0-9a-f]+|\\x[0-9a-f]+/g, '').replace(/(\d{2}:\d{2}:\d{2})\.\d{1,6}/g, '$1'),
        });
      }
      expect(dump.length).toBeGreaterThan(20);
      expect(leaks(dump, [...registryNeedles(reg), ...codes, ...secrets, ...pseudonymsInClear()])).toEqual([]);
    } finally {
      await client.end();
      dbServer?.stdin?.end();
      await new Promise((r) => dbServer?.once('exit', r));
    }
  }, 120_000);
  let dbServer: ChildProcess | undefined;
  /** Pseudonyms are stored by design (the mapping, issue 3); only the log must never hold one. */
  const pseudonymsInClear = (): Needle[] => [];

  it('no personal value, code, key, secret or pseudonym in anything the production run emitted', () => {
    // The hub did log every request (the scan would otherwise pass on an empty log).
    expect(emitted.find((e) => e.source === 'idbind serve (production) (stdout)')?.text.match(/incoming request/g)?.length).toBeGreaterThan(50);
    const personal = [...registryNeedles(reg), ...codes, ...pseudonyms];
    expect([
      ...leaks(emitted, personal),
      ...leaks(emitted.filter((e) => !e.source.startsWith(OWN_SECRET)), secrets),
    ]).toEqual([]);
  });

  it('no personal value in clear in any file of the data directory, the embedded cluster byte for byte (WAL included)', () => {
    // Pseudonyms are stored by design (the mapping of issue 3), so they are not searched here.
    const files = filesUnder(join(dir, 'data'));
    expect(files.some((f) => f.source.includes('pg_wal'))).toBe(true);
    expect(leaks(files, [...registryNeedles(reg), ...codes, ...secrets])).toEqual([]);
  }, 300_000);
});

/**
 * The code in the newest message of a demo outbox (issue 3's interface: newest last, the code the
 * only 6-digit number of its text). A failure says what the outbox answered, every digit masked
 * (a code is not printed): the CI run at 5d17e93 once found no code in the newest message, which
 * no run here has reproduced since.
 */
async function newestDemoCode(base: string, phone: string): Promise<string> {
  const res = await fetch(`${base}/v1/dev/sms-outbox?to=${encodeURIComponent(phone)}`);
  const body = await res.text();
  let messages: unknown;
  try { messages = JSON.parse(body); } catch { /* reported below */ }
  const texts = Array.isArray(messages) ? messages.map((m) => String((m as { text?: unknown }).text)) : [];
  const code = texts.length > 0 ? /\d{6}/.exec(texts.at(-1)!)?.[0] : undefined;
  if (code === undefined) throw new Error(`no code in the demo outbox: HTTP ${res.status}, ${texts.length} message(s): ${body.replace(/\d/g, '#').slice(0, 2000)}`);
  return code;
}

describe('what a demo hub emits (its own fresh data directory)', () => {
  let demoDir: string;
  let demo: Served | undefined;
  const demoCodes: Needle[] = [];
  const demoPseudonyms: Needle[] = [];
  const api = apiClient(() => demo!.url, 'demo hub');
  let banner = '';

  it('serves, verifies with the outbox, and is stopped', async () => {
    demoDir = join(dir, 'demo-data');
    const { IDBIND_MASTER_KEY: _unused, ...env } = baseEnv;
    demo = await serve('idbind serve --demo', ['--demo'], { ...env, IDBIND_DATA_DIR: demoDir, IDBIND_MASTER_KEY: '' });
    try {
      banner = demo.out.stdout.slice(0, demo.out.stdout.indexOf('Press Ctrl-C to stop.'));
      const key = /Sen Social\s+platform\s+(idbk_\S+)/.exec(banner)![1]!;
      const numbers = /demo numbers that can verify: ([^(]+) \(/.exec(banner)![1]!.split(', ');
      expect(numbers.length).toBeGreaterThan(1);
      for (const [i, phone] of numbers.slice(0, 2).entries()) {
        const start = await api('POST', '/v1/verifications', { key, body: { account_ref: `demo-${i}`, phone: i === 0 ? `0${significant(phone)}` : phone } });
        expect(start.status, start.body).toBe(201);
        const code = await newestDemoCode(demo.url, phone);
        demoCodes.push({ value: code, kind: 'one-time code', token: true });
        await api('POST', `/v1/verifications/${start.json.id as string}/confirm`, { key, body: { code: String((Number(code) + 7) % 1_000_000).padStart(6, '0') } });
        const ok = await api('POST', `/v1/verifications/${start.json.id as string}/confirm`, { key, body: { code } });
        expect(ok.status, ok.body).toBe(200);
        demoPseudonyms.push({ value: ok.json.pseudonym as string, kind: 'pseudonym' });
      }
      await api('GET', `/v1/dev/sms-outbox?to=${numbers[0]}`);
      await api('GET', `/v1/dev/sms-outbox?to=${significant(numbers[0]!)}x`);
      await api('POST', '/v1/verifications', { key, raw: `{"account_ref":"demo-9","phone":"${numbers[0]}"` });
      await api('GET', `/v1/accounts/demo-0`, { key });
      emit('demo /metrics', (await api('GET', '/metrics')).body);
      await new Promise((r) => setTimeout(r, 1500));
    } finally {
      await demo.stop();
    }
  }, 600_000);

  it('no registry value, code or pseudonym in its output (its banner prints keys and numbers by design), nor in its data directory but the demo registry files', () => {
    const reg = readRegistry(join(demoDir, 'demo-registry'), CARRIERS);
    const afterBanner = emitted.filter((e) => e.source.startsWith('idbind serve --demo') || e.source.startsWith('demo hub') || e.source.startsWith('demo /metrics'))
      .map((e) => (e.source === 'idbind serve --demo (stdout)' ? { ...e, text: e.text.replace(banner, '') } : e));
    expect(afterBanner.find((e) => e.source === 'idbind serve --demo (stdout)')?.text.match(/incoming request/g)?.length).toBeGreaterThan(5);
    expect(leaks(afterBanner, [...registryNeedles(reg), ...demoCodes, ...demoPseudonyms])).toEqual([]);
    // The banner: keys and the three numbers, nothing else of the registry.
    const numbers = new Set(/demo numbers that can verify: ([^(]+) \(/.exec(banner)![1]!.split(', ').map(significant));
    expect(leaks([{ source: 'demo banner', text: banner }], registryNeedles(reg).filter((n) => !numbers.has(n.value)))).toEqual([]);
    // The data directory: the demo keeps its generated registry files (demo-registry/, by design) and nothing else in clear.
    // The demo's officials (staff, not people of the registry) are stored by name; a generated
    // name may be the same as one of theirs ("Trần Thu Hà"), which is no leak.
    const staff = readFileSync(new URL('../../src/officials/demo-officials.ts', import.meta.url), 'utf8');
    const files = filesUnder(demoDir, (p) => p.endsWith('demo-registry'));
    expect(leaks(files, [...registryNeedles(reg).filter((n) => n.digits || !staff.includes(n.value)), ...demoCodes])).toEqual([]);
  }, 300_000);
});
