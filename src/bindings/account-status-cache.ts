/**
 * The hub's account status cache: (provider, account_ref) → the status view that
 * `GET /v1/accounts/{ref}` and `POST /v1/accounts/status` answer (issue 3 benchmarks: "a status
 * cache kept correct by the binding events may take it beyond the database's rate").
 *
 * Correct when several hub processes share one database, because invalidation comes from
 * PostgreSQL itself: migration 0014 makes every statement that changes `accounts` NOTIFY the
 * channel `idbind_account_status` with the changed keys (or `*`, forget everything, above 1,000
 * rows), delivered on commit only. This cache holds one dedicated LISTEN connection (never a pool
 * connection) and applies what it hears. The rules, each a guard against serving a status that
 * is no longer true (DESIGN.md invariant 7: platforms must learn of a revocation; invariant 5:
 * fail closed):
 *
 * 1. Fail closed on the listener. While the LISTEN connection is not up (starting, lost,
 *    reconnecting) the cache is bypassed: every read goes to the database and nothing is stored.
 *    On every (re)connect, once LISTEN is in force, the cache is emptied: whatever was committed
 *    while nobody listened is unknown. A lost listener never stops the server; it reconnects with
 *    exponential backoff, and a periodic ping notices a connection that died silently.
 * 2. The read-versus-invalidation race. A read that queried the database before a commit may
 *    receive the notification of that commit before its own answer; storing its answer then would
 *    keep a stale row that no further notification removes. So every miss takes a ticket before
 *    querying: an invalidation of that key marks the key's tickets stale, a flush or a
 *    (dis)connection bumps the epoch, and the answer is stored only by a ticket still fresh in
 *    the same epoch. (A notification that arrives after the answer was stored simply removes it.)
 * 3. A maximum age per entry (counted from the start of the query that filled it), a second line
 *    of defence should a notification ever be missed.
 * 4. This process's own writes invalidate at once, without waiting for the notification: by key
 *    where the writer knows it (unbinding through the API), else by `sync()` (a verification or a
 *    hosted-flow binding, reported by the server's onBindingChange right after its commit), which
 *    bypasses the cache until a query on the LISTEN connection returns: PostgreSQL signals
 *    listeners during the writer's commit and sends a listener its pending notifications before
 *    the ReadyForQuery of its next query, so by then the commit's notification has been applied.
 *    A platform that verified an account and reads it back at once through this hub never sees
 *    the old status. The trigger stays the source of truth for every writer.
 *
 * Staleness is therefore bounded by the delivery of a notification to this process (typically a
 * millisecond or two after the commit) and never exceeds the maximum age. It holds only what the
 * route returns to that very provider (status, level, pseudonym, since, minor; DESIGN.md invariant
 * 1), keyed by that provider's id, and nothing here logs an account ref or a payload.
 */
import type pg from 'pg';
import type client from 'prom-client';
import type { AccountStatusView } from './binding-service.ts';

/** The channel migration 0014 notifies. */
export const ACCOUNT_STATUS_CHANNEL = 'idbind_account_status';
/** The payload that means "forget everything" (a statement changed more than 1,000 accounts, or TRUNCATE). */
export const FLUSH_ALL_PAYLOAD = '*';

