/**
 * Configuration: parsed once from the environment, validated, frozen. Every security setting
 * fails closed (DESIGN.md invariant 5): outside demo mode a missing master key or admin token
 * stops the hub with an error that names the variable; only demo mode generates them.
 *
 * Every option is documented where it is defined (the style of panva/node-oidc-provider) and in
 * README "Configuration".
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { generateMasterKeySpec, MasterKeyConfigError, parseMasterKeys, type MasterKey } from '../crypto/master-keys.ts';

export type Mode = 'demo' | 'production';

export interface Config {
  /** `demo` (`idbind serve --demo`, `npm start`): generated keys, demo data, demo-only endpoints. */
  readonly mode: Mode;
  /** `IDBIND_DATA_DIR` (default `./data`): embedded database cluster, generated demo keys, rejects files. */
  readonly dataDir: string;
  /** `DATABASE_URL`: an external PostgreSQL (15 or newer). Unset: the embedded server in `dataDir/pg`. */
  readonly databaseUrl: string | undefined;
  /** Master keys (see master-keys.ts); the first is current. */
  readonly masterKeys: readonly MasterKey[];
  /** `IDBIND_ADMIN_TOKEN` (at least 32 characters): bearer token of the regulator's admin API. */
  readonly adminToken: string | undefined;
  /** `IDBIND_HOST` (default `127.0.0.1`) and `IDBIND_PORT` (default 8080) the HTTP server listens on. */
  readonly host: string;
  readonly port: number;
  /** `IDBIND_PUBLIC_URL`: the URL users reach the hub at (default `http://host:port`). */
  readonly publicUrl: string;
  /** `IDBIND_LOG_LEVEL` (default `info`). Logs never carry a personal field. */
  readonly logLevel: string;
  /** `IDBIND_WORKERS` (default: available cores): worker threads for bulk cryptography. */
  readonly workers: number;
  /**
   * `IDBIND_OUTBOUND_ALLOW_LOOPBACK` (`1` to allow; default: allowed in demo mode only): whether
   * webhook and SMS-gateway URLs may resolve to loopback addresses. Private and link-local
   * addresses are refused always (DESIGN.md "Conventions": outbound HTTP). For tests and demos.
   */
  readonly outboundAllowLoopback: boolean;
  /** Phone verification (issue 3); see VerificationConfig. */
  readonly verification: VerificationConfig;
  /** The SMS gateway; unset outside demo mode: verifications answer SMS_GATEWAY_UNAVAILABLE. */
  readonly sms: SmsConfig;
}

/**
 * Limits of phone verification (issue 3 "Abuse"). Provider-specific limits (verifications per
 * minute, SMS per day, accounts per person) are the provider's settings; these are the hub's.
 */
export interface VerificationConfig {
  /** `IDBIND_SIM_CHANGE_WINDOW_HOURS` (default 72): a number whose SIM or device changed more recently is not eligible. */
  readonly simChangeWindowHours: number;
  /** `IDBIND_LIMIT_NUMBER_PER_HOUR` (default 5): verifications started per number per hour, over all providers. */
  readonly numberPerHour: number;
  /** `IDBIND_LIMIT_NUMBER_PER_DAY` (default 10): the same per day. */
  readonly numberPerDay: number;
  /** `IDBIND_LIMIT_NUMBER_ATTEMPTS_PER_DAY` (default 15): codes typed for one number per day (a resend does not reset it). */
  readonly numberAttemptsPerDay: number;
  /** `IDBIND_LIMIT_PREFIX_PER_MINUTE` (default 600): verifications per number prefix (+84 and 3 digits) per minute. */
  readonly prefixPerMinute: number;
  /** `IDBIND_LIMIT_IP_PER_MINUTE` (default 1200): verifications started per client IP per minute. */
  readonly ipPerMinute: number;
  /** `IDBIND_CODE_ATTEMPTS` is fixed: 5 wrong codes per verification (issue 3). */
  readonly codeAttempts: number;
  /** `IDBIND_CODE_TTL_SECONDS` is fixed: codes expire after 300 s (issue 3). */
  readonly codeTtlSeconds: number;
}

/**
 * `IDBIND_SMS_URL`: the HTTP SMS gateway (POST, JSON `{"to", "text"}`); `IDBIND_SMS_AUTHORIZATION`:
 * the `Authorization` header sent to it; `IDBIND_SMS_TEMPLATE`: the text, with `{platform}` and
 * `{code}` (default: Vietnamese then English). In demo mode without `IDBIND_SMS_URL`, messages go
 * to the local outbox (`GET /v1/dev/sms-outbox`).
 */
