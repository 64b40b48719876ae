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
import { isIP } from 'node:net';
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
  /**
   * `IDBIND_ADMIN_TOKEN`: bearer token of the regulator's admin API; at least 32 characters of a
   * bearer token's alphabet (RFC 6750 b64token), at least 10 of them distinct.
   */
  readonly adminToken: string | undefined;
  /**
   * `IDBIND_METRICS_TOKEN` (at least 32 characters): bearer token a Prometheus scraper presents at
   * `/metrics`. Outside demo mode `/metrics` answers only to it or to the admin token (fail closed:
   * with neither configured, to nobody); in demo mode it is open. The figures carry no personal
   * data, but they tell how each platform's verifications go, which is theirs to see.
   */
  readonly metricsToken: string | undefined;
  /** `IDBIND_HOST` (default `127.0.0.1`) and `IDBIND_PORT` (default 8080) the HTTP server listens on. */
  readonly host: string;
  readonly port: number;
  /**
   * `IDBIND_TRUST_PROXY` (default: unset, no proxy trusted): the reverse proxies in front of the
   * hub whose `X-Forwarded-For` tells the client's address, as a hop count (`1`: the one proxy
   * the hub sees) or a comma-separated list of addresses and CIDR ranges (`10.0.0.0/8,::1`).
   * Without it the client is the TCP peer: behind a proxy that is the proxy, so every client
   * would share one per-IP rate limit. `true` (trust anyone's header) is refused: any client could
   * then choose the address it is limited under (fail closed, DESIGN.md invariant 5).
   */
  readonly trustProxy: false | number | readonly string[];
  /**
   * `IDBIND_PUBLIC_URL`: the URL users reach the hub at (default `http://host:port`): http(s),
   * an optional path, no query, fragment or credentials; trailing slashes dropped.
   */
  readonly publicUrl: string;
  /** `IDBIND_LOG_LEVEL` (default `info`; fatal, error, warn, info, debug, trace or silent). Logs never carry a personal field. */
  readonly logLevel: string;
  /** `IDBIND_WORKERS` (default: available cores): worker threads for bulk cryptography. */
  readonly workers: number;
  /**
   * `IDBIND_IMPORT_CHUNK_KIB` (default 512, 16 to 65,536): the size of the pieces of a file an
   * import reads, prepares and commits at once (one batch each). Smaller commits more often and
   * holds less memory per batch in flight; larger is faster (issue 2 benchmark: 512).
   */
  readonly importChunkBytes: number;
  /**
   * `IDBIND_OUTBOUND_ALLOW_LOOPBACK` (`1` to allow, `0` not to; default: allowed in demo mode only): whether
   * webhook and SMS-gateway URLs may resolve to loopback addresses, and use plain http to those
   * (never to any other host). Private and link-local addresses are refused always (DESIGN.md
   * "Conventions": outbound HTTP). For tests and demos.
   */
  readonly outboundAllowLoopback: boolean;
  /** Phone verification (issue 3); see VerificationConfig. */
  readonly verification: VerificationConfig;
  /** The SMS gateway; unset outside demo mode: verifications answer SMS_GATEWAY_UNAVAILABLE. */
  readonly sms: SmsConfig;
  /**
   * The upstream national eID (issue 4 "National eID broker"); see EidConfig. Undefined when not
   * configured outside demo mode: the eID method is then not offered. In demo mode without
   * `IDBIND_EID_ISSUER`, the built-in test eID at `${publicUrl}/dev/eid` (src/demo/test-eid/).
   */
  readonly eid: EidConfig | undefined;
  /**
   * The transparency log (issue 5; docs/tlog.md), read by src/tlog/log-service.ts loadLogKey and
   * loadLogWitnesses: `IDBIND_LOG_KEY` (the signing key, PRIVATE+KEY+...; demo mode generates one
   * into the data directory; production without it has no log, so no disclosure can be filed or
   * released: fail closed), `IDBIND_LOG_ORIGIN` (default: the public URL without its scheme),
   * `IDBIND_LOG_WITNESSES` (witness verifier keys whose cosignatures are accepted).
   */
  readonly transparencyLog: Readonly<{ IDBIND_LOG_KEY?: string; IDBIND_LOG_ORIGIN?: string; IDBIND_LOG_WITNESSES?: string }>;
  /** Disclosure quotas (issue 5): `IDBIND_DISCLOSURES_PER_OFFICIAL_PER_DAY` (10), `IDBIND_DISCLOSURES_PER_AUTHORITY_PER_DAY` (50). */
  readonly disclosure: Readonly<{ officialPerDay: number; authorityPerDay: number; expiryDays: number }>;
  /** The account status cache of `GET /v1/accounts/{ref}` (issue 3 benchmarks); see StatusCacheConfig. */
  readonly statusCache: StatusCacheConfig;
  /** The webhook dispatcher of each hub process (issue 3 "Webhooks"); see WebhookDispatchConfig. */
  readonly webhooks: WebhookDispatchConfig;
  /**
   * `IDBIND_RECONCILIATION_KEEP_RUNS` (default: unset, every run's results are kept; 1 to
   * 10000): after each completed reconciliation, the per-subscription results of all but this
   * many most recent completed runs are deleted (migration 0025; `idbind reconcile prune` does the
   * same on demand). A run's counts, trend and comparison stay; its action lists go. Unset by
   * default because deleting is the regulator's decision, not ours: at national scale a run writes
   * millions of rows, so set it once the retention period is decided.
   */
  readonly reconciliationKeepRuns: number | undefined;
}

