/**
 * Demo mode's SMS outbox (issue 3 "SMS gateway"): messages are stored, sealed, instead of sent,
 * so the whole flow can be tried without a carrier. `GET /v1/dev/sms-outbox?to=PHONE` and the web
 * app read them. Never constructed outside demo mode.
 */
import type pg from 'pg';
import { associatedData, openRecord, sealRecord } from '../../kernel/crypto/envelope.ts';
import { dataKeyFor, type KeyRing } from '../../kernel/crypto/key-ring.ts';
import { uuidv7 } from '../../kernel/ids.ts';
import { msisdnIndex } from '../../registry/row-crypto.ts';
import type { SmsGateway } from './sms-gateway.ts';

export function outboxSmsGateway(pool: pg.Pool, ring: () => Promise<KeyRing>): SmsGateway {
  return {
    kind: 'outbox',
    async send(to, text) {
      const r = await ring();
      const id = uuidv7();
      await pool.query({
        name: 'sms_outbox_insert',
        text: 'INSERT INTO sms_outbox (id, to_bidx, bidx_version, sealed, dek_version) VALUES ($1, $2, $3, $4, $5)',
        values: [id, msisdnIndex(r.currentBlindIndex.key, to), r.currentBlindIndex.version,
          sealRecord(r.currentData.key, r.currentData.version, [to, text], associatedData('sms_outbox', 'sealed', id)), r.currentData.version],
      });
    },
  };
}

export interface OutboxMessage {
  to: string;
  text: string;
  sent_at: string;
}

/** Messages to one number, oldest first (newest last), at most `limit` of the latest. */
export async function readOutbox(pool: pg.Pool, ring: KeyRing, e164: string, limit = 50): Promise<OutboxMessage[]> {
  const keys = ring.blindIndex.map((k) => msisdnIndex(k.key, e164));
  const r = await pool.query<{ id: string; sealed: Buffer; dek_version: number; sent_at: Date }>({
    name: 'sms_outbox_read',
    text: `SELECT id, sealed, dek_version, sent_at FROM (
             SELECT id, sealed, dek_version, sent_at FROM sms_outbox WHERE to_bidx = ANY($1::bytea[]) ORDER BY sent_at DESC, id DESC LIMIT $2
           ) t ORDER BY sent_at, id`,
    values: [keys, limit],
  });
  return r.rows.map((row) => {
    const [to, text] = openRecord(dataKeyFor(ring, row.dek_version), row.sealed, associatedData('sms_outbox', 'sealed', row.id));
    return { to: to ?? '', text: text ?? '', sent_at: row.sent_at.toISOString() };
  });
}
