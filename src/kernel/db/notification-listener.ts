/**
 * One LISTEN connection, kept up: the part the hub's notification-driven caches share (the account
 * status cache, docs/status-cache.md; the provider API key cache, migration 0026). The caches own
 * their rules (what to forget, when to trust); this owns the connection's life:
 *
 * - its own client, never a pool connection (a pooled connection's LISTEN would be lost with it);
 * - `onUp(client)` once LISTEN is in force, and only then: whatever changed before is unknown to
 *   the cache, which must forget it (fail closed, DESIGN.md invariant 5);
 * - `onDown()` as soon as the connection errs, ends, or misses a ping (a connection that died
 *   without an error, such as a silent network partition, is noticed within the ping interval
 *   plus its timeout), then reconnects with a doubling backoff; a lost listener never stops the hub;
 * - notifications of its channel from the current connection only.
 *
 * Warnings carry the error's name and code, never a payload.
 */
import type pg from 'pg';

export interface NotificationListenerOptions {
  /** The channel to LISTEN on: a fixed identifier (it is written into the statement). */
  channel: string;
  /** A new, unconnected client, at each (re)connect. */
  newClient: () => pg.Client;
  /** A notification of the channel, from the current connection. */
  onNotification: (payload: string | undefined) => void;
  /** LISTEN is in force on `client` (a first connect or a reconnect). */
  onUp: (client: pg.Client) => void;
  /** The connection is gone (or closed); called once per connection that was up, before any reconnect. */
  onDown: () => void;
  /** The periodic ping (default `SELECT 1`); a cache that queues its own queries on the client passes its own. */
  ping?: (client: pg.Client) => Promise<unknown>;
  /** The warning when the listener is lost, saying what the cache does meanwhile. */
  downWarning: string;
  warn?: (message: string, fields: Record<string, unknown>) => void;
  /** First reconnect delay, in ms (default 200), doubled up to `reconnectMaxMs` (default 10,000). */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** How often the connection is pinged (default 5,000 ms), and how long a ping may take (default 3,000 ms). */
  pingIntervalMs?: number;
  pingTimeoutMs?: number;
}

export class NotificationListener {
  private current: pg.Client | undefined;
  private up = false;
  private started = false;
  private closed = false;
  private backoffMs: number;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private readonly waiters = new Set<() => void>();
  private readonly reconnectMinMs: number;
  private readonly reconnectMaxMs: number;
  private readonly pingIntervalMs: number;
  private readonly pingTimeoutMs: number;

  constructor(private readonly options: NotificationListenerOptions) {
    this.reconnectMinMs = options.reconnectMinMs ?? 200;
    this.reconnectMaxMs = options.reconnectMaxMs ?? 10_000;
    this.pingIntervalMs = options.pingIntervalMs ?? 5_000;
    this.pingTimeoutMs = options.pingTimeoutMs ?? 3_000;
    this.backoffMs = this.reconnectMinMs;
  }

  /** The connection while LISTEN is in force on it, else undefined. */
  get client(): pg.Client | undefined {
    return this.up ? this.current : undefined;
  }

  get isUp(): boolean {
    return this.up;
  }

  /** Connects in the background. */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    void this.connect();
  }

  /** Resolves once the listener is up, or after `timeoutMs` (false then). */
  waitUntilUp(timeoutMs: number): Promise<boolean> {
    if (this.up) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve(this.up);
      };
      const timer = setTimeout(done, timeoutMs);
      this.waiters.add(done);
    });
  }

  /** A query the cache ran on `client` failed: the connection is not to be trusted any more. */
  fail(client: pg.Client, error: unknown): void {
    this.lost(client, error);
  }

  /** Closes the connection for good (`onDown` first if it was up). */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.pingTimer);
    const c = this.current;
    this.current = undefined;
    this.setUp(false);
    await c?.end().catch(() => undefined);
  }

  private setUp(on: boolean): void {
    const was = this.up;
    this.up = on;
    if (on) {
      for (const w of [...this.waiters]) w();
    } else if (was) {
      this.options.onDown();
    }
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
    this.current = c;
    c.on('notification', (msg) => {
      if (c === this.current && this.up && msg.channel === this.options.channel) this.options.onNotification(msg.payload);
    });
    c.on('error', (e) => this.lost(c, e));
    c.on('end', () => this.lost(c, undefined));
    try {
      await c.connect();
      await c.query(`LISTEN ${this.options.channel}`);
    } catch (e) {
      this.lost(c, e);
      return;
    }
    if (c !== this.current) {
      // Lost or closed meanwhile: this connection is not the listener.
      await c.end().catch(() => undefined);
      return;
    }
    this.backoffMs = this.reconnectMinMs;
    this.setUp(true);
    this.options.onUp(c);
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
      await Promise.race([this.options.ping ? this.options.ping(c) : c.query('SELECT 1'), timeout]);
    } catch (e) {
      this.lost(c, e);
    } finally {
      clearTimeout(timer);
    }
  }

  private lost(c: pg.Client, error: unknown): void {
    if (c !== this.current) return;
    this.current = undefined;
    clearInterval(this.pingTimer);
    this.setUp(false);
    c.end().catch(() => undefined);
    if (this.closed) return;
    this.scheduleReconnect(error);
  }

  private scheduleReconnect(error: unknown): void {
    if (this.closed) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.reconnectMaxMs);
    const err = error instanceof Error ? { name: error.name, code: (error as { code?: unknown }).code } : undefined;
    this.options.warn?.(this.options.downWarning, { err, retry_ms: delay });
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => void this.connect(), delay);
    this.reconnectTimer.unref();
  }
}