/**
 * How many webhook requests one hub process keeps in flight (src/events/webhook-dispatcher.ts;
 * docs/webhooks.md). Each process claims its own share of the due deliveries, so the totals
 * across processes are these times the number of processes.
 */
export interface WebhookDispatchConfig {
  /** `IDBIND_WEBHOOK_CONCURRENCY` (default 128, 1 to 1024): requests in flight at once, all providers together. */
  readonly concurrency: number;
  /**
   * `IDBIND_WEBHOOK_PROVIDER_CONCURRENCY` (default: half of the concurrency, 1 to the
   * concurrency): requests in flight to one provider at most, so that one platform's backlog or
   * hanging endpoint leaves the rest to the others. Raise it with the concurrency for a platform
   * whose endpoint is far away (each request waits out the round trip); lower it to spare a
   * platform's endpoint.
   */
  readonly perProviderConcurrency: number;
}

/**
 * The in-process account status cache (src/bindings/account-status-cache.ts; docs/status-cache.md).
 * It is kept correct by the database's own notifications (migration 0014), also across several
 * hub processes, and is bypassed whenever it cannot hear them, so enabling it changes latency,
 * never answers beyond a notification's delivery time.
 */
export interface StatusCacheConfig {
  /**
   * `IDBIND_STATUS_CACHE_SIZE` (default 200000, 0 to 10000000): entries (provider, account)
   * kept, least recently used evicted; about 180 bytes each (36 MB at the default). `0` disables the cache: every read
   * queries the database and no LISTEN connection is opened.
   */
  readonly size: number;
  /**
   * `IDBIND_STATUS_CACHE_MAX_AGE_SECONDS` (default 30, 1 to 3600): the longest an entry is served
   * even if no notification removed it (a second line of defence).
   */
  readonly maxAgeSeconds: number;
  /**
   * `IDBIND_STATUS_CACHE_PREFILL` (default 1; 0 turns it off): a warm start. Each time the
   * listener (re)connects, the cache fills itself in the background from `accounts`, most
   * recently bound first, up to `size` entries, one query of 10,000 rows at a time; memory stays
   * within `size`, and the database reads at most `size` rows per (re)connect.
   */
  readonly prefill: boolean;
}

function webhookDispatchConfig(env: NodeJS.ProcessEnv): WebhookDispatchConfig {
  const concurrency = intFrom(env, 'IDBIND_WEBHOOK_CONCURRENCY', 128, 1, 1024);
  return Object.freeze({
    concurrency,
    perProviderConcurrency: intFrom(env, 'IDBIND_WEBHOOK_PROVIDER_CONCURRENCY', Math.ceil(concurrency / 2), 1, concurrency),
  });
}

