/**
 * oidc-provider's storage adapter on PostgreSQL (oidc-provider docs "Adapter"; the interface of
 * its lib/adapters/memory_adapter.js). One table, one row per artefact (session, interaction,
 * authorization code, PAR request, access and refresh tokens, grant). Clients are not stored
 * here: they are the platforms' OpenID client settings (oidc-client-service.ts).
 *
 * Consuming a code is one conditional update, so a replayed authorization code is seen as
 * consumed by oidc-provider (which then revokes the grant: RFC 6749 4.1.2, OAuth 2.0 Security BCP 4.5).
 */
import type pg from 'pg';
import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';

/** Artefacts usable once: a concurrent second use must fail, not race (see `consume`). */
const SINGLE_USE = new Set(['AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest']);

export function postgresAdapterFactory(pool: pg.Pool, findClient: (id: string) => Promise<AdapterPayload | undefined>) {
  return class PostgresAdapter implements Adapter {
    constructor(private readonly model: string) {}

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      if (this.model === 'Client') throw new Error('clients are managed by idbind, not by dynamic registration');
      await pool.query(
        `INSERT INTO oidc_payloads (model, id, payload, grant_id, uid, user_code, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $7::int IS NULL THEN NULL ELSE now() + make_interval(secs => $7::int) END)
         ON CONFLICT (model, id) DO UPDATE SET payload = EXCLUDED.payload, grant_id = EXCLUDED.grant_id, uid = EXCLUDED.uid,
           user_code = EXCLUDED.user_code, expires_at = EXCLUDED.expires_at`,
        [this.model, id, JSON.stringify(payload), payload.grantId ?? null, payload.uid ?? null, payload.userCode ?? null, expiresIn ? Math.ceil(expiresIn) : null],
      );
    }

    private async findBy(column: 'id' | 'uid' | 'user_code', value: string): Promise<AdapterPayload | undefined> {
      const r = await pool.query<{ payload: AdapterPayload; consumed_at: Date | null }>(
        `SELECT payload, consumed_at FROM oidc_payloads WHERE model = $1 AND ${column} = $2 AND (expires_at IS NULL OR expires_at > now())`,
        [this.model, value],
      );
      const row = r.rows[0];
      if (!row) return undefined;
      return row.consumed_at ? { ...row.payload, consumed: Math.floor(row.consumed_at.getTime() / 1000) } : row.payload;
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      if (this.model === 'Client') return findClient(id);
      return this.findBy('id', id);
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      return this.findBy('uid', uid);
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      return this.findBy('user_code', userCode);
    }

    /**
     * One conditional update: of two concurrent token requests with one code, only one consumes
     * it; the other gets invalid_grant here, after oidc-provider's own `consumed` check passed
     * for both (the check and the consumption are otherwise two steps).
     */
    async consume(id: string): Promise<void> {
      const r = await pool.query(`UPDATE oidc_payloads SET consumed_at = now() WHERE model = $1 AND id = $2 AND consumed_at IS NULL`, [this.model, id]);
      if (r.rowCount === 0 && SINGLE_USE.has(this.model)) {
        // A replay: what the first use issued is revoked too (OAuth 2.0 Security BCP 4.5.3 / RFC 6749 4.1.2).
        await pool.query(`DELETE FROM oidc_payloads WHERE grant_id = (SELECT grant_id FROM oidc_payloads WHERE model = $1 AND id = $2)`, [this.model, id]);
        throw new errors.InvalidGrant('grant already used');
      }
    }

    async destroy(id: string): Promise<void> {
      await pool.query(`DELETE FROM oidc_payloads WHERE model = $1 AND id = $2`, [this.model, id]);
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await pool.query(`DELETE FROM oidc_payloads WHERE grant_id = $1`, [grantId]);
    }
  };
}

/** Housekeeping: expired artefacts and hosted flows (the server's maintenance timer). */
export async function pruneExpiredOidcState(pool: pg.Pool): Promise<number> {
  const a = await pool.query(`DELETE FROM oidc_payloads WHERE expires_at < now() - interval '1 hour'`);
  const b = await pool.query(`DELETE FROM hosted_flows WHERE expires_at < now() - interval '1 hour'`);
  return (a.rowCount ?? 0) + (b.rowCount ?? 0);
}