export interface AccountStatusCacheOptions {
  /**
   * Entries kept at most; the least recently used is evicted beyond it. 0 disables the cache
   * (every read goes to the database, no LISTEN connection is opened). Config:
   * `IDBIND_STATUS_CACHE_SIZE`, default 200,000 (about 400 bytes each, 80 MB).
   */
  maxEntries: number;
  /**
   * How long an entry may be served at most, in ms, even if no notification removed it (rule 3).
   * Config: `IDBIND_STATUS_CACHE_MAX_AGE_SECONDS`, default 30 s.
   */
  maxAgeMs: number;
  /**
   * A new, unconnected client for the LISTEN connection, called at each (re)connect: same
   * database as the pool, its own connection (a pooled one would be handed to other queries).
   */
  newClient: () => pg.Client;
  /** First reconnect delay after the listener is lost, in ms (default 200); doubled up to `reconnectMaxMs`. */
  reconnectMinMs?: number;
  /** Longest reconnect delay, in ms (default 10,000). */
  reconnectMaxMs?: number;
  /**
   * How often the listener pings the database, in ms (default 5,000): a connection that died
   * without an error (a silent network partition) is noticed within this plus `pingTimeoutMs`.
   */
  pingIntervalMs?: number;
  /** A ping unanswered after this many ms counts the listener as lost (default 3,000). */
  pingTimeoutMs?: number;
  /** Prometheus counters (src/kernel/metrics.ts); optional for tests. */
  metrics?: AccountStatusCacheMetrics;
  /** Warnings (listener lost, reconnected); never carries an account ref. */
  warn?: (message: string, fields?: Record<string, unknown>) => void;
}

export interface AccountStatusCacheMetrics {
  /** Reads by result: `hit`, `miss` (went to the database, may be stored), `bypass` (cache off or listener down). */
  reads: client.Counter<'result'>;
  /** Invalidations heard or made: `key` (one account), `flush` (everything). */
  invalidations: client.Counter<'kind'>;
}

interface Entry {
  view: AccountStatusView;
  /** Date.now() after which the entry is not served (rule 3). */
  expiresAt: number;
}

/** One miss in flight (rule 2). */
interface Ticket {
  stale: boolean;
  epoch: number;
  startedAt: number;
}

/** The cache key: a provider id is a uuid, so the first `:` ends it (the notification's format). */
function keyOf(providerId: string, accountRef: string): string {
  return `${providerId}:${accountRef}`;
}

