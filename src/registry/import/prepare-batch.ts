/**
 * The work of an import worker on one chunk (issue 2): parse the records, validate and normalise
 * each row, blind-index and seal it, and lay the results out in flat buffers plus the binary COPY
 * tuple of every accepted row (copy-binary.ts). A pure function of the keys and the chunk, so it can be measured and tested
 * without a thread.
 */
import { uuidv7 } from '../../kernel/ids.ts';
import { personIndexes, sealPerson, sealSubscription, subscriptionIndexes } from '../row-crypto.ts';
import { CopyTupleWriter } from './copy-binary.ts';
import { PERSON_COPY_COLUMNS, SUBSCRIPTION_COPY_COLUMNS } from './import-protocol.ts';
import { validatePersonRecord, validateSubscriptionRecord } from '../registry-rows.ts';
import { INDEX_BYTES, type WorkerBatch, type WorkerInit, type WorkerResult } from './import-protocol.ts';
import { parseChunk } from './record-parser.ts';

export interface BatchPreparer {
  prepare(batch: WorkerBatch): { result: WorkerResult; transfer: ArrayBuffer[] };
}

export function createBatchPreparer(init: WorkerInit): BatchPreparer {
  const data = { version: init.dataKeyVersion, key: Buffer.from(init.dataKey) };
  const bidx = { version: init.blindIndexVersion, key: Buffer.from(init.blindIndexKey), nameRule: init.blindIndexNameRule };
  const decoder = new TextDecoder('utf-8');
  return {
    prepare(batch) {
      const text = decoder.decode(batch.bytes);
      const records = [...parseChunk(text, batch.startLine, init.format, init.header, init.fields)].filter((r) => r.item.line > init.skipThroughLine);
      const n = records.length;
      const lines = new Float64Array(n);
      const keys = new Uint8Array(n * INDEX_BYTES);
      const digests = new Uint8Array(n * INDEX_BYTES);
      const holders = new Uint8Array(init.kind === 'subscriptions' ? n * INDEX_BYTES : 0);
      const hasHolder = new Uint8Array(init.kind === 'subscriptions' ? n : 0);
      const terminated = new Uint8Array(init.kind === 'subscriptions' ? n : 0);
      const offsets = new Int32Array(n + 1);
      // About 300 bytes per row: grows if more are needed.
      const tuples = new CopyTupleWriter(n * 320 + 1024);
      // Each accepted row's place in the chunk's text: the text crosses to the coordinator once,
      // not as one string per row (it only re-reads the rows it must re-seal).
      const rawSpans = new Int32Array(n * 2);
      const rejects: WorkerResult['rejects'] = [];
      let count = 0;
      for (const { item, start, end } of records) {
        if (item.malformed) {
          rejects.push({ line: item.line, field: item.malformed.field, code: item.malformed.code });
          continue;
        }
        const id = uuidv7();
        if (init.kind === 'population') {
          const v = validatePersonRecord(item.record, batch.today);
          if (!v.ok) {
            rejects.push({ line: item.line, field: v.field, code: v.code });
            continue;
          }
          const ix = personIndexes(bidx, v.row);
          keys.set(ix.pidBidx, count * INDEX_BYTES);
          digests.set(ix.digest, count * INDEX_BYTES);
          // In the order of PERSON_COPY_COLUMNS.
          tuples.tuple(PERSON_COPY_COLUMNS.length).uuid(id).bytea(ix.pidBidx).bytea(ix.matchBidx).bytea(ix.digest).int4(bidx.version)
            .bytea(sealPerson(data, id, v.row)).int4(data.version).text(v.row.status).uuid(init.runId).int8(item.line);
        } else {
          const v = validateSubscriptionRecord(item.record, batch.notAfterMs);
          if (!v.ok) {
            rejects.push({ line: item.line, field: v.field, code: v.code });
            continue;
          }
          const row = v.row;
          const ix = subscriptionIndexes(bidx, row);
          keys.set(ix.msisdnBidx, count * INDEX_BYTES);
          digests.set(ix.digest, count * INDEX_BYTES);
          if (ix.holderBidx) {
            holders.set(ix.holderBidx, count * INDEX_BYTES);
            hasHolder[count] = 1;
          }
          if (row.status === 'terminated') terminated[count] = 1;
          // In the order of SUBSCRIPTION_COPY_COLUMNS; ended_at is NULL, ended_reason is set for a terminated row.
          tuples.tuple(SUBSCRIPTION_COPY_COLUMNS.length).uuid(id).int4(init.carrierId).bytea(ix.msisdnBidx).bytea(ix.holderBidx).bytea(ix.holderMatchBidx)
            .bytea(ix.digest).int4(bidx.version).bytea(sealSubscription(data, id, row)).int4(data.version).text(row.channel)
            .timestamptz(row.registeredAt).text(row.status).timestamptz(row.simChangedAt).timestamptz(row.deviceChangedAt).null()
            .text(row.status === 'terminated' ? 'terminated' : null).uuid(init.runId).int8(item.line);
        }
        lines[count] = item.line;
        rawSpans[count * 2] = start;
        rawSpans[count * 2 + 1] = end;
        count++;
        offsets[count] = tuples.length;
      }
      const copyTuples = tuples.bytes();
      const result: WorkerResult = {
        seq: batch.seq, recordsRead: n, count, text, rawSpans, lines, keys, digests, holders, hasHolder, terminated, copyTuples, copyOffsets: offsets, rejects,
      };
      return { result, transfer: [rawSpans.buffer, lines.buffer, keys.buffer, digests.buffer, holders.buffer, hasHolder.buffer, terminated.buffer, offsets.buffer, copyTuples.buffer as ArrayBuffer] };
    },
  };
}