/**
 * Assurance levels, lowest first (DESIGN.md "Verification methods and assurance"). The names are
 * fixed in code; only the mapping from an upstream eID's `acr` values to them is configuration.
 */
export const ASSURANCE_LEVELS = ['low', 'substantial', 'high'] as const;
export type AssuranceLevel = (typeof ASSURANCE_LEVELS)[number];

/** eIDAS levels of assurance (Commission Implementing Regulation (EU) 2015/1502), as `acr` URIs. */
export const EIDAS_LOA = {
  low: 'http://eidas.europa.eu/LoA/low',
  substantial: 'http://eidas.europa.eu/LoA/substantial',
  high: 'http://eidas.europa.eu/LoA/high',
} as const;

/**
 * The default `IDBIND_EID_ACR_MAP`: eIDAS substantial and high to the idbind levels of the same
 * name. Nothing else is mapped, so an upstream value not listed (eIDAS `low` included: DESIGN.md
 * gives eID `substantial` or `high` only) fails closed with EID_LEVEL_UNKNOWN rather than being
 * taken for a level it does not prove.
 */
export const DEFAULT_EID_ACR_MAP: Readonly<Record<string, AssuranceLevel>> = Object.freeze({
  [EIDAS_LOA.substantial]: 'substantial',
  [EIDAS_LOA.high]: 'high',
});

/** Where demo mode mounts its test eID provider (src/demo/test-eid/), below `publicUrl`. */
export const DEMO_EID_PATH = '/dev/eid';
/** The broker's client id at the demo's test eID provider. */
export const DEMO_EID_CLIENT_ID = 'idbind-demo-broker';

/**
 * The upstream national eID provider (such as VNeID) that idbind is a relying party of: OpenID
 * Connect authorization code flow with PKCE (src/oidc/eid/eid-broker.ts). All of it or none of
 * it: an issuer without client credentials, or credentials without an issuer, stops the hub with
 * an error naming the variable (DESIGN.md invariant 5).
 */
export interface EidConfig {
  /** `IDBIND_EID_ISSUER`: the upstream's issuer identifier (discovery at `<issuer>/.well-known/openid-configuration`). https only, unless demo mode or `IDBIND_EID_ALLOW_INSECURE=1`. */
  readonly issuer: string;
  /** `IDBIND_EID_CLIENT_ID` (required with the issuer): idbind's client id at the upstream. */
  readonly clientId: string;
  /** `IDBIND_EID_CLIENT_SECRET` (required with the issuer): idbind's client secret there (sent as `client_secret_basic`). Never logged. */
  readonly clientSecret: string;
  /** `IDBIND_EID_PERSONAL_ID_CLAIM` (default `personal_id`): the claim carrying the 12-digit personal ID number (ID token, else UserInfo). */
  readonly personalIdClaim: string;
  /**
   * `IDBIND_EID_ACR_MAP` (default: DEFAULT_EID_ACR_MAP): upstream `acr` values to idbind levels,
   * as `acr=level` pairs separated by commas (`urn:vneid:loa:2=substantial,urn:vneid:loa:3=high`).
   * A level must be `low`, `substantial` or `high`. An upstream `acr` not listed fails closed.
   */
  readonly acrMap: Readonly<Record<string, AssuranceLevel>>;
  /** `IDBIND_EID_SCOPE` (default `openid`): the scopes asked for, space-separated; must include `openid`. */
  readonly scope: string;
  /** `IDBIND_EID_ALLOW_INSECURE` (`1` to allow; default: demo mode only): an `http://` issuer (tests and demos). */
  readonly allowInsecure: boolean;
  /** True for the demo's built-in test eID (demo mode without `IDBIND_EID_ISSUER`). */
  readonly demo: boolean;
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
  /**
   * `IDBIND_LIMIT_PREFIX_SHARE_PERCENT` (default 50, 1 to 100): the share of `prefixPerMinute` one
   * provider may spend in a number prefix per minute. The prefix limit is a ceiling shared by every
   * provider against SMS pumping; without a share, one provider (abusive, compromised or merely
   * busy) could spend it all and rate-limit every other platform's users in that range. 50 is the
   * largest share that still leaves every other provider together at least as much as any one,
   * while the few large platforms that carry most sign-ups keep the most headroom (300 a minute
   * per range by default). 100 turns the share off (no bucket of its own is counted).
   */
  readonly prefixSharePercent: number;
  /** Derived: `prefixPerMinute` times `prefixSharePercent`, rounded down, at least 1. */
  readonly prefixPerProviderPerMinute: number;
  /** `IDBIND_LIMIT_IP_PER_MINUTE` (default 1200): verifications started per client IP per minute. */
  readonly ipPerMinute: number;
  /** `IDBIND_CODE_ATTEMPTS` is fixed: 5 wrong codes per verification (issue 3). */
  readonly codeAttempts: number;
  /** `IDBIND_CODE_TTL_SECONDS` is fixed: codes expire after 300 s (issue 3). */
  readonly codeTtlSeconds: number;
}