export class AccountStatusCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inflight = new Map<string, Set<Ticket>>();
  /** Bumped on every flush, connect and disconnect: a ticket of an older epoch stores nothing. */
  private epoch = 0;
  private listening = false;
  /** sync() barriers in flight: reads bypass the cache while any is (rule 4). */
  private barriers = 0;
  private client: pg.Client | undefined;
  private closed = false;
  private started = false;
  private backoffMs: number;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private readonly waiters = new Set<() => void>();
  private readonly reconnectMinMs: number;
  private readonly reconnectMaxMs: number;
  private readonly pingIntervalMs: number;
  private readonly pingTimeoutMs: number;
  private readonly count: { hit?: client.Counter.Internal; miss?: client.Counter.Internal; bypass?: client.Counter.Internal; key?: client.Counter.Internal; flush?: client.Counter.Internal };

  constructor(private readonly options: AccountStatusCacheOptions) {
    this.reconnectMinMs = options.reconnectMinMs ?? 200;
    this.reconnectMaxMs = options.reconnectMaxMs ?? 10_000;
    this.pingIntervalMs = options.pingIntervalMs ?? 5_000;
    this.pingTimeoutMs = options.pingTimeoutMs ?? 3_000;
    this.backoffMs = this.reconnectMinMs;
    const m = options.metrics;
    // Label children resolved once: a hit costs a counter increment, not a label lookup.
    this.count = m
      ? { hit: m.reads.labels('hit'), miss: m.reads.labels('miss'), bypass: m.reads.labels('bypass'), key: m.invalidations.labels('key'), flush: m.invalidations.labels('flush') }
      : {};
  }

  /** False when configured with size 0: every read goes to the database. */
  get enabled(): boolean {
    return this.options.maxEntries > 0;
  }

  /** True while the LISTEN connection is up: only then is anything served from or stored in the cache. */
  get isListening(): boolean {
    return this.listening;
  }

  /** Entries held now. */
  get size(): number {
    return this.entries.size;
  }

  /** Opens the LISTEN connection (in the background; reads bypass the cache until it is up). */
  start(): void {
    if (!this.enabled || this.started || this.closed) return;
    this.started = true;
    void this.connect();
  }

  /** Resolves once the listener is up, or after `timeoutMs` (false then). */
  waitUntilListening(timeoutMs: number): Promise<boolean> {
    if (this.listening) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve(this.listening);
      };
      const timer = setTimeout(done, timeoutMs);
      this.waiters.add(done);
    });
  }

  /** Closes the listener; the cache is bypassed from now on. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.pingTimer);
    const c = this.client;
    this.client = undefined;
    this.setListening(false);
    this.flushAll(false);
    await c?.end().catch(() => undefined);
  }

  /** One account's status: from the cache, else from `load` (stored if still valid when it answers). */
  async getOne(providerId: string, accountRef: string, load: () => Promise<AccountStatusView>): Promise<AccountStatusView> {
    if (!this.listening || this.barriers > 0) {
      // Rule 1: not listening (or disabled) means not trusting anything.
      this.count.bypass?.inc();
      return load();
    }
    const key = keyOf(providerId, accountRef);
    const now = Date.now();
    const hit = this.lookup(key, now);
    if (hit) {
      this.count.hit?.inc();
      return hit;
    }
    this.count.miss?.inc();
    const ticket = this.begin(key, now);
    try {
      const view = await load();
      this.store(key, ticket, view);
      return view;
    } finally {
      this.end(key, ticket);
    }
  }

  /**
   * Statuses of distinct refs of one provider: hits from the cache, the misses from one `load`
   * call (which answers each ref it was given). Order is the caller's business (by ref).
   */
  async getMany(providerId: string, accountRefs: readonly string[], load: (refs: readonly string[]) => Promise<Map<string, AccountStatusView>>): Promise<Map<string, AccountStatusView>> {
    if (!this.listening || this.barriers > 0) {
      this.count.bypass?.inc(accountRefs.length);
      return load(accountRefs);
    }
    const now = Date.now();
    const found = new Map<string, AccountStatusView>();
    const missing: string[] = [];
    for (const ref of accountRefs) {
      const hit = this.lookup(keyOf(providerId, ref), now);
      if (hit) found.set(ref, hit);
      else missing.push(ref);
    }
    this.count.hit?.inc(found.size);
    if (missing.length === 0) return found;
    this.count.miss?.inc(missing.length);
    const tickets = missing.map((ref) => ({ key: keyOf(providerId, ref), ref, ticket: this.begin(keyOf(providerId, ref), now) }));
    try {
      const loaded = await load(missing);
      for (const t of tickets) {
        const view = loaded.get(t.ref);
        if (!view) continue;
        this.store(t.key, t.ticket, view);
        found.set(t.ref, view);
      }
      return found;
    } finally {
      for (const t of tickets) this.end(t.key, t.ticket);
    }
  }

  /** Forgets one account (this process changed it; rule 4) and spoils the misses in flight for it (rule 2). */
  invalidate(providerId: string, accountRef: string): void {
    this.invalidateKey(keyOf(providerId, accountRef));
  }

  /**
   * This process committed a change to `accounts` whose key it does not name (rule 4): bypass the
   * cache until the LISTEN connection has answered a query sent now, by which time the change's
   * notification has been applied. Call it after the commit, before answering the request; the
   * promise (which never rejects) resolves once the barrier is over.
   */
  sync(): Promise<void> {
    const c = this.client;
    if (!c || !this.listening) return Promise.resolve(); // bypassed already; the reconnect empties the cache
    this.barriers++;
    return c.query('SELECT 1').then(
      () => {
        if (c === this.client) this.barriers--;
      },
      (e: unknown) => this.lost(c, e),
    );
  }

  private invalidateKey(key: string): void {
    this.count.key?.inc();
    this.entries.delete(key);
    const tickets = this.inflight.get(key);
    if (tickets) for (const t of tickets) t.stale = true;
  }

  /** Forgets everything; misses in flight store nothing (their epoch is over). */
  private flushAll(count = true): void {
    if (count) this.count.flush?.inc();
    this.entries.clear();
    this.epoch++;
  }

  private lookup(key: string, now: number): AccountStatusView | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    this.entries.delete(key);
    if (e.expiresAt <= now) return undefined; // rule 3
    this.entries.set(key, e); // most recently used last
    return e.view;
  }

  private begin(key: string, now: number): Ticket {
    const ticket: Ticket = { stale: false, epoch: this.epoch, startedAt: now };
    let set = this.inflight.get(key);
    if (!set) this.inflight.set(key, (set = new Set()));
    set.add(ticket);
    return ticket;
  }

  private store(key: string, ticket: Ticket, view: AccountStatusView): void {
    // Rule 2: an invalidation of this key, a flush, or a (dis)connection since the query began
    // means the answer may predate a commit already announced: serve it this once, keep nothing.
    if (ticket.stale || ticket.epoch !== this.epoch || !this.listening || this.barriers > 0) return;
    this.entries.delete(key);
    this.entries.set(key, { view: Object.freeze(view), expiresAt: ticket.startedAt + this.options.maxAgeMs });
    while (this.entries.size > this.options.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  private end(key: string, ticket: Ticket): void {
    const set = this.inflight.get(key);
    if (!set) return;
    set.delete(ticket);
    if (set.size === 0) this.inflight.delete(key);
  }

  private onNotification(payload: string | undefined): void {
    if (payload === undefined || payload === FLUSH_ALL_PAYLOAD || payload === '') {
      this.flushAll();
      return;
    }
    for (const key of payload.split(' ')) if (key !== '') this.invalidateKey(key);
  }

  private setListening(on: boolean): void {
    this.listening = on;
    if (on) for (const w of [...this.waiters]) w();
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    let c: pg.Client;
    try {
      c = this.options.newClient();
    } catch (e) {
      this.scheduleReconnect(e);
      return;
    }
    this.client = c;
    c.on('notification', (msg) => {
      if (c === this.client && msg.channel === ACCOUNT_STATUS_CHANNEL) this.onNotification(msg.payload);
    });
    c.on('error', (e) => this.lost(c, e));
    c.on('end', () => this.lost(c, undefined));
    try {
      await c.connect();
      await c.query(`LISTEN ${ACCOUNT_STATUS_CHANNEL}`);
    } catch (e) {
      this.lost(c, e);
      return;
    }
    if (c !== this.client) {
      // Lost or closed meanwhile: this connection is not the listener.
      await c.end().catch(() => undefined);
      return;
    }
    // Rule 1: LISTEN is in force from here on; what changed before it is unknown, so forget all.
    this.flushAll(false);
    this.backoffMs = this.reconnectMinMs;
    this.setListening(true);
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => void this.ping(c), this.pingIntervalMs);
    this.pingTimer.unref();
  }

  private async ping(c: pg.Client): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error('listener ping timed out')), this.pingTimeoutMs);
    });
    try {
      await Promise.race([c.query('SELECT 1'), timeout]);
    } catch (e) {
      this.lost(c, e);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The listener is gone: bypass and forget at once (rule 1), then reconnect with backoff. */
  private lost(c: pg.Client, error: unknown): void {
    if (c !== this.client) return;
    this.client = undefined;
    clearInterval(this.pingTimer);
    this.setListening(false);
    this.barriers = 0; // the connection's barriers die with it; the next connection starts empty
    this.flushAll(false);
    c.end().catch(() => undefined);
    if (this.closed) return;
    this.scheduleReconnect(error);
  }

  private scheduleReconnect(error: unknown): void {
    if (this.closed) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.reconnectMaxMs);
    // The error's name and code only: never a payload.
    const err = error instanceof Error ? { name: error.name, code: (error as { code?: unknown }).code } : undefined;
    this.options.warn?.('account status cache: listener down, reading statuses from the database; reconnecting', { err, retry_ms: delay });
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => void this.connect(), delay);
    this.reconnectTimer.unref();
  }
}
