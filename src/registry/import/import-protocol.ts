/** Messages between the import coordinator and its worker threads (import-worker.ts). */
import type { RawRecord, PersonRow, SubscriptionRow, PersonStatus } from '../registry-rows.ts';
import type { RejectCode, RowReject } from '../reject-codes.ts';

export type RegistryKind = 'population' | 'subscriptions';

export interface WorkerInit {
  kind: RegistryKind;
  runId: string;
  carrierId: number;
  dataKey: Uint8Array;
  dataKeyVersion: number;
  blindIndexKey: Uint8Array;
  blindIndexVersion: number;
}

export interface SourceItem {
  line: number;
  record: RawRecord;
  /** Set when the reader could not make a record of the line. */
  malformed?: { field: string; code: RejectCode };
}

export interface WorkerBatch {
  seq: number;
  today: string;
  items: SourceItem[];
}

interface PreparedBase {
  line: number;
  id: string;
  key: Buffer;
  digest: Buffer;
  copy: string;
}

export interface PreparedPerson extends PreparedBase {
  matchBidx: Buffer;
  status: PersonStatus;
  row: PersonRow;
}

export interface PreparedSubscription extends PreparedBase {
  holderBidx: Buffer | null;
  holderMatchBidx: Buffer | null;
  row: SubscriptionRow;
}

export interface WorkerResult {
  seq: number;
  prepared: (PreparedPerson | PreparedSubscription)[];
  rejects: RowReject[];
}