/**
 * `IDBIND_SMS_URL`: the HTTP SMS gateway (POST, JSON `{"to", "text"}`; https, or plain http to
 * loopback only); `IDBIND_SMS_AUTHORIZATION` (only with the URL): the `Authorization` header sent to it; `IDBIND_SMS_TEMPLATE`: the text, with `{platform}` and
 * `{code}` (default: Vietnamese without diacritics then English, one GSM-7 part; an own template
 * is used as given, with a warning at start when it can take more than one part). In demo mode
 * without `IDBIND_SMS_URL`, messages go to the local outbox (`GET /v1/dev/sms-outbox`).
 */
export interface SmsConfig {
  readonly url: string | undefined;
  readonly authorization: string | undefined;
  readonly template: string;
}

// Vietnamese without diacritics, then English, all in the GSM-7 basic set; the platform named once.
// 116 characters with the code, so 44 are left to the name within one 160-character SMS part:
// verification/sms/sms-text.ts folds the name to GSM-7 and cuts it there (and says why one part).
// The code appears once, so it is the only 6-digit number a person or a test reads.
export const DEFAULT_SMS_TEMPLATE = '{code} la ma xac minh {platform} cua ban, het han sau 5 phut. Khong chia se ma nay. / Your code, valid 5 min. Do not share it.';

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
  /**
   * `idbind serve` in production mode: refuse a master key that is the demo's generated one
   * (`demo-master.key` in the data directory). The other commands may use it on a demo's data
   * (the hint below says how); a production server must not serve demo data under a key kept in
   * clear beside it (issue 2: production mode has no generated keys and no demo data).
   */
  refuseDemoMasterKey?: boolean;
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

function trustProxyFrom(raw: string | undefined): Config['trustProxy'] {
  if (raw === undefined || raw.trim() === '') return false;
  const value = raw.trim();
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    if (hops < 1 || hops > 10) throw new ConfigError('IDBIND_TRUST_PROXY: a hop count must be between 1 and 10');
    return hops;
  }
  const entries = value.split(',').map((e) => e.trim()).filter((e) => e !== '');
  for (const entry of entries) {
    const [address, bits, extra] = entry.split('/');
    const family = isIP(address ?? '');
    const maxBits = family === 4 ? 32 : 128;
    if (family === 0 || extra !== undefined || (bits !== undefined && (!/^\d+$/.test(bits) || Number(bits) > maxBits))) {
      throw new ConfigError('IDBIND_TRUST_PROXY must be a hop count or a comma-separated list of IP addresses and CIDR ranges (never `true`)');
    }
  }
  return Object.freeze(entries);
}

/**
 * The secrets demo mode generates into the data directory on its first start (the master key, the
 * admin token, the test eID's client secret).
 */
export const DEMO_SECRET_FILES = ['demo-master.key', 'demo-admin.token', 'demo-eid-client.secret'] as const;

function writeSecretFile(path: string, content: string): void {
  writeFileSync(path, content, { mode: 0o600 });
  chmodSync(path, 0o600);
}

