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

  it('refuses a list in IDBIND_MASTER_KEY, which holds one key, instead of keeping its first key', () => {
    // The rest were dropped without a word: the keys they wrap would fail later, at the first
    // read, far from the configuration that caused it.
    expect(() => loadConfig({ mode: 'production', env: { IDBIND_MASTER_KEY: `${key()},${key()}`, IDBIND_DATA_DIR: dir() } }))
      .toThrow(/IDBIND_MASTER_KEY holds one key \(got 2\): give a list as IDBIND_MASTER_KEYS/);
  });

  it('refuses a malformed public URL, log level or loopback switch, naming the variable', () => {
    const prod = (env: NodeJS.ProcessEnv) => () => loadConfig({ mode: 'production', env: { IDBIND_MASTER_KEY: key(), IDBIND_DATA_DIR: dir(), ...env } });
    expect(prod({ IDBIND_PUBLIC_URL: 'not a url' })).toThrow(/IDBIND_PUBLIC_URL/);
    expect(prod({ IDBIND_PUBLIC_URL: 'ftp://hub.example' })).toThrow(/IDBIND_PUBLIC_URL/);
    expect(prod({ IDBIND_PUBLIC_URL: 'https://hub.example/?x=1' })).toThrow(/IDBIND_PUBLIC_URL/);
    expect(prod({ IDBIND_PUBLIC_URL: 'https://user:pw@hub.example' })).toThrow(/IDBIND_PUBLIC_URL/);
    expect(prod({ IDBIND_PUBLIC_URL: 'https://hub.example/idbind/' })().publicUrl).toBe('https://hub.example/idbind');
    // pino knows these; anything else failed only once the database was open, as an unexpected failure.
    expect(prod({ IDBIND_LOG_LEVEL: 'verbose' })).toThrow(/IDBIND_LOG_LEVEL/);
    expect(prod({ IDBIND_LOG_LEVEL: 'debug' })().logLevel).toBe('debug');
    // `true` was taken silently as "not allowed": a switch says 1 or 0, like IDBIND_EID_ALLOW_INSECURE.
    expect(prod({ IDBIND_OUTBOUND_ALLOW_LOOPBACK: 'true' })).toThrow(/IDBIND_OUTBOUND_ALLOW_LOOPBACK/);
    expect(prod({ IDBIND_OUTBOUND_ALLOW_LOOPBACK: '0' })().outboundAllowLoopback).toBe(false);
  });

  it('refuses an SMS gateway setting without its URL, and plain http to any host but loopback', () => {
    const prod = (env: NodeJS.ProcessEnv) => () => loadConfig({ mode: 'production', env: { IDBIND_MASTER_KEY: key(), IDBIND_DATA_DIR: dir(), ...env } });
    // A half configuration is a mistake, never a default (as for the eID variables).
    expect(prod({ IDBIND_SMS_AUTHORIZATION: 'Bearer abc' })).toThrow(/IDBIND_SMS_AUTHORIZATION is set but IDBIND_SMS_URL is not/);
    // Outbound HTTP refuses it at every send (DESIGN.md "Conventions"): every code would fail, so the start does.
    expect(prod({ IDBIND_SMS_URL: 'http://sms.example/send' })).toThrow(/IDBIND_SMS_URL must be https/);
    expect(prod({ IDBIND_SMS_URL: 'https://sms.example/send' })().sms.url).toBe('https://sms.example/send');
    expect(prod({ IDBIND_SMS_URL: 'http://127.0.0.1:9/sms', IDBIND_OUTBOUND_ALLOW_LOOPBACK: '1' })().sms.url).toBe('http://127.0.0.1:9/sms');
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
    // The import's chunk size, in KiB, within its range.
    expect(loadConfig({ mode: 'production', env: { IDBIND_MASTER_KEY: key(), IDBIND_IMPORT_CHUNK_KIB: '32' } }).importChunkBytes).toBe(32 * 1024);
    expect(loadConfig({ mode: 'production', env: { IDBIND_MASTER_KEY: key() } }).importChunkBytes).toBe(512 * 1024);
    expect(() => loadConfig({ mode: 'production', env: { IDBIND_MASTER_KEY: key(), IDBIND_IMPORT_CHUNK_KIB: '8' } })).toThrow(/IDBIND_IMPORT_CHUNK_KIB/);
    // Long enough, but not a token: spaces, a repeated character, two characters alternating.
    for (const token of [' '.repeat(40), 'a'.repeat(40), 'ab'.repeat(20), `${'x'.repeat(31)} y`]) {
      expect(() => loadConfig({ mode: 'production', env: { IDBIND_MASTER_KEY: key(), IDBIND_ADMIN_TOKEN: token } }), JSON.stringify(token)).toThrow(/IDBIND_ADMIN_TOKEN/);
    }
    // What the README's command, base64url and `openssl rand -hex 32` print are taken.
    for (const token of [randomBytes(32).toString('base64'), randomBytes(32).toString('base64url'), randomBytes(32).toString('hex')]) {
      expect(loadConfig({ mode: 'production', env: { IDBIND_MASTER_KEY: key(), IDBIND_ADMIN_TOKEN: token } }).adminToken).toBe(token);
    }
  });

  it('takes a metrics token of at least 32 characters, none by default', () => {
    expect(() => loadConfig({ mode: 'production', env: { IDBIND_MASTER_KEY: key(), IDBIND_METRICS_TOKEN: 'short' } })).toThrow(/IDBIND_METRICS_TOKEN must be at least 32/);
    expect(loadConfig({ mode: 'production', env: { IDBIND_MASTER_KEY: key() } }).metricsToken).toBeUndefined();
    expect(loadConfig({ mode: 'production', env: { IDBIND_MASTER_KEY: key(), IDBIND_METRICS_TOKEN: 'm'.repeat(32) } }).metricsToken).toBe('m'.repeat(32));
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

  it('takes the status cache size (0 disables it) and max age, and the webhook concurrency, refusing anything else', () => {
    const env = { IDBIND_MASTER_KEY: key() };
    expect(loadConfig({ mode: 'production', env }).statusCache).toEqual({ size: 200_000, maxAgeSeconds: 30, prefill: true });
    expect(loadConfig({ mode: 'production', env: { ...env, IDBIND_STATUS_CACHE_SIZE: '0', IDBIND_STATUS_CACHE_MAX_AGE_SECONDS: '5', IDBIND_STATUS_CACHE_PREFILL: '0' } }).statusCache).toEqual({ size: 0, maxAgeSeconds: 5, prefill: false });
    expect(loadConfig({ mode: 'production', env }).webhooks).toEqual({ concurrency: 128, perProviderConcurrency: 64 });
    expect(loadConfig({ mode: 'production', env: { ...env, IDBIND_WEBHOOK_CONCURRENCY: '9' } }).webhooks).toEqual({ concurrency: 9, perProviderConcurrency: 5 });
    expect(loadConfig({ mode: 'production', env: { ...env, IDBIND_WEBHOOK_CONCURRENCY: '128', IDBIND_WEBHOOK_PROVIDER_CONCURRENCY: '128' } }).webhooks).toEqual({ concurrency: 128, perProviderConcurrency: 128 });
    expect(() => loadConfig({ mode: 'production', env: { ...env, IDBIND_WEBHOOK_CONCURRENCY: '0' } })).toThrow(/IDBIND_WEBHOOK_CONCURRENCY must be between 1 and 1024/);
    expect(() => loadConfig({ mode: 'production', env: { ...env, IDBIND_WEBHOOK_CONCURRENCY: '16', IDBIND_WEBHOOK_PROVIDER_CONCURRENCY: '17' } })).toThrow(/IDBIND_WEBHOOK_PROVIDER_CONCURRENCY must be between 1 and 16/);
    expect(() => loadConfig({ mode: 'production', env: { ...env, IDBIND_STATUS_CACHE_PREFILL: 'yes' } })).toThrow(/IDBIND_STATUS_CACHE_PREFILL/);
    expect(() => loadConfig({ mode: 'production', env: { ...env, IDBIND_STATUS_CACHE_SIZE: '-1' } })).toThrow(/IDBIND_STATUS_CACHE_SIZE/);
    expect(() => loadConfig({ mode: 'production', env: { ...env, IDBIND_STATUS_CACHE_SIZE: 'lots' } })).toThrow(/IDBIND_STATUS_CACHE_SIZE/);
    expect(() => loadConfig({ mode: 'production', env: { ...env, IDBIND_STATUS_CACHE_MAX_AGE_SECONDS: '0' } })).toThrow(/IDBIND_STATUS_CACHE_MAX_AGE_SECONDS/);
  });

  it('trusts no proxy by default, a hop count or addresses and ranges when told, and never everyone', () => {
    const env = { IDBIND_MASTER_KEY: key() };
    expect(loadConfig({ mode: 'production', env }).trustProxy).toBe(false);
    expect(loadConfig({ mode: 'production', env: { ...env, IDBIND_TRUST_PROXY: '2' } }).trustProxy).toBe(2);
    expect(loadConfig({ mode: 'production', env: { ...env, IDBIND_TRUST_PROXY: '10.0.0.0/8, 127.0.0.1,::1,fd00::/8' } }).trustProxy).toEqual(['10.0.0.0/8', '127.0.0.1', '::1', 'fd00::/8']);
    for (const bad of ['true', '0', '11', '10.0.0.0/33', 'proxy.example', '10.0.0.1/8/2', '::1/129']) {
      expect(() => loadConfig({ mode: 'production', env: { ...env, IDBIND_TRUST_PROXY: bad } }), bad).toThrow(/IDBIND_TRUST_PROXY/);
    }
  });

  it("gives one provider half of a number prefix's limit by default, a share of 1 to 100 percent when told", () => {
    const env = { IDBIND_MASTER_KEY: key() };
    expect(loadConfig({ mode: 'production', env }).verification).toMatchObject({ prefixPerMinute: 600, prefixSharePercent: 50, prefixPerProviderPerMinute: 300 });
    expect(loadConfig({ mode: 'production', env: { ...env, IDBIND_LIMIT_PREFIX_PER_MINUTE: '9', IDBIND_LIMIT_PREFIX_SHARE_PERCENT: '25' } }).verification.prefixPerProviderPerMinute).toBe(2);
    expect(loadConfig({ mode: 'production', env: { ...env, IDBIND_LIMIT_PREFIX_PER_MINUTE: '1' } }).verification.prefixPerProviderPerMinute).toBe(1);
    expect(loadConfig({ mode: 'production', env: { ...env, IDBIND_LIMIT_PREFIX_SHARE_PERCENT: '100' } }).verification.prefixPerProviderPerMinute).toBe(600);
    for (const bad of ['0', '101', 'half']) {
      expect(() => loadConfig({ mode: 'production', env: { ...env, IDBIND_LIMIT_PREFIX_SHARE_PERCENT: bad } }), bad).toThrow(/IDBIND_LIMIT_PREFIX_SHARE_PERCENT/);
    }
  });

  it('keeps every reconciliation run\'s results unless a retention of at least one run is set', () => {
    const env = { IDBIND_MASTER_KEY: key() };
    expect(loadConfig({ mode: 'production', env }).reconciliationKeepRuns).toBeUndefined();
    expect(loadConfig({ mode: 'production', env: { ...env, IDBIND_RECONCILIATION_KEEP_RUNS: '' } }).reconciliationKeepRuns).toBeUndefined();
    expect(loadConfig({ mode: 'production', env: { ...env, IDBIND_RECONCILIATION_KEEP_RUNS: '30' } }).reconciliationKeepRuns).toBe(30);
    expect(() => loadConfig({ mode: 'production', env: { ...env, IDBIND_RECONCILIATION_KEEP_RUNS: '0' } })).toThrow(/IDBIND_RECONCILIATION_KEEP_RUNS must be between 1 and 10000/);
    expect(() => loadConfig({ mode: 'production', env: { ...env, IDBIND_RECONCILIATION_KEEP_RUNS: 'all' } })).toThrow(/IDBIND_RECONCILIATION_KEEP_RUNS must be a whole number/);
  });
});

