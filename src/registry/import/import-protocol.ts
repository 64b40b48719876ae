/**
 * Messages between the import coordinator and its worker threads (import-worker.ts). A batch's
 * results travel as a few flat, transferred buffers rather than one object per row, so the main
 * thread — which also drives the database — spends almost nothing per row on them.
 */
import type { RawRecord } from '../registry-rows.ts';
import type { RejectCode, RowReject } from '../reject-codes.ts';
import type { NameRule } from '../../kernel/crypto/key-ring.ts';

export type RegistryKind = 'population' | 'subscriptions';

export interface WorkerInit {
  kind: RegistryKind;
  format: 'csv' | 'ndjson';
  /** CSV: the header's columns; NDJSON: empty. */
  header: string[];
  /** The field names of the format. */
  fields: readonly string[];
  /** Records starting on or before this line were committed by an earlier run: skip them. */
  skipThroughLine: number;
  runId: string;
  carrierId: number;
  dataKey: Uint8Array;
  dataKeyVersion: number;
  blindIndexKey: Uint8Array;
  blindIndexVersion: number;
  /** The name rule of that version (key-ring.ts BlindIndexKey): how match indexes fold names. */
  blindIndexNameRule: NameRule;
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
  /** The latest registry time accepted (registry-rows.ts latestAcceptedTime), in ms since the epoch. */
  notAfterMs: number;
  startLine: number;
  /** Whole records (chunk-reader.ts), transferred. */
  bytes: Uint8Array;
}

/** Width of every blind index and digest (HMAC-SHA256). */
export const INDEX_BYTES = 32;

/** The columns of a new row's binary COPY tuple, in order (prepare-batch.ts writes them so). */
export const PERSON_COPY_COLUMNS = ['id', 'pid_bidx', 'match_bidx', 'digest', 'bidx_version', 'sealed', 'dek_version', 'status', 'import_run_id', 'import_line'] as const;
export const SUBSCRIPTION_COPY_COLUMNS = [
  'id', 'carrier_id', 'msisdn_bidx', 'holder_bidx', 'holder_match_bidx', 'digest', 'bidx_version', 'sealed', 'dek_version', 'channel',
  'registered_at', 'status', 'sim_changed_at', 'device_changed_at', 'ended_at', 'ended_reason', 'import_run_id', 'import_line',
] as const;

/**
 * The accepted rows of a batch, row i at offset i*32 of each index buffer. `copyTuples` holds the
 * binary COPY tuple of each row, row i between byte copyOffsets[i] and copyOffsets[i+1]; a new row is inserted
 * exactly so (its id and sealed record are made in the worker), a changed row is re-sealed by the
 * coordinator under the stored row's id.
 */
export interface WorkerResult {
  seq: number;
  /** Records read from the chunk (accepted or rejected; not those skipped on resume). */
  recordsRead: number;
  count: number;
  /** The chunk's text, and where each accepted row is in it (row i: [rawSpans[2i], rawSpans[2i+1])), for the rows the coordinator must re-seal. */
  text: string;
  rawSpans: Int32Array;
  lines: Float64Array;
  keys: Uint8Array;
  digests: Uint8Array;
  /** Subscriptions only: the holder's personal-ID index, and whether there is a holder. */
  holders: Uint8Array;
  hasHolder: Uint8Array;
  /** Subscriptions only: 1 where the row's status is `terminated` (outside the unique index of live numbers). */
  terminated: Uint8Array;
  copyTuples: Uint8Array;
  copyOffsets: Int32Array;
  rejects: RowReject[];
}
