/**
 * `idbind authorities` and `idbind officials` (issue 5) against a fresh database, the first call
 * through the real binary and the rest in-process through the same entry point (`main`), which
 * keeps the test quick on a loaded machine: create prints the invitation link once, invite replaces it, deactivate ends sessions,
 * list filters by authority; `--roles administrator` only for a regulator authority; usage errors
 * exit 2 and change nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { openHub, type Hub } from '../hub.ts';
import { main } from '../cli.ts';
import { openOfficialSession, sessionOfficial } from './official-auth.ts';
import { pendingInvitation } from './official-service.ts';

const BIN = new URL('../../bin/idbind.js', import.meta.url).pathname;
const PUBLIC_URL = 'https://hub.example';
let db: TestDatabase;
let dir: string;
let env: NodeJS.ProcessEnv;
let hub: Hub;

/** The real binary (slow to start: used once, to show the commands are registered in it). */
function idbind(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { env, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The same CLI entry point in-process: the same parsing, hub opening and exit statuses. */
async function cli(args: string[]) {
  let stdout = '';
  let stderr = '';
  const sink = (write: (s: string) => void) => new Writable({ write(chunk, _enc, done) { write(String(chunk)); done(); } });
  const status = await main(args, { stdout: sink((s) => (stdout += s)), stderr: sink((s) => (stderr += s)), env, cwd: dir });
  return { status, stdout, stderr };
}

beforeAll(async () => {
  db = await createTestDatabase({ migrate: false });
  dir = mkdtempSync(join(tmpdir(), 'idbind-cli-officials-'));
  const { PATH, HOME } = process.env;
  env = { PATH, HOME, DATABASE_URL: db.url, IDBIND_MASTER_KEY: randomBytes(32).toString('base64'), IDBIND_DATA_DIR: join(dir, 'data'), IDBIND_PUBLIC_URL: PUBLIC_URL };
  hub = await openHub({ mode: 'production', env });
}, 60_000);
afterAll(async () => {
  await hub?.close();
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('idbind authorities and officials', () => {
  it('creates an authority and an official with an invitation link, invites again, lists, deactivates', async () => {
    const a = idbind(['authorities', 'create', '--name', 'Viện kiểm sát CLI', '--kind', 'procuracy', '--json']);
    expect(a.status, a.stderr).toBe(0);
    const authority = JSON.parse(a.stdout) as { id: string; name: string; kind: string };
    expect(authority).toMatchObject({ name: 'Viện kiểm sát CLI', kind: 'procuracy' });
    expect((await cli(['authorities', 'list'])).stdout).toContain(`${authority.id}  procuracy  Viện kiểm sát CLI`);

    const c = await cli(['officials', 'create', '--authority', authority.id, '--name', 'Kiểm sát viên CLI', '--roles', 'requester,approver']);
    expect(c.status, c.stderr).toBe(0);
    const link = /https:\/\/hub\.example\/authority\/enrol#([A-Za-z0-9_-]{43})/.exec(c.stdout);
    expect(link).not.toBeNull();
    const id = /created: ([0-9a-f-]{36})/.exec(c.stdout)![1]!;
    expect((await pendingInvitation(hub.pool, await hub.ring(), link![1]!)).official).toMatchObject({ id, roles: ['requester', 'approver'] });

    const inv = await cli(['officials', 'invite', id, '--json']);
    expect(inv.status, inv.stderr).toBe(0);
    const again = JSON.parse(inv.stdout) as { id: string; invitation_url: string };
    expect(again.id).toBe(id);
    expect(again.invitation_url).not.toContain(link![1]!);
    await expect(pendingInvitation(hub.pool, await hub.ring(), link![1]!)).rejects.toMatchObject({ code: 'INVITATION_INVALID' });

    const list = JSON.parse((await cli(['officials', 'list', '--authority', authority.id, '--json'])).stdout) as { officials: { id: string; status: string }[] };
    expect(list.officials).toEqual([expect.objectContaining({ id, status: 'active' })]);

    const session = (await openOfficialSession(hub.pool, id)).split('=')[1]!;
    const d = await cli(['officials', 'deactivate', id]);
    expect(d.status, d.stderr).toBe(0);
    expect(d.stdout).toContain('deactivated');
    expect(await sessionOfficial(hub.pool, session)).toBeUndefined();
    const refused = await cli(['officials', 'invite', id]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('OFFICIAL_DEACTIVATED');
  }, 180_000);

  it('creates a regulator administrator (the regulator staff), and refuses the role for another kind of authority', async () => {
    const r = JSON.parse((await cli(['authorities', 'create', '--name', 'Cục Viễn thông CLI', '--kind', 'regulator', '--json'])).stdout) as { id: string };
    const c = await cli(['officials', 'create', '--authority', r.id, '--name', 'Chuyên viên CLI', '--roles', 'administrator', '--json']);
    expect(c.status, c.stderr).toBe(0);
    const token = (JSON.parse(c.stdout) as { invitation_url: string }).invitation_url.split('#')[1]!;
    expect((await pendingInvitation(hub.pool, await hub.ring(), token)).official).toMatchObject({ roles: ['administrator'], authorityKind: 'regulator' });
    const p = JSON.parse((await cli(['authorities', 'create', '--name', 'Công an CLI', '--kind', 'police', '--json'])).stdout) as { id: string };
    const refused = await cli(['officials', 'create', '--authority', p.id, '--name', 'Đại úy CLI', '--roles', 'requester,administrator']);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('OFFICIAL_INPUT_INVALID');
  }, 120_000);

  it('refuses bad usage with exit status 2 and changes nothing', async () => {
    const before = (await db.pool.query('SELECT count(*)::int AS n FROM officials')).rows[0].n;
    expect((await cli(['authorities', 'create', '--name', 'X', '--kind', 'army'])).status).toBe(2);
    expect((await cli(['officials', 'create', '--authority', 'x', '--name', 'Y', '--roles', 'admin'])).status).toBe(2);
    expect((await cli(['officials', 'create', '--name', 'Y', '--roles', 'approver'])).status).toBe(2);
    expect((await cli(['officials', 'invite'])).status).toBe(2);
    const unknown = await cli(['officials', 'create', '--authority', '0190f0f0-0000-7000-8000-000000000000', '--name', 'Y', '--roles', 'approver']);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain('AUTHORITY_NOT_FOUND');
    expect((await db.pool.query('SELECT count(*)::int AS n FROM officials')).rows[0].n).toBe(before);
    expect((await cli(['officials', '--help'])).stdout).toContain('idbind officials create --authority ID');
  }, 120_000);
});
