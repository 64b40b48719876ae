/**
 * The cache of authenticated API keys, one per hub process (issue 3: every provider call
 * authenticates, and the status route runs at thousands of requests per second, so a hit must
 * cost no database round trip). Kept correct across processes the way the account status cache
 * is (docs/status-cache.md): migration 0026 notifies `idbind_provider_auth` with the ids of the
 * providers whose keys or settings changed, on commit, whoever changed them (another hub, the
 * CLI's `idbind providers rotate-key`, psql), and this cache forgets those providers' entries.
 * (Audit of issue 3, finding 5: before, an entry lived 5 s and only the changing process cleared
 * it, so a key rotated with overlap 0 from the CLI kept working that long in a running hub.)
 *
 * The rules:
 *
 * 1. Fail closed on the listener. Nothing is served from or stored in the cache unless its own
 *    LISTEN connection is up. On every (re)connect, once LISTEN is in force, the cache is
 *    emptied: whatever changed while nobody listened is unknown. A lost listener never stops the
 *    hub; it reconnects with backoff, and a periodic ping notices a connection that died silently.
 * 2. No stale fill. A lookup stores its answer only if no notification, flush or (dis)connection
 *    happened since its query began (one epoch for the whole cache: changes are rare), so an
 *    answer read before a commit and returned after its notification is not kept.
 * 3. An entry lives at most `maxAgeMs` (a second line of defence) and never past its key's expiry,
 *    which the database reports as time remaining (so the two clocks need not agree): the end of
 *    an overlap is no change in the database, hence no notification.
 *
 * Another process's change is therefore refused here as soon as its notification arrives, a
 * millisecond or two after the commit. A change made through the cache's own pool also clears it
 * at once, after its commit (provider-service.ts invalidateAuthCache).
 */
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import { NotificationListener } from '../kernel/db/notification-listener.ts';

/** The channel migration 0026 notifies. */
export const PROVIDER_AUTH_CHANNEL = 'idbind_provider_auth';
/** The payload that means "forget every provider". */
export const FLUSH_ALL_PAYLOAD = '*';

export interface ProviderAuthCacheOptions {
  /** A new, unconnected client for the LISTEN connection, called at each (re)connect (never a pool connection). */
  newClient: () => pg.Client;
  /** The longest an entry is served, in ms (default 5,000). */
  maxAgeMs?: number;
  /** Entries kept at most; beyond it the cache is emptied (default 10,000 keys). */
  maxEntries?: number;
  /** First reconnect delay, in ms (default 200), doubled up to `reconnectMaxMs` (default 10,000). */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** How often the listener is pinged (default 5,000 ms), and how long a ping may take (default 3,000 ms). */
  pingIntervalMs?: number;
  pingTimeoutMs?: number;
  /** Warnings (listener lost); never carries a key or a provider's data. */
  warn?: (message: string, fields?: Record<string, unknown>) => void;
}

interface Entry<T> {
  providerId: string;
  value: T;
  until: number;
}

export class ProviderAuthCache<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private readonly maxAgeMs: number;
  private readonly maxEntries: number;
  private readonly listener: NotificationListener;
  /** True while the listener is up (rule 1). */
  private listening = false;
  private epoch = 0;
  /** Notifications applied (for tests and diagnostics). */
  notifications = 0;

  constructor(options: ProviderAuthCacheOptions) {
    this.maxAgeMs = options.maxAgeMs ?? 5_000;
    this.maxEntries = options.maxEntries ?? 10_000;
    this.listener = new NotificationListener({
      channel: PROVIDER_AUTH_CHANNEL,
      newClient: options.newClient,
      onNotification: (payload) => this.onNotification(payload),
      // Rule 1: LISTEN is in force from here; what changed before is unknown.
      onUp: () => {
        this.flush();
        this.listening = true;
      },
      // The listener is gone: bypass and forget at once (rule 1); it reconnects with backoff.
      onDown: () => {
        this.listening = false;
        this.flush();
      },
      downWarning: 'provider auth cache: listener down, authenticating every call at the database; reconnecting',
      warn: options.warn,
      reconnectMinMs: options.reconnectMinMs,
      reconnectMaxMs: options.reconnectMaxMs,
      pingIntervalMs: options.pingIntervalMs,
      pingTimeoutMs: options.pingTimeoutMs,
    });
  }

  /** True while the LISTEN connection is up: only then is anything served or stored (rule 1). */
  get isListening(): boolean {
    return this.listening;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Opens the LISTEN connection in the background; lookups go to the database until it is up. */
  start(): void {
    this.listener.start();
  }

  /** Resolves once the listener is up, or after `timeoutMs` (false then). */
  waitUntilListening(timeoutMs: number): Promise<boolean> {
    return this.listener.waitUntilUp(timeoutMs);
  }

  /** The cached value of a key (by its hash) if one may be served now; no database, no allocation. */
  peek(keyHash: string): T | undefined {
    if (!this.listening) return undefined;
    const hit = this.entries.get(keyHash);
    return hit && hit.until > performance.now() ? hit.value : undefined;
  }

  /**
   * The cached value of a key (by its hash), or `load()`'s. `load` answers the value and how long
   * the key stays valid (ms, Infinity without expiry), or undefined for an unknown key (never cached).
   */
  async get(keyHash: string, load: () => Promise<{ providerId: string; value: T; validForMs: number } | undefined>): Promise<T | undefined> {
    // A monotonic clock: a wall clock stepped back (NTP, a resumed VM) would keep a key past the
    // end of its overlap for as long as the step (rule 3).
    const now = performance.now();
    if (this.listening) {
      const hit = this.entries.get(keyHash);
      if (hit && hit.until > now) return hit.value;
      if (hit) this.entries.delete(keyHash);
    }
    const epoch = this.epoch;
    const loaded = await load();
    if (!loaded) {
      this.entries.delete(keyHash);
      return undefined;
    }
    // Rule 2: anything heard since the query began (or a listener not up) means not storing.
    if (this.listening && epoch === this.epoch && loaded.validForMs > 0) {
      if (this.entries.size >= this.maxEntries) this.entries.clear();
      this.entries.set(keyHash, { providerId: loaded.providerId, value: loaded.value, until: now + Math.min(this.maxAgeMs, loaded.validForMs) });
    }
    return loaded.value;
  }

  /** Forgets everything (a change of this process, a `*` notification, a (dis)connection). */
  flush(): void {
    this.epoch++;
    this.entries.clear();
  }

  /** Closes the listener; the cache is bypassed from now on. */
  async close(): Promise<void> {
    await this.listener.close();
    this.listening = false;
    this.flush();
  }

  private forgetProviders(ids: readonly string[]): void {
    this.epoch++;
    const gone = new Set(ids);
    for (const [k, e] of this.entries) if (gone.has(e.providerId)) this.entries.delete(k);
  }

  private onNotification(payload: string | undefined): void {
    this.notifications++;
    if (!payload || payload === FLUSH_ALL_PAYLOAD) this.flush();
    else this.forgetProviders(payload.split(' '));
  }
}