export interface SmsConfig {
  readonly url: string | undefined;
  readonly authorization: string | undefined;
  readonly template: string;
}

// Vietnamese without diacritics and English, in GSM-7 (one SMS part, any handset); the code appears
// once, so it is the only 6-digit number a person or a test reads.
export const DEFAULT_SMS_TEMPLATE = '{code} la ma xac minh {platform} cua ban / is your {platform} verification code. Het han sau 5 phut / expires in 5 minutes. Khong chia se ma / do not share it.';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface LoadConfigOptions {
  mode: Mode;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Commands that never touch personal data (migrate) may run without master keys. */
  requireMasterKeys?: boolean;
  /** Only `serve` needs the admin token. */
  requireAdminToken?: boolean;
  /** Called with warnings (demo key generation). */
  warn?: (message: string) => void;
}

function intFrom(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(`${name} must be a whole number`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(`${name} must be between ${min} and ${max}`);
  return n;
}

function writeSecretFile(path: string, content: string): void {
  writeFileSync(path, content, { mode: 0o600 });
  chmodSync(path, 0o600);
}

function loadMasterKeys(env: NodeJS.ProcessEnv, mode: Mode, dataDir: string, warn: (m: string) => void): MasterKey[] | undefined {
  const sources = ['IDBIND_MASTER_KEY', 'IDBIND_MASTER_KEYS', 'IDBIND_MASTER_KEY_FILE'].filter((n) => (env[n] ?? '') !== '');
  if (sources.length > 1) throw new ConfigError(`set only one of ${sources.join(', ')}`);
  try {
    if (env.IDBIND_MASTER_KEY) return parseMasterKeys(env.IDBIND_MASTER_KEY, 'IDBIND_MASTER_KEY').slice(0, 1);
    if (env.IDBIND_MASTER_KEYS) return parseMasterKeys(env.IDBIND_MASTER_KEYS, 'IDBIND_MASTER_KEYS');
    if (env.IDBIND_MASTER_KEY_FILE) {
      const file = env.IDBIND_MASTER_KEY_FILE;
      if (!existsSync(file)) throw new ConfigError(`IDBIND_MASTER_KEY_FILE names a file that does not exist`);
      return parseMasterKeys(readFileSync(file, 'utf8'), 'IDBIND_MASTER_KEY_FILE');
    }
  } catch (e) {
    if (e instanceof MasterKeyConfigError) throw new ConfigError(e.message);
    throw e;
  }
  if (mode !== 'demo') return undefined;
  // Demo mode only: a key generated into the data directory, so that a demo survives restarts.
  const file = join(dataDir, 'demo-master.key');
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true });
    writeSecretFile(file, generateMasterKeySpec() + '\n');
    warn(`demo mode: generated a master key in ${file}; never use demo keys for real data`);
  }
  return parseMasterKeys(readFileSync(file, 'utf8'), file);
}

function loadAdminToken(env: NodeJS.ProcessEnv, mode: Mode, dataDir: string): string | undefined {
  const token = env.IDBIND_ADMIN_TOKEN;
  if (token !== undefined && token !== '') {
    if (token.length < 32) throw new ConfigError('IDBIND_ADMIN_TOKEN must be at least 32 characters');
    return token;
  }
  if (mode !== 'demo') return undefined;
  const file = join(dataDir, 'demo-admin.token');
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true });
    writeSecretFile(file, randomBytes(32).toString('base64url') + '\n');
  }
  return readFileSync(file, 'utf8').trim();
}

