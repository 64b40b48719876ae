import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, statSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ConfigError, loadConfig } from './config.ts';
import { deriveMasterKeyId } from '../crypto/master-keys.ts';

const key = () => randomBytes(32).toString('base64');
const made: string[] = [];
const dir = () => {
  const d = mkdtempSync(join(tmpdir(), 'idbind-config-'));
  made.push(d);
  return d;
};
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

describe('configuration fails closed', () => {
  it('refuses production without a master key, naming the variables', () => {
    expect(() => loadConfig({ mode: 'production', env: { IDBIND_DATA_DIR: dir() } })).toThrow(/IDBIND_MASTER_KEY/);
  });

  it('refuses keys that are not 32 bytes of base64, and two sources at once', () => {
    expect(() => loadConfig({ mode: 'production', env: { IDBIND_MASTER_KEY: randomBytes(16).toString('base64') } })).toThrow(/32 bytes/);
    expect(() => loadConfig({ mode: 'production', env: { IDBIND_MASTER_KEY: 'not base64!' } })).toThrow(ConfigError);
    expect(() => loadConfig({ mode: 'production', env: { IDBIND_MASTER_KEY: key(), IDBIND_MASTER_KEYS: `a:${key()}` } })).toThrow(/only one/);
    expect(() => loadConfig({ mode: 'production', env: { IDBIND_MASTER_KEYS: `a:${key()},a:${key()}` } })).toThrow(/twice/);
  });

  it('never echoes key material in an error', () => {
    const bad = 'c2VjcmV0LXNlY3JldA==';
    try {
      loadConfig({ mode: 'production', env: { IDBIND_MASTER_KEY: bad } });
      expect.unreachable();
    } catch (e) {
      expect((e as Error).message).not.toContain(bad);
    }
  });

  it('takes a rotation list with the first key current, and derives the id of a single key', () => {
    const [a, b] = [key(), key()];
    const c = loadConfig({ mode: 'production', env: { IDBIND_MASTER_KEYS: `new:${a}, old:${b}` } });
    expect(c.masterKeys.map((k) => k.id)).toEqual(['new', 'old']);
    const single = loadConfig({ mode: 'production', env: { IDBIND_MASTER_KEY: a } });
    expect(single.masterKeys[0]!.id).toBe(deriveMasterKeyId(Buffer.from(a, 'base64')));
    const d = dir();
    writeFileSync(join(d, 'mk'), `k1:${a}\n`);
    expect(loadConfig({ mode: 'production', env: { IDBIND_MASTER_KEY_FILE: join(d, 'mk') } }).masterKeys[0]!.id).toBe('k1');
  });

  it('requires an admin token of at least 32 characters for serve', () => {
    expect(() => loadConfig({ mode: 'production', requireAdminToken: true, env: { IDBIND_MASTER_KEY: key() } })).toThrow(/IDBIND_ADMIN_TOKEN/);
    expect(() => loadConfig({ mode: 'production', env: { IDBIND_MASTER_KEY: key(), IDBIND_ADMIN_TOKEN: 'short' } })).toThrow(/32 characters/);
  });

  it('generates demo keys only in demo mode, 0600, reused on the next start', () => {
    const d = dir();
    const warnings: string[] = [];
    const first = loadConfig({ mode: 'demo', env: { IDBIND_DATA_DIR: d }, warn: (m) => warnings.push(m) });
    expect(warnings[0]).toMatch(/demo mode: generated a master key/);
    expect(statSync(join(d, 'demo-master.key')).mode & 0o777).toBe(0o600);
    expect(statSync(join(d, 'demo-admin.token')).mode & 0o777).toBe(0o600);
    const second = loadConfig({ mode: 'demo', env: { IDBIND_DATA_DIR: d } });
    expect(second.masterKeys[0]!.key.equals(first.masterKeys[0]!.key)).toBe(true);
    expect(second.adminToken).toBe(readFileSync(join(d, 'demo-admin.token'), 'utf8').trim());
  });

  it('validates ports, worker counts and DATABASE_URL, and freezes the result', () => {
    const env = { IDBIND_MASTER_KEY: key() };
    expect(() => loadConfig({ mode: 'production', env: { ...env, IDBIND_PORT: '99999' } })).toThrow(/IDBIND_PORT/);
    expect(() => loadConfig({ mode: 'production', env: { ...env, IDBIND_WORKERS: 'many' } })).toThrow(/IDBIND_WORKERS/);
    expect(() => loadConfig({ mode: 'production', env: { ...env, DATABASE_URL: 'mysql://x' } })).toThrow(/DATABASE_URL/);
    const c = loadConfig({ mode: 'production', env: { ...env, IDBIND_PORT: '9000', IDBIND_PUBLIC_URL: 'https://hub.example/' } });
    expect(c.publicUrl).toBe('https://hub.example');
    expect(Object.isFrozen(c)).toBe(true);
  });
});