function loadMasterKeys(env: NodeJS.ProcessEnv, mode: Mode, dataDir: string, warn: (m: string) => void): MasterKey[] | undefined {
  const sources = ['IDBIND_MASTER_KEY', 'IDBIND_MASTER_KEYS', 'IDBIND_MASTER_KEY_FILE'].filter((n) => (env[n] ?? '') !== '');
  if (sources.length > 1) throw new ConfigError(`set only one of ${sources.join(', ')}`);
  try {
    if (env.IDBIND_MASTER_KEY) {
      const keys = parseMasterKeys(env.IDBIND_MASTER_KEY, 'IDBIND_MASTER_KEY');
      // One key (docs/keys.md): a list here kept its first key and dropped the others silently.
      if (keys.length > 1) throw new ConfigError(`IDBIND_MASTER_KEY holds one key (got ${keys.length}): give a list as IDBIND_MASTER_KEYS`);
      return keys;
    }
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
    // A bearer token (RFC 6750 b64token: what `base64`, `openssl rand -hex` and the like print), and
    // not a long run of a few characters that passes the length alone ("aaaa...", spaces): it opens
    // the regulator's API, so a guessable one fails the start (DESIGN.md invariant 5).
    if (!/^[A-Za-z0-9\-._~+/]+=*$/.test(token)) throw new ConfigError('IDBIND_ADMIN_TOKEN must be a bearer token: letters, digits and - . _ ~ + / (then = padding), no spaces');
    if (new Set(token).size < 10) throw new ConfigError('IDBIND_ADMIN_TOKEN is too repetitive to be random: use at least 32 random bytes, e.g. head -c 32 /dev/urandom | base64');
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
  // Outbound HTTP takes plain http to loopback only (DESIGN.md "Conventions"; outbound-http.ts
  // refuses anything else at every send): such a URL would fail every code, so it fails the start.
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    throw new ConfigError('IDBIND_SMS_URL must be https:// (plain http:// only to a loopback address, for tests and demos)');
  }
  return url.toString();
}

/** A host name that names the loopback interface itself (the sends check the resolved addresses again). */
function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

/** `IDBIND_SMS_AUTHORIZATION` only with `IDBIND_SMS_URL`: a half configuration is a mistake, never a default (as for the eID). */
function smsAuthorization(env: NodeJS.ProcessEnv, url: string | undefined): string | undefined {
  const raw = env.IDBIND_SMS_AUTHORIZATION;
  if (raw === undefined || raw === '') return undefined;
  if (url === undefined) throw new ConfigError('IDBIND_SMS_AUTHORIZATION is set but IDBIND_SMS_URL is not: set the gateway URL, or unset it');
  return raw;
}

/** `IDBIND_PUBLIC_URL`: an http(s) origin with an optional path; it names the OpenID issuer, redirect URIs and links. */
function publicUrlFrom(raw: string | undefined, host: string, port: number): string {
  if (raw === undefined || raw === '') return `http://${host}:${port}`;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('IDBIND_PUBLIC_URL must be an http:// or https:// URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ConfigError('IDBIND_PUBLIC_URL must be an http:// or https:// URL');
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw new ConfigError('IDBIND_PUBLIC_URL must have no query, fragment or credentials');
  }
  return raw.replace(/\/+$/, '');
}

/** pino's levels (IDBIND_LOG_LEVEL): anything else made the logger throw once the database was already open. */
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** A 1/0 switch: anything else (`true`, `yes`) is refused rather than silently read as off. */
function switchFrom(env: NodeJS.ProcessEnv, name: string): boolean | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  if (raw !== '0' && raw !== '1') throw new ConfigError(`${name} must be 1 or 0`);
  return raw === '1';
}

