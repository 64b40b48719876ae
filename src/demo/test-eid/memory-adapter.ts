/**
 * An in-memory storage adapter for the test eID provider (demo and tests only: everything is
 * lost on restart, which is what a throw-away upstream wants). The interface of oidc-provider's
 * own lib/adapters/memory_adapter.js, without its "development-only" warning at every start,
 * and with one store per provider instance so that two test providers never share artefacts.
 */
import type { Adapter, AdapterFactory, AdapterPayload } from 'oidc-provider';

interface Entry<T> {
  value: T;
  expiresAt: number | undefined;
}

/** A map whose entries expire. */
class ExpiringMap<T> {
  private readonly map = new Map<string, Entry<T>>();
  private writes = 0;

  get(key: string): T | undefined {
    const e = this.map.get(key);
    if (e && e.expiresAt !== undefined && e.expiresAt <= Date.now()) {
      this.map.delete(key);
      return undefined;
    }
    return e?.value;
  }

  set(key: string, value: T, expiresInSeconds: number | undefined): void {
    if (++this.writes % 500 === 0) this.sweep();
    this.map.set(key, { value, expiresAt: expiresInSeconds ? Date.now() + expiresInSeconds * 1000 : undefined });
  }

  delete(key: string): void {
    this.map.delete(key);
  }

  private sweep(): void {
    const now = Date.now();
    for (const [k, e] of this.map) if (e.expiresAt !== undefined && e.expiresAt <= now) this.map.delete(k);
  }
}

export function memoryAdapterFactory(): AdapterFactory {
  const payloads = new ExpiringMap<AdapterPayload>();
  /** Secondary keys (uid, user code) to the artefact's id. */
  const refs = new ExpiringMap<string>();
  /** Grant id to the keys of the artefacts issued under it. */
  const byGrant = new ExpiringMap<Set<string>>();

  return (model: string): Adapter => {
    const key = (id: string) => `${model}:${id}`;
    const find = async (id: string) => {
      const p = payloads.get(key(id));
      return p ? structuredClone(p) : undefined;
    };
    return {
      async upsert(id, payload, expiresIn) {
        payloads.set(key(id), structuredClone(payload), expiresIn);
        if (payload.uid) refs.set(`uid:${model}:${payload.uid}`, id, expiresIn);
        if (payload.userCode) refs.set(`userCode:${model}:${payload.userCode}`, id, expiresIn);
        if (payload.grantId) {
          const set = byGrant.get(payload.grantId) ?? new Set<string>();
          set.add(key(id));
          byGrant.set(payload.grantId, set, 3600); // longer than any artefact of the test provider
        }
      },
      find,
      async findByUid(uid) {
        const id = refs.get(`uid:${model}:${uid}`);
        return id === undefined ? undefined : find(id);
      },
      async findByUserCode(userCode) {
        const id = refs.get(`userCode:${model}:${userCode}`);
        return id === undefined ? undefined : find(id);
      },
      async consume(id) {
        const p = payloads.get(key(id));
        if (p) p.consumed = Math.floor(Date.now() / 1000);
      },
      async destroy(id) {
        payloads.delete(key(id));
      },
      async revokeByGrantId(grantId) {
        for (const k of byGrant.get(grantId) ?? []) payloads.delete(k);
        byGrant.delete(grantId);
      },
    };
  };
}