function smsUrl(env: NodeJS.ProcessEnv): string | undefined {
  const raw = env.IDBIND_SMS_URL;
  if (raw === undefined || raw === '') return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('IDBIND_SMS_URL must be an http:// or https:// URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ConfigError('IDBIND_SMS_URL must be an http:// or https:// URL');
  return url.toString();
}

function smsTemplate(env: NodeJS.ProcessEnv): string {
  const t = env.IDBIND_SMS_TEMPLATE;
  if (t === undefined || t === '') return DEFAULT_SMS_TEMPLATE;
  // The code must be the only 6-digit number in the text, and the person must see who asks.
  if (!t.includes('{code}') || !t.includes('{platform}')) throw new ConfigError('IDBIND_SMS_TEMPLATE must contain {code} and {platform}');
  if (/\d{6}/.test(t.replaceAll('{code}', ''))) throw new ConfigError('IDBIND_SMS_TEMPLATE must not contain another 6-digit number');
  return t;
}

export function loadConfig(options: LoadConfigOptions): Config {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const warn = options.warn ?? ((m: string) => process.stderr.write(`warning: ${m}\n`));
  const rawDir = env.IDBIND_DATA_DIR && env.IDBIND_DATA_DIR !== '' ? env.IDBIND_DATA_DIR : 'data';
  const dataDir = isAbsolute(rawDir) ? rawDir : resolve(cwd, rawDir);
  const masterKeys = loadMasterKeys(env, options.mode, dataDir, warn);
  if (options.requireMasterKeys !== false && masterKeys === undefined) {
    const demoKey = join(dataDir, 'demo-master.key');
    const hint = existsSync(demoKey)
      ? ` (this data directory belongs to a demo: to use it from the CLI, set IDBIND_MASTER_KEY_FILE=${demoKey})`
      : ' (or run the demo: idbind serve --demo)';
    throw new ConfigError(`no master key: set IDBIND_MASTER_KEY (base64 of 32 random bytes), IDBIND_MASTER_KEYS or IDBIND_MASTER_KEY_FILE${hint}`);
  }
  const adminToken = loadAdminToken(env, options.mode, dataDir);
  if (options.requireAdminToken && adminToken === undefined) {
    throw new ConfigError('no admin token: set IDBIND_ADMIN_TOKEN (at least 32 characters)');
  }
  const host = env.IDBIND_HOST && env.IDBIND_HOST !== '' ? env.IDBIND_HOST : '127.0.0.1';
  const port = intFrom(env, 'IDBIND_PORT', 8080, 0, 65535);
  const databaseUrl = env.DATABASE_URL && env.DATABASE_URL !== '' ? env.DATABASE_URL : undefined;
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL must be a postgres:// or postgresql:// URL');
  }
  const publicUrl = (env.IDBIND_PUBLIC_URL && env.IDBIND_PUBLIC_URL !== '' ? env.IDBIND_PUBLIC_URL : `http://${host}:${port}`).replace(/\/+$/, '');
  return Object.freeze({
    mode: options.mode,
    dataDir,
    databaseUrl,
    masterKeys: Object.freeze(masterKeys ?? []),
    adminToken,
    host,
    port,
    publicUrl,
    logLevel: env.IDBIND_LOG_LEVEL && env.IDBIND_LOG_LEVEL !== '' ? env.IDBIND_LOG_LEVEL : 'info',
    workers: intFrom(env, 'IDBIND_WORKERS', Math.max(1, availableParallelism()), 1, 64),
    outboundAllowLoopback: env.IDBIND_OUTBOUND_ALLOW_LOOPBACK === undefined || env.IDBIND_OUTBOUND_ALLOW_LOOPBACK === ''
      ? options.mode === 'demo'
      : env.IDBIND_OUTBOUND_ALLOW_LOOPBACK === '1',
    verification: Object.freeze({
      simChangeWindowHours: intFrom(env, 'IDBIND_SIM_CHANGE_WINDOW_HOURS', 72, 0, 24 * 365),
      numberPerHour: intFrom(env, 'IDBIND_LIMIT_NUMBER_PER_HOUR', 5, 1, 1_000_000_000),
      numberPerDay: intFrom(env, 'IDBIND_LIMIT_NUMBER_PER_DAY', 10, 1, 1_000_000_000),
      numberAttemptsPerDay: intFrom(env, 'IDBIND_LIMIT_NUMBER_ATTEMPTS_PER_DAY', 15, 1, 1_000_000_000),
      prefixPerMinute: intFrom(env, 'IDBIND_LIMIT_PREFIX_PER_MINUTE', 600, 1, 1_000_000_000),
      ipPerMinute: intFrom(env, 'IDBIND_LIMIT_IP_PER_MINUTE', 1200, 1, 1_000_000_000),
      codeAttempts: 5,
      codeTtlSeconds: 300,
    }),
    sms: Object.freeze({
      url: smsUrl(env),
      authorization: env.IDBIND_SMS_AUTHORIZATION && env.IDBIND_SMS_AUTHORIZATION !== '' ? env.IDBIND_SMS_AUTHORIZATION : undefined,
      template: smsTemplate(env),
    }),
  });
}