function smsTemplate(env: NodeJS.ProcessEnv): string {
  const t = env.IDBIND_SMS_TEMPLATE;
  if (t === undefined || t === '') return DEFAULT_SMS_TEMPLATE;
  // The code must be the only 6-digit number in the text, and the person must see who asks.
  if (!t.includes('{code}') || !t.includes('{platform}')) throw new ConfigError('IDBIND_SMS_TEMPLATE must contain {code} and {platform}');
  if (/\d{6}/.test(t.replaceAll('{code}', ''))) throw new ConfigError('IDBIND_SMS_TEMPLATE must not contain another 6-digit number');
  // A digit (or a second code) against the code makes a longer run: "{code}1" reads as 7 digits.
  if (/\d\{code\}|\{code\}(\d|\{code\})/.test(t)) throw new ConfigError('IDBIND_SMS_TEMPLATE must not put a digit beside {code}');
  return t;
}

const EID_VARIABLES = ['IDBIND_EID_CLIENT_ID', 'IDBIND_EID_CLIENT_SECRET', 'IDBIND_EID_PERSONAL_ID_CLAIM', 'IDBIND_EID_ACR_MAP', 'IDBIND_EID_SCOPE'] as const;

/** Parses `IDBIND_EID_ACR_MAP`: `acr=level` pairs, split at the last `=` (an acr URI may hold one). */
export function parseAcrMap(raw: string, name = 'IDBIND_EID_ACR_MAP'): Readonly<Record<string, AssuranceLevel>> {
  const map: Record<string, AssuranceLevel> = {};
  const entries = raw.split(',').map((e) => e.trim());
  if (entries.some((e) => e === '')) throw new ConfigError(`${name}: an empty entry (expected acr=level pairs separated by commas)`);
  for (const entry of entries) {
    const at = entry.lastIndexOf('=');
    const acr = at > 0 ? entry.slice(0, at).trim() : '';
    const level = at > 0 ? entry.slice(at + 1).trim() : '';
    if (acr === '' || /\s/.test(acr) || acr.length > 512) throw new ConfigError(`${name}: each entry must be acr=level, with an acr value without spaces`);
    if (!(ASSURANCE_LEVELS as readonly string[]).includes(level)) throw new ConfigError(`${name}: the level of ${acr} must be one of ${ASSURANCE_LEVELS.join(', ')}`);
    if (Object.hasOwn(map, acr)) throw new ConfigError(`${name}: ${acr} is listed twice`);
    map[acr] = level as AssuranceLevel;
  }
  return Object.freeze(map);
}

function demoEidSecret(dataDir: string): string {
  const file = join(dataDir, 'demo-eid-client.secret');
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true });
    writeSecretFile(file, randomBytes(32).toString('base64url') + '\n');
  }
  return readFileSync(file, 'utf8').trim();
}