describe('national eID configuration (IDBIND_EID_*)', () => {
  const base = { IDBIND_MASTER_KEY: key() };
  const full = { ...base, IDBIND_EID_ISSUER: 'https://eid.example/op', IDBIND_EID_CLIENT_ID: 'idbind', IDBIND_EID_CLIENT_SECRET: 's3cret-s3cret' };

  it('is absent in production when not configured: the eID method is not offered', () => {
    expect(loadConfig({ mode: 'production', env: base }).eid).toBeUndefined();
  });

  it('takes a full configuration, with safe defaults: eIDAS substantial and high only, scope openid, claim personal_id', () => {
    const c = loadConfig({ mode: 'production', env: full }).eid!;
    expect(c).toMatchObject({ issuer: 'https://eid.example/op', clientId: 'idbind', clientSecret: 's3cret-s3cret', personalIdClaim: 'personal_id', scope: 'openid', allowInsecure: false, demo: false });
    expect(c.acrMap).toEqual({ 'http://eidas.europa.eu/LoA/substantial': 'substantial', 'http://eidas.europa.eu/LoA/high': 'high' });
    expect(c.acrMap).not.toHaveProperty(['http://eidas.europa.eu/LoA/low']);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('parses the acr map (split at the last =) and the other options', () => {
    const c = loadConfig({
      mode: 'production',
      env: { ...full, IDBIND_EID_ACR_MAP: ' urn:vneid:loa:2=substantial, https://x.example/loa?l=3=high ', IDBIND_EID_SCOPE: 'openid  vneid_pid', IDBIND_EID_PERSONAL_ID_CLAIM: 'so_dinh_danh' },
    }).eid!;
    expect(c.acrMap).toEqual({ 'urn:vneid:loa:2': 'substantial', 'https://x.example/loa?l=3': 'high' });
    expect(c.scope).toBe('openid vneid_pid');
    expect(c.personalIdClaim).toBe('so_dinh_danh');
  });

  it('refuses a level name that is not low, substantial or high, and malformed maps', () => {
    expect(() => loadConfig({ mode: 'production', env: { ...full, IDBIND_EID_ACR_MAP: 'urn:a=substantial,urn:b=very_high' } })).toThrow(/IDBIND_EID_ACR_MAP.*urn:b.*low, substantial, high/);
    expect(() => loadConfig({ mode: 'production', env: { ...full, IDBIND_EID_ACR_MAP: 'urn:a=High' } })).toThrow(/IDBIND_EID_ACR_MAP/);
    expect(() => loadConfig({ mode: 'production', env: { ...full, IDBIND_EID_ACR_MAP: 'urn:a' } })).toThrow(/acr=level/);
    expect(() => loadConfig({ mode: 'production', env: { ...full, IDBIND_EID_ACR_MAP: 'urn:a=low,,urn:b=high' } })).toThrow(/empty entry/);
    expect(() => loadConfig({ mode: 'production', env: { ...full, IDBIND_EID_ACR_MAP: 'urn:a=low,urn:a=high' } })).toThrow(/twice/);
  });

  it('fails closed on a partial configuration, naming the missing or stray variable', () => {
    expect(() => loadConfig({ mode: 'production', env: { ...base, IDBIND_EID_ISSUER: 'https://eid.example' } })).toThrow(/IDBIND_EID_CLIENT_ID/);
    expect(() => loadConfig({ mode: 'production', env: { ...base, IDBIND_EID_ISSUER: 'https://eid.example', IDBIND_EID_CLIENT_ID: 'x' } })).toThrow(/IDBIND_EID_CLIENT_SECRET/);
    expect(() => loadConfig({ mode: 'production', env: { ...base, IDBIND_EID_CLIENT_SECRET: 'x' } })).toThrow(/IDBIND_EID_CLIENT_SECRET is set but IDBIND_EID_ISSUER is not/);
    expect(() => loadConfig({ mode: 'demo', warn: () => undefined, env: { IDBIND_DATA_DIR: dir(), IDBIND_EID_ACR_MAP: 'urn:a=high' } })).toThrow(/IDBIND_EID_ACR_MAP is set but IDBIND_EID_ISSUER/);
    expect(() => loadConfig({ mode: 'production', env: { ...full, IDBIND_EID_SCOPE: 'profile' } })).toThrow(/IDBIND_EID_SCOPE must include openid/);
    expect(() => loadConfig({ mode: 'production', env: { ...full, IDBIND_EID_PERSONAL_ID_CLAIM: 'a b' } })).toThrow(/IDBIND_EID_PERSONAL_ID_CLAIM/);
  });

  it('never echoes the client secret in an error', () => {
    try {
      loadConfig({ mode: 'production', env: { ...full, IDBIND_EID_ISSUER: 'ftp://eid.example', IDBIND_EID_CLIENT_SECRET: 'do-not-print-me' } });
      expect.unreachable();
    } catch (e) {
      expect((e as Error).message).not.toContain('do-not-print-me');
    }
  });

  it('allows an http issuer only in demo mode or with IDBIND_EID_ALLOW_INSECURE=1', () => {
    const http = { ...full, IDBIND_EID_ISSUER: 'http://127.0.0.1:4000' };
    expect(() => loadConfig({ mode: 'production', env: http })).toThrow(/IDBIND_EID_ISSUER must be an https/);
    expect(() => loadConfig({ mode: 'production', env: { ...full, IDBIND_EID_ISSUER: 'https://eid.example/?a=1' } })).toThrow(/no query/);
    expect(() => loadConfig({ mode: 'production', env: { ...http, IDBIND_EID_ALLOW_INSECURE: 'yes' } })).toThrow(/IDBIND_EID_ALLOW_INSECURE/);
    expect(loadConfig({ mode: 'production', env: { ...http, IDBIND_EID_ALLOW_INSECURE: '1' } }).eid!.allowInsecure).toBe(true);
    const demo = loadConfig({ mode: 'demo', warn: () => undefined, env: { ...http, IDBIND_DATA_DIR: dir() } }).eid!;
    expect(demo).toMatchObject({ issuer: 'http://127.0.0.1:4000', allowInsecure: true, demo: false });
  });

  it('uses the built-in test eID in demo mode, with a generated client secret kept 0600 in the data directory', () => {
    const d = dir();
    const c = loadConfig({ mode: 'demo', warn: () => undefined, env: { IDBIND_DATA_DIR: d, IDBIND_PUBLIC_URL: 'http://localhost:8080/' } }).eid!;
    expect(c).toMatchObject({ issuer: 'http://localhost:8080/dev/eid', clientId: 'idbind-demo-broker', personalIdClaim: 'personal_id', scope: 'openid', allowInsecure: true, demo: true });
    expect(c.acrMap['http://eidas.europa.eu/LoA/high']).toBe('high');
    expect(c.clientSecret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(statSync(join(d, 'demo-eid-client.secret')).mode & 0o777).toBe(0o600);
    expect(loadConfig({ mode: 'demo', warn: () => undefined, env: { IDBIND_DATA_DIR: d } }).eid!.clientSecret).toBe(c.clientSecret);
  });
});
