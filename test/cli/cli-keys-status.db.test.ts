/**
 * `idbind keys status` is the operator's diagnostic (issue 2 "idbind keys status"; docs/keys.md): it
 * answers even when the key ring cannot load, naming the master key that wraps stored keys and is
 * missing from configuration, and exits 1, instead of failing before it could say so.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, randomMasterKey, type TestDatabase } from '../support/database.ts';

const BIN = new URL('../../bin/idbind.js', import.meta.url).pathname;
let db: TestDatabase;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase(); // its keys are wrapped by db.master
  dir = mkdtempSync(join(tmpdir(), 'idbind-keys-status-'));
});
afterAll(async () => {
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
});

function keysStatus(masterKey: Buffer | string, json = false) {
  const { PATH, HOME } = process.env;
  // A Buffer is one key (IDBIND_MASTER_KEY); a string is IDBIND_MASTER_KEYS ("id:base64,...").
  const keys = typeof masterKey === 'string' ? { IDBIND_MASTER_KEYS: masterKey } : { IDBIND_MASTER_KEY: masterKey.toString('base64') };
  return spawnSync(process.execPath, [BIN, 'keys', 'status', ...(json ? ['--json'] : [])], {
    env: { PATH, HOME, DATABASE_URL: db.url, ...keys, IDBIND_DATA_DIR: dir },
    encoding: 'utf8', timeout: 60_000,
  });
}

describe('idbind keys status', () => {
  it('answers with the configured master key, exit 0', () => {
    const r = keysStatus(db.master.key);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${db.master.id} (current): wraps 2 key(s)`);
    expect(r.stdout).not.toContain('NOT CONFIGURED');
  });

  it('names the master key missing from configuration, and exits 1, when the ring cannot load', () => {
    const other = randomMasterKey();
    const r = keysStatus(other.key);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain(`${db.master.id} NOT CONFIGURED: wraps 2 key(s)`);
    expect(r.stdout).toMatch(/^error: .*not configured/m);
    const json = keysStatus(other.key, true);
    expect(json.status).toBe(1);
    // README "The CLI": with --json, a command that fails prints {"error": {"code", "message"}}.
    expect(JSON.parse(json.stdout)).toMatchObject({
      error: { code: 'KEY_RING_UNAVAILABLE', message: expect.stringContaining(db.master.id) },
      master_keys: expect.arrayContaining([expect.objectContaining({ id: db.master.id, configured: false })]),
    });
  });

  it('still answers when the master key configured under the right id is the wrong key (a pasted secret of another key)', () => {
    // The operator's first question then is which keys are stored and what wraps them: the
    // diagnostic failed before it could say, as if the configuration were unreadable.
    const wrong = `${db.master.id}:${randomMasterKey().key.toString('base64')}`;
    const r = keysStatus(wrong);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain(`${db.master.id} (current): wraps 2 key(s)`);
    expect(r.stdout).toMatch(/^data keys:$/m);
    expect(r.stdout).toMatch(/^error: master key .* cannot unwrap/m);
    const json = keysStatus(wrong, true);
    expect(json.status).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({
      error: { code: 'KEY_RING_UNAVAILABLE', message: expect.stringContaining('not the one it was wrapped with') },
      master_keys: [expect.objectContaining({ id: db.master.id, configured: true, wraps: 2 })],
    });
  });

  it('other commands fail with --json code KEY_RING_UNAVAILABLE then, not an internal class name', () => {
    const file = join(dir, 'p.csv');
    writeFileSync(file, 'personal_id,full_name,birth_date,sex,status\n');
    const { PATH, HOME } = process.env;
    const r = spawnSync(process.execPath, [BIN, 'import', 'population', file, '--json'], {
      env: { PATH, HOME, DATABASE_URL: db.url, IDBIND_MASTER_KEY: randomMasterKey().key.toString('base64'), IDBIND_DATA_DIR: dir },
      encoding: 'utf8', timeout: 60_000,
    });
    expect(r.status).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual({ error: { code: 'KEY_RING_UNAVAILABLE', message: expect.stringContaining('not configured') } });
  });

  it('other commands fail with KEY_RING_UNAVAILABLE too when the key under the right id is the wrong key, not CONFIG_INVALID', () => {
    // README "The CLI": KEY_RING_UNAVAILABLE "when a stored key cannot be opened with the
    // configured master keys". The configuration is well formed: only the stored keys say the
    // key is not theirs, so CONFIG_INVALID sent the operator to check its syntax.
    const file = join(dir, 'p.csv');
    writeFileSync(file, 'personal_id,full_name,birth_date,sex,status\n');
    const { PATH, HOME } = process.env;
    const wrong = `${db.master.id}:${randomMasterKey().key.toString('base64')}`;
    for (const args of [['import', 'population', file, '--json'], ['reconcile', '--json'], ['keys', 'resume', '--json']]) {
      const r = spawnSync(process.execPath, [BIN, ...args], {
        env: { PATH, HOME, DATABASE_URL: db.url, IDBIND_MASTER_KEYS: wrong, IDBIND_DATA_DIR: dir },
        encoding: 'utf8', timeout: 60_000,
      });
      expect(r.status, args.join(' ')).toBe(1);
      expect(JSON.parse(r.stdout), args.join(' ')).toEqual({
        error: { code: 'KEY_RING_UNAVAILABLE', message: expect.stringMatching(new RegExp(`^master key ${db.master.id} cannot unwrap .*: the configured key is not the one it was wrapped with$`)) },
      });
    }
  });

  it('names IDBIND_MASTER_KEY, not an entry of a list, when that one key has the wrong length', () => {
    const { PATH, HOME } = process.env;
    const r = spawnSync(process.execPath, [BIN, 'reconcile', '--json'], {
      env: { PATH, HOME, DATABASE_URL: db.url, IDBIND_MASTER_KEY: randomBytes(16).toString('base64'), IDBIND_DATA_DIR: dir },
      encoding: 'utf8', timeout: 60_000,
    });
    expect(r.status).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual({ error: { code: 'CONFIG_INVALID', message: 'IDBIND_MASTER_KEY must be 32 bytes (got 16)' } });
  });
});