function loadEidConfig(env: NodeJS.ProcessEnv, mode: Mode, dataDir: string, publicUrl: string): EidConfig | undefined {
  const set = (name: string) => (env[name] ?? '') !== '';
  const allowRaw = env.IDBIND_EID_ALLOW_INSECURE ?? '';
  if (allowRaw !== '' && allowRaw !== '0' && allowRaw !== '1') throw new ConfigError('IDBIND_EID_ALLOW_INSECURE must be 1 or 0');
  const allowInsecure = mode === 'demo' || allowRaw === '1';
  if (!set('IDBIND_EID_ISSUER')) {
    // Fail closed on a half configuration: settings without an issuer are a mistake, never a default.
    const stray = EID_VARIABLES.find(set);
    if (stray) throw new ConfigError(`${stray} is set but IDBIND_EID_ISSUER is not: set the issuer, or unset the eID variables`);
    if (mode !== 'demo') return undefined;
    return Object.freeze({
      issuer: `${publicUrl}${DEMO_EID_PATH}`,
      clientId: DEMO_EID_CLIENT_ID,
      clientSecret: demoEidSecret(dataDir),
      personalIdClaim: 'personal_id',
      acrMap: DEFAULT_EID_ACR_MAP,
      scope: 'openid',
      allowInsecure: true,
      demo: true,
    });
  }
  const issuer = env.IDBIND_EID_ISSUER!.trim();
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new ConfigError('IDBIND_EID_ISSUER must be an https:// URL');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && allowInsecure)) {
    throw new ConfigError('IDBIND_EID_ISSUER must be an https:// URL (http:// only in demo mode or with IDBIND_EID_ALLOW_INSECURE=1)');
  }
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw new ConfigError('IDBIND_EID_ISSUER must be an issuer identifier: no query, fragment or credentials');
  }
  for (const name of ['IDBIND_EID_CLIENT_ID', 'IDBIND_EID_CLIENT_SECRET'] as const) {
    if (!set(name)) throw new ConfigError(`IDBIND_EID_ISSUER is set but ${name} is not`);
  }
  const clientId = env.IDBIND_EID_CLIENT_ID!;
  if (!/^[\x20-\x7e]{1,256}$/.test(clientId)) throw new ConfigError('IDBIND_EID_CLIENT_ID must be at most 256 printable ASCII characters');
  const claim = set('IDBIND_EID_PERSONAL_ID_CLAIM') ? env.IDBIND_EID_PERSONAL_ID_CLAIM! : 'personal_id';
  if (!/^[A-Za-z0-9_.:-]{1,128}$/.test(claim)) throw new ConfigError('IDBIND_EID_PERSONAL_ID_CLAIM must be a claim name (letters, digits, _ . : -)');
  const scope = set('IDBIND_EID_SCOPE') ? env.IDBIND_EID_SCOPE!.trim().split(/\s+/).join(' ') : 'openid';
  if (!scope.split(' ').includes('openid')) throw new ConfigError('IDBIND_EID_SCOPE must include openid');
  if (!/^[\x21\x23-\x5b\x5d-\x7e ]+$/.test(scope)) throw new ConfigError('IDBIND_EID_SCOPE must be scope tokens separated by spaces');
  return Object.freeze({
    issuer,
    clientId,
    clientSecret: env.IDBIND_EID_CLIENT_SECRET!,
    personalIdClaim: claim,
    acrMap: set('IDBIND_EID_ACR_MAP') ? parseAcrMap(env.IDBIND_EID_ACR_MAP!) : DEFAULT_EID_ACR_MAP,
    scope,
    allowInsecure,
    demo: false,
  });
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
  if (options.refuseDemoMasterKey && options.mode === 'production' && masterKeys !== undefined) {
    const demoKeyFile = join(dataDir, 'demo-master.key');
    let demoKeys: MasterKey[] = [];
    try {
      demoKeys = existsSync(demoKeyFile) ? parseMasterKeys(readFileSync(demoKeyFile, 'utf8'), demoKeyFile) : [];
    } catch {
      // Not a key this hub generated: nothing to compare with.
    }
    if (masterKeys.some((k) => demoKeys.some((d) => d.key.equals(k.key)))) {
      throw new ConfigError(`the master key is the demo's generated key (${demoKeyFile}): production mode does not serve demo data; run \`idbind serve --demo\`, or use a new data directory with a key of your own`);
    }
  }
  const adminToken = loadAdminToken(env, options.mode, dataDir);
  if (options.requireAdminToken && adminToken === undefined) {
    throw new ConfigError('no admin token: set IDBIND_ADMIN_TOKEN (at least 32 characters)');
  }
  const metricsToken = env.IDBIND_METRICS_TOKEN !== undefined && env.IDBIND_METRICS_TOKEN !== '' ? env.IDBIND_METRICS_TOKEN : undefined;
  if (metricsToken !== undefined && metricsToken.length < 32) throw new ConfigError('IDBIND_METRICS_TOKEN must be at least 32 characters');
  const host = env.IDBIND_HOST && env.IDBIND_HOST !== '' ? env.IDBIND_HOST : '127.0.0.1';
  const port = intFrom(env, 'IDBIND_PORT', 8080, 0, 65535);
  const databaseUrl = env.DATABASE_URL && env.DATABASE_URL !== '' ? env.DATABASE_URL : undefined;
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL must be a postgres:// or postgresql:// URL');
  }
  const prefixPerMinute = intFrom(env, 'IDBIND_LIMIT_PREFIX_PER_MINUTE', 600, 1, 1_000_000_000);
  const prefixSharePercent = intFrom(env, 'IDBIND_LIMIT_PREFIX_SHARE_PERCENT', 50, 1, 100);
  const publicUrl = publicUrlFrom(env.IDBIND_PUBLIC_URL, host, port);
  const logLevel = env.IDBIND_LOG_LEVEL && env.IDBIND_LOG_LEVEL !== '' ? env.IDBIND_LOG_LEVEL : 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) throw new ConfigError(`IDBIND_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`);
  const sms = smsUrl(env);
  return Object.freeze({
    mode: options.mode,
    dataDir,
    databaseUrl,
    masterKeys: Object.freeze(masterKeys ?? []),
    adminToken,
    metricsToken,
    host,
    port,
    trustProxy: trustProxyFrom(env.IDBIND_TRUST_PROXY),
    publicUrl,
    logLevel,
    workers: intFrom(env, 'IDBIND_WORKERS', Math.max(1, availableParallelism()), 1, 64),
    importChunkBytes: intFrom(env, 'IDBIND_IMPORT_CHUNK_KIB', 512, 16, 65_536) * 1024,
    outboundAllowLoopback: switchFrom(env, 'IDBIND_OUTBOUND_ALLOW_LOOPBACK') ?? options.mode === 'demo',
    verification: Object.freeze({
      simChangeWindowHours: intFrom(env, 'IDBIND_SIM_CHANGE_WINDOW_HOURS', 72, 0, 24 * 365),
      numberPerHour: intFrom(env, 'IDBIND_LIMIT_NUMBER_PER_HOUR', 5, 1, 1_000_000_000),
      numberPerDay: intFrom(env, 'IDBIND_LIMIT_NUMBER_PER_DAY', 10, 1, 1_000_000_000),
      numberAttemptsPerDay: intFrom(env, 'IDBIND_LIMIT_NUMBER_ATTEMPTS_PER_DAY', 15, 1, 1_000_000_000),
      prefixPerMinute,
      prefixSharePercent,
      prefixPerProviderPerMinute: Math.max(1, Math.floor((prefixPerMinute * prefixSharePercent) / 100)),
      ipPerMinute: intFrom(env, 'IDBIND_LIMIT_IP_PER_MINUTE', 1200, 1, 1_000_000_000),
      codeAttempts: 5,
      codeTtlSeconds: 300,
    }),
    sms: Object.freeze({
      url: sms,
      authorization: smsAuthorization(env, sms),
      template: smsTemplate(env),
    }),
    eid: loadEidConfig(env, options.mode, dataDir, publicUrl),
    transparencyLog: Object.freeze({
      ...(env.IDBIND_LOG_KEY ? { IDBIND_LOG_KEY: env.IDBIND_LOG_KEY } : {}),
      ...(env.IDBIND_LOG_ORIGIN ? { IDBIND_LOG_ORIGIN: env.IDBIND_LOG_ORIGIN } : {}),
      ...(env.IDBIND_LOG_WITNESSES ? { IDBIND_LOG_WITNESSES: env.IDBIND_LOG_WITNESSES } : {}),
    }),
    disclosure: Object.freeze({
      officialPerDay: intFrom(env, 'IDBIND_DISCLOSURES_PER_OFFICIAL_PER_DAY', 10, 1, 10_000),
      authorityPerDay: intFrom(env, 'IDBIND_DISCLOSURES_PER_AUTHORITY_PER_DAY', 50, 1, 100_000),
      expiryDays: 7,
    }),
    statusCache: Object.freeze({
      size: intFrom(env, 'IDBIND_STATUS_CACHE_SIZE', 200_000, 0, 10_000_000),
      maxAgeSeconds: intFrom(env, 'IDBIND_STATUS_CACHE_MAX_AGE_SECONDS', 30, 1, 3600),
      prefill: intFrom(env, 'IDBIND_STATUS_CACHE_PREFILL', 1, 0, 1) === 1,
    }),
    webhooks: webhookDispatchConfig(env),
    reconciliationKeepRuns: (env.IDBIND_RECONCILIATION_KEEP_RUNS ?? '') === '' ? undefined : intFrom(env, 'IDBIND_RECONCILIATION_KEEP_RUNS', 1, 1, 10_000),
  });
}
