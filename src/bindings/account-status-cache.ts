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
 * 5. Warm start (prefill). Once listening, after each (re)connect, the cache fills itself in the
 *    background from `accounts` (newest ids first, i.e. most recently bound: ids are uuidv7), in
 *    keyset-paginated batches on the pool, one at a time, yielding to requests between chunks of
 *    rows, until it holds `maxEntries`. A batch obeys rule 2 as a miss does: a key invalidated while
 *    its query ran is not stored, and a flush or (dis)connection since the query began discards the
 *    batch and ends the prefill (the next connect starts a new one). It never evicts: it stops at
 *    `maxEntries`, and its entries go to the least recently used end.
 *
 * Staleness is therefore bounded by the delivery of a notification to this process (typically a
 * millisecond or two after the commit) and never exceeds the maximum age. It holds only what the
 * route returns to that very provider (status, level, pseudonym, since, minor; DESIGN.md invariant
 * 1), keyed by that provider's id, and nothing here logs an account ref or a payload.
 *
 * Memory: an entry is a slot in parallel typed arrays (status, level and minor packed in one byte,
 * `since` and the expiry as numbers, the LRU list as slot indices) plus the account ref (the key of
 * its provider's map) and the pseudonym, as strings: about 180 bytes in all, where an object per
 * entry and its view took about 360 (bench/platform/status-cache-memory.ts measures it). A hit
 * builds the view anew, so callers may keep or change what they are given.
 */
import type pg from 'pg';
import { NotificationListener } from '../kernel/db/notification-listener.ts';
import type client from 'prom-client';
import { statusView, type AccountStatusView } from './binding-service.ts';
import type { AccountStatusRow } from './binding-repository.ts';

/** The channel migration 0014 notifies. */
export const ACCOUNT_STATUS_CHANNEL = 'idbind_account_status';
/** The payload that means "forget everything" (a statement changed more than 1,000 accounts, or TRUNCATE). */
export const FLUSH_ALL_PAYLOAD = '*';

export interface AccountStatusCacheOptions {
  /**
   * Entries kept at most; the least recently used is evicted beyond it. 0 disables the cache
   * (every read goes to the database, no LISTEN connection is opened). Config:
   * `IDBIND_STATUS_CACHE_SIZE`, default 200,000 (about 180 bytes each, 36 MB).
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
  /**
   * Warm start (rule 5): where to read `accounts` from after each (re)connect; absent, the cache
   * fills from misses only. Config: `IDBIND_STATUS_CACHE_PREFILL` (default 1).
   */
  prefill?: PrefillOptions;
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
  /**
   * Called after each notification was applied, whichever process committed the change. Every
   * account change a platform hears of writes its outbox event in the same transaction
   * (src/events/outbox.ts), so the server kicks the webhook dispatcher here: deliveries of an
   * import or a change in another hub process start at its commit, not at the next poll.
   */
  onChange?: () => void;
  /** Prometheus counters (src/kernel/metrics.ts); optional for tests. */
  metrics?: AccountStatusCacheMetrics;
  /** Warnings (listener lost, reconnected, prefill failed); never carries an account ref. */
  warn?: (message: string, fields?: Record<string, unknown>) => void;
  /** Information (prefill done); never carries an account ref. */
  info?: (message: string, fields?: Record<string, unknown>) => void;
}

export interface PrefillOptions {
  /** The pool (never the listener's connection: a long query there would hold back notifications). */
  db: Pick<pg.Pool, 'query'>;
  /** Rows per query (default 10,000). */
  batchSize?: number;
  /** Pause between batches, in ms (default 0: the next query is sent once the rows are stored). */
  pauseMs?: number;
}

export interface AccountStatusCacheMetrics {
  /** Reads by result: `hit`, `miss` (went to the database, may be stored), `bypass` (cache off or listener down). */
  reads: client.Counter<'result'>;
  /** Invalidations heard or made: `key` (one account), `flush` (everything). */
  invalidations: client.Counter<'kind'>;
}

/** What the last prefill did (tests, operations). */
export interface PrefillReport {
  /** Entries it stored. */
  stored: number;
  /** Rows it read, and those it did not store (invalidated while read, or already cached). */
  read: number;
  ms: number;
  /** `full` (the table ended or the cache is full), `stopped` (flush, lost listener, close), `failed` (a query failed). */
  outcome: 'full' | 'stopped' | 'failed';
}

/** One miss in flight (rule 2). */
interface Ticket {
  stale: boolean;
  epoch: number;
  startedAt: number;
}

/** The entries of one provider: account ref → slot. */
interface ProviderSlots {
  readonly index: number;
  readonly slots: Map<string, number>;
}

/** The key of a notification and of the misses in flight: a provider id is a uuid, so the first `:` ends it. */
function keyOf(providerId: string, accountRef: string): string {
  return `${providerId}:${accountRef}`;
}

// One byte per entry: status (bits 0-1), level (bits 2-3), minor (bit 4).
const STATUSES = ['verified', 'needs_reverification', 'revoked', 'unverified'] as const;
const LEVELS = [null, 'low', 'substantial', 'high'] as const;
const MINOR = 16;

function pack(view: AccountStatusView): number {
  return STATUSES.indexOf(view.status) | (LEVELS.indexOf(view.level) << 2) | (view.minor ? MINOR : 0);
}

/**
 * A string of its own for a key kept for long: V8 makes a substring of 13 characters or more (an
 * account ref cut from a URL or a body) a view of the whole parent string, which would stay alive
 * with it. Account refs are ASCII (ACCOUNT_REF_PATTERN), so latin1 copies them exactly.
 */
function own(s: string): string {
  return s.length < 13 ? s : Buffer.from(s, 'latin1').toString('latin1');
}

const PREFILL_SQL = `SELECT a.id, a.provider_id, a.account_ref, a.status, a.level, a.pseudonym, a.status_since, a.verified_at, a.minor FROM accounts a`;
/** Rows stored between two yields to the event loop during a prefill: about a millisecond of work. */
const PREFILL_CHUNK = 1_000;
const NO_SLOT = -1;

/**
 * The clock of the maximum age (rule 3), in ms: monotonic, so that a wall clock stepped back
 * (NTP, a resumed VM) cannot keep an entry beyond the maximum age, nor one stepped forward end
 * them all at once.
 */
function monotonicNow(): number {
  return performance.now();
}

type PrefillRow = AccountStatusRow & { id: string; provider_id: string };

export class AccountStatusCache {
  // The entries (see "Memory" above): per provider, ref → slot; per slot, parallel arrays.
  private providers = new Map<string, ProviderSlots>();
  private providerList: ProviderSlots[] = [];
  private refs: (string | undefined)[] = [];
  private pseudonyms: (string | null)[] = [];
  private owner = new Int32Array(0);
  private flags = new Uint8Array(0);
  /** `since` in ms since the epoch, NaN for null. */
  private since = new Float64Array(0);
  /** monotonicNow() after which the entry is not served (rule 3). */
  private expires = new Float64Array(0);
  /** The LRU list (head: most recently used) and the free list (through `next`). */
  private prev = new Int32Array(0);
  private next = new Int32Array(0);
  private head = NO_SLOT;
  private tail = NO_SLOT;
  private free = NO_SLOT;
  /** Slots handed out so far (free ones included) and allocated. */
  private used = 0;
  private capacity = 0;
  private count = 0;

  private readonly inflight = new Map<string, Set<Ticket>>();
  /** Bumped on every flush, connect and disconnect: a ticket of an older epoch stores nothing. */
  private epoch = 0;
  private listening = false;
  /** sync() barriers in flight: reads bypass the cache while any is (rule 4). */
  private barriers = 0;
  private readonly barrierWaiters = new Set<() => void>();
  /** The barrier query queued on the listener and not yet sent: later sync() calls share it. */
  private queuedBarrier: { count: number; promise: Promise<void> } | undefined;
  /** The last query sent or queued on the listener: its queries go one after another. */
  private listenerTail: Promise<unknown> = Promise.resolve();
  /** Keys invalidated while a prefill batch is read (rule 5), else undefined. */
  private prefillSpoiled: Set<string> | undefined;
  private prefilling = false;
  private lastPrefillReport: PrefillReport | undefined;
  /** The LISTEN connection (src/kernel/db/notification-listener.ts); `listening` mirrors it being up. */
  private readonly listener: NotificationListener;
  private closed = false;
  private started = false;
  private readonly counters: { hit?: client.Counter.Internal; miss?: client.Counter.Internal; bypass?: client.Counter.Internal; key?: client.Counter.Internal; flush?: client.Counter.Internal };

  constructor(private readonly options: AccountStatusCacheOptions) {
    this.listener = new NotificationListener({
      channel: ACCOUNT_STATUS_CHANNEL,
      newClient: options.newClient,
      onNotification: (payload) => this.onNotification(payload),
      onUp: () => this.listenerUp(),
      onDown: () => this.listenerDown(),
      // The ping queues behind the barriers' queries: one query at a time on a client.
      ping: (c) => this.onListener(c),
      downWarning: 'account status cache: listener down, reading statuses from the database; reconnecting',
      warn: options.warn,
      reconnectMinMs: options.reconnectMinMs,
      reconnectMaxMs: options.reconnectMaxMs,
      pingIntervalMs: options.pingIntervalMs,
      pingTimeoutMs: options.pingTimeoutMs,
    });
    const m = options.metrics;
    // Label children resolved once: a hit costs a counter increment, not a label lookup.
    this.counters = m
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
    return this.count;
  }

  /** True while a prefill runs (rule 5). */
  get isPrefilling(): boolean {
    return this.prefilling;
  }

  /** What the last finished prefill did, if any. */
  get lastPrefill(): PrefillReport | undefined {
    return this.lastPrefillReport;
  }

  /** Opens the LISTEN connection (in the background; reads bypass the cache until it is up). */
  start(): void {
    if (!this.enabled || this.started || this.closed) return;
    this.started = true;
    this.listener.start();
  }

  /** Resolves once the listener is up, or after `timeoutMs` (false then). */
  waitUntilListening(timeoutMs: number): Promise<boolean> {
    return this.listener.waitUntilUp(timeoutMs);
  }

  /** Closes the listener; the cache is bypassed from now on. */
  async close(): Promise<void> {
    this.closed = true;
    await this.listener.close();
    this.listenerDown();
  }

  /** One account's status: from the cache, else from `load` (stored if still valid when it answers). */
  async getOne(providerId: string, accountRef: string, load: () => Promise<AccountStatusView>): Promise<AccountStatusView> {
    if (!this.listening || this.barriers > 0) {
      // Rule 1: not listening (or disabled) means not trusting anything.
      this.counters.bypass?.inc();
      return load();
    }
    const now = monotonicNow();
    const slot = this.lookup(providerId, accountRef, now);
    if (slot !== NO_SLOT) {
      this.counters.hit?.inc();
      return this.viewOf(slot, accountRef);
    }
    this.counters.miss?.inc();
    const key = keyOf(providerId, accountRef);
    const ticket = this.begin(key, now);
    try {
      const view = await load();
      this.store(providerId, accountRef, ticket, view);
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
      this.counters.bypass?.inc(accountRefs.length);
      return load(accountRefs);
    }
    const now = monotonicNow();
    const found = new Map<string, AccountStatusView>();
    const missing: string[] = [];
    for (const ref of accountRefs) {
      const slot = this.lookup(providerId, ref, now);
      if (slot !== NO_SLOT) found.set(ref, this.viewOf(slot, ref));
      else missing.push(ref);
    }
    this.counters.hit?.inc(found.size);
    if (missing.length === 0) return found;
    this.counters.miss?.inc(missing.length);
    const tickets = missing.map((ref) => {
      const key = keyOf(providerId, ref);
      return { key, ref, ticket: this.begin(key, now) };
    });
    try {
      const loaded = await load(missing);
      for (const t of tickets) {
        const view = loaded.get(t.ref);
        if (!view) continue;
        this.store(providerId, t.ref, t.ticket, view);
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
    const c = this.listener.client;
    if (!c || !this.listening) return Promise.resolve(); // bypassed already; the reconnect empties the cache
    this.barriers++;
    // A query not yet sent is sent after this commit too: it is this call's barrier as well.
    if (this.queuedBarrier) {
      this.queuedBarrier.count++;
      return this.queuedBarrier.promise;
    }
    const q = { count: 1, promise: Promise.resolve() };
    this.queuedBarrier = q;
    q.promise = this.onListener(c, () => {
      if (this.queuedBarrier === q) this.queuedBarrier = undefined;
    }).then(
      () => {
        if (c !== this.listener.client) return;
        this.barriers -= q.count;
        if (this.barriers === 0) this.releaseBarrierWaiters();
      },
      (e: unknown) => this.listener.fail(c, e),
    );
    return q.promise;
  }

  /**
   * `SELECT 1` on the listener once its previous query answered (one query at a time on a
   * client); `sending` is called as it is sent.
   */
  private onListener(c: pg.Client, sending?: () => void): Promise<unknown> {
    const run = this.listenerTail.then(() => {
      sending?.();
      return c.query('SELECT 1');
    });
    this.listenerTail = run.catch(() => undefined);
    return run;
  }

  private invalidateKey(key: string): void {
    this.counters.key?.inc();
    const colon = key.indexOf(':');
    if (colon > 0) {
      const p = this.providers.get(key.slice(0, colon));
      const ref = key.slice(colon + 1);
      const slot = p?.slots.get(ref);
      if (p && slot !== undefined) this.remove(p, ref, slot);
    }
    const tickets = this.inflight.get(key);
    if (tickets) for (const t of tickets) t.stale = true;
    this.prefillSpoiled?.add(key);
  }

  /** Forgets everything; misses in flight and a prefill store nothing (their epoch is over). */
  private flushAll(count = true): void {
    if (count) this.counters.flush?.inc();
    this.epoch++;
    this.providers = new Map();
    this.providerList = [];
    this.refs = [];
    this.pseudonyms = [];
    this.owner = new Int32Array(0);
    this.flags = new Uint8Array(0);
    this.since = new Float64Array(0);
    this.expires = new Float64Array(0);
    this.prev = new Int32Array(0);
    this.next = new Int32Array(0);
    this.head = this.tail = this.free = NO_SLOT;
    this.used = this.capacity = this.count = 0;
  }

  /** The slot of a live entry (now the most recently used), or NO_SLOT; an expired one is dropped (rule 3). */
  private lookup(providerId: string, accountRef: string, now: number): number {
    const p = this.providers.get(providerId);
    if (!p) return NO_SLOT;
    const slot = p.slots.get(accountRef);
    if (slot === undefined) return NO_SLOT;
    if (this.expires[slot]! <= now) {
      this.remove(p, accountRef, slot);
      return NO_SLOT;
    }
    if (slot !== this.head) {
      this.unlink(slot);
      this.linkHead(slot);
    }
    return slot;
  }

  /** The view of a slot, built anew, in statusView's shape (property order included). */
  private viewOf(slot: number, accountRef: string): AccountStatusView {
    const f = this.flags[slot]!;
    const since = this.since[slot]!;
    return {
      account_ref: accountRef,
      status: STATUSES[f & 3]!,
      level: LEVELS[(f >> 2) & 3]!,
      pseudonym: this.pseudonyms[slot]!,
      since: Number.isNaN(since) ? null : new Date(since).toISOString(),
      minor: (f & MINOR) !== 0,
    };
  }

  private begin(key: string, now: number): Ticket {
    const ticket: Ticket = { stale: false, epoch: this.epoch, startedAt: now };
    let set = this.inflight.get(key);
    if (!set) this.inflight.set(key, (set = new Set()));
    set.add(ticket);
    return ticket;
  }

  private store(providerId: string, accountRef: string, ticket: Ticket, view: AccountStatusView): void {
    // Rule 2: an invalidation of this key, a flush, or a (dis)connection since the query began
    // means the answer may predate a commit already announced: serve it this once, keep nothing.
    if (ticket.stale || ticket.epoch !== this.epoch || !this.listening || this.barriers > 0) return;
    this.put(providerId, accountRef, view, ticket.startedAt + this.options.maxAgeMs, false);
  }

  /**
   * Writes an entry. A miss's (`cold` false) replaces an existing one and becomes the most
   * recently used, evicting the least recently used beyond the bound; a prefill's (`cold` true)
   * leaves an existing one alone, never evicts, and goes to the least recently used end.
   * Returns whether it stored.
   */
  private put(providerId: string, accountRef: string, view: AccountStatusView, expiresAt: number, cold: boolean): boolean {
    let p = this.providers.get(providerId);
    let slot = p?.slots.get(accountRef);
    if (slot !== undefined) {
      if (cold) return false;
      this.unlink(slot);
    } else {
      if (this.count >= this.options.maxEntries) {
        if (cold || this.tail === NO_SLOT) return false;
        const t = this.tail;
        this.remove(this.providerList[this.owner[t]!]!, this.refs[t]!, t);
      }
      if (!p) {
        p = { index: this.providerList.length, slots: new Map() };
        this.providers.set(providerId, p);
        this.providerList.push(p);
      }
      slot = this.allocate();
      this.refs[slot] = accountRef = cold ? accountRef : own(accountRef);
      this.owner[slot] = p.index;
      p.slots.set(accountRef, slot);
      this.count++;
    }
    this.flags[slot] = pack(view);
    this.pseudonyms[slot] = view.pseudonym;
    this.since[slot] = view.since === null ? NaN : Date.parse(view.since);
    this.expires[slot] = expiresAt;
    if (cold) this.linkTail(slot);
    else this.linkHead(slot);
    return true;
  }

  private remove(p: ProviderSlots, accountRef: string, slot: number): void {
    p.slots.delete(accountRef);
    this.unlink(slot);
    this.refs[slot] = undefined;
    this.pseudonyms[slot] = null;
    this.next[slot] = this.free;
    this.free = slot;
    this.count--;
  }

  private allocate(): number {
    if (this.free !== NO_SLOT) {
      const slot = this.free;
      this.free = this.next[slot]!;
      return slot;
    }
    if (this.used === this.capacity) this.grow();
    const slot = this.used++;
    this.refs.push(undefined);
    this.pseudonyms.push(null);
    return slot;
  }

  /** Doubles the slot arrays, from 1,024 up to `maxEntries`: a small cache costs little. */
  private grow(): void {
    const capacity = Math.min(Math.max(1_024, this.capacity * 2), this.options.maxEntries);
    const widen = <T extends Int32Array | Uint8Array | Float64Array>(a: T, make: (n: number) => T): T => {
      const b = make(capacity);
      b.set(a);
      return b;
    };
    this.owner = widen(this.owner, (n) => new Int32Array(n));
    this.flags = widen(this.flags, (n) => new Uint8Array(n));
    this.since = widen(this.since, (n) => new Float64Array(n));
    this.expires = widen(this.expires, (n) => new Float64Array(n));
    this.prev = widen(this.prev, (n) => new Int32Array(n));
    this.next = widen(this.next, (n) => new Int32Array(n));
    this.capacity = capacity;
  }

  private unlink(slot: number): void {
    const p = this.prev[slot]!;
    const n = this.next[slot]!;
    if (p === NO_SLOT) this.head = n;
    else this.next[p] = n;
    if (n === NO_SLOT) this.tail = p;
    else this.prev[n] = p;
  }

  private linkHead(slot: number): void {
    this.prev[slot] = NO_SLOT;
    this.next[slot] = this.head;
    if (this.head === NO_SLOT) this.tail = slot;
    else this.prev[this.head] = slot;
    this.head = slot;
  }

  private linkTail(slot: number): void {
    this.next[slot] = NO_SLOT;
    this.prev[slot] = this.tail;
    if (this.tail === NO_SLOT) this.head = slot;
    else this.next[this.tail] = slot;
    this.tail = slot;
  }

  private end(key: string, ticket: Ticket): void {
    const set = this.inflight.get(key);
    if (!set) return;
    set.delete(ticket);
    if (set.size === 0) this.inflight.delete(key);
  }

  private onNotification(payload: string | undefined): void {
    if (payload === undefined || payload === FLUSH_ALL_PAYLOAD || payload === '') this.flushAll();
    else for (const key of payload.split(' ')) if (key !== '') this.invalidateKey(key);
    this.options.onChange?.();
  }

  /** Rule 5: fills the cache from `accounts` while this epoch lasts. Never throws. */
  private async prefill(epoch: number): Promise<void> {
    const options = this.options.prefill;
    if (!options || this.prefilling) return;
    this.prefilling = true;
    const batchSize = options.batchSize ?? 10_000;
    const t0 = Date.now();
    let stored = 0;
    let read = 0;
    let outcome: PrefillReport['outcome'] = 'full';
    const live = () => !this.closed && this.listening && this.epoch === epoch;
    try {
      let cursor: string | undefined;
      while (this.count < this.options.maxEntries) {
        if (!live()) {
          outcome = 'stopped';
          break;
        }
        const limit = Math.min(batchSize, this.options.maxEntries - this.count);
        // Rule 2 for a batch: from before its query until its rows are stored, every key
        // invalidated is remembered and not stored; a flush or (dis)connection ends the epoch.
        const spoiled = new Set<string>();
        this.prefillSpoiled = spoiled;
        const startedAt = monotonicNow();
        let rows: PrefillRow[];
        try {
          rows = (await options.db.query<PrefillRow>(cursor === undefined
            ? { name: 'account_status_prefill_first', text: `${PREFILL_SQL} ORDER BY a.id DESC LIMIT $1`, values: [limit] }
            : { name: 'account_status_prefill_next', text: `${PREFILL_SQL} WHERE a.id < $1 ORDER BY a.id DESC LIMIT $2`, values: [cursor, limit] })).rows;
        } catch (e) {
          outcome = 'failed';
          const err = e instanceof Error ? { name: e.name, code: (e as { code?: unknown }).code } : undefined;
          this.options.warn?.('account status cache: prefill query failed; the cache fills from reads instead', { err });
          break;
        }
        read += rows.length;
        for (let i = 0; i < rows.length; i += PREFILL_CHUNK) {
          // Low priority: requests waiting run between chunks.
          if (i > 0) await new Promise<void>((r) => setImmediate(r));
          // This process's own commits announce themselves by the end of a barrier (rule 4).
          while (this.barriers > 0 && live()) await new Promise<void>((r) => this.barrierWaiters.add(r));
          if (!live()) break;
          const expiresAt = startedAt + this.options.maxAgeMs;
          for (const row of rows.slice(i, i + PREFILL_CHUNK)) {
            if (spoiled.has(keyOf(row.provider_id, row.account_ref))) continue;
            if (this.put(row.provider_id, row.account_ref, statusView(row.account_ref, row as AccountStatusRow), expiresAt, true)) stored++;
          }
        }
        if (this.prefillSpoiled === spoiled) this.prefillSpoiled = undefined;
        if (!live()) {
          outcome = 'stopped';
          break;
        }
        if (rows.length < limit) break;
        cursor = rows[rows.length - 1]!.id;
        await new Promise<void>((r) => setTimeout(r, options.pauseMs ?? 0));
      }
    } finally {
      this.prefillSpoiled = undefined;
      this.prefilling = false;
      this.lastPrefillReport = { stored, read, ms: Date.now() - t0, outcome };
      this.options.info?.('account status cache: prefill ended', { ...this.lastPrefillReport, entries: this.count });
    }
  }

  private releaseBarrierWaiters(): void {
    for (const w of [...this.barrierWaiters]) w();
    this.barrierWaiters.clear();
  }

  /** Rule 1: LISTEN is in force from here on; what changed before it is unknown, so forget all. */
  private listenerUp(): void {
    this.flushAll(false);
    this.listening = true;
    // Rule 5, in the background; a prefill of a previous epoch stops at its next step (awaited
    // here only through its own loop, so that a fast reconnect does not run two at once).
    void this.prefillWhenFree(this.epoch);
  }

  /** The listener is gone (or closed): bypass and forget at once (rule 1); it reconnects with backoff. */
  private listenerDown(): void {
    this.listening = false;
    this.barriers = 0; // the connection's barriers die with it; the next connection starts empty
    this.queuedBarrier = undefined;
    this.listenerTail = Promise.resolve();
    this.releaseBarrierWaiters();
    this.flushAll(false);
  }

  /** Starts this epoch's prefill once a previous one (of an older epoch, stopping) has ended. */
  private async prefillWhenFree(epoch: number): Promise<void> {
    if (!this.options.prefill) return;
    while (this.prefilling) {
      await new Promise((r) => setTimeout(r, 10));
      if (this.epoch !== epoch || this.closed) return;
    }
    await this.prefill(epoch);
  }
}
