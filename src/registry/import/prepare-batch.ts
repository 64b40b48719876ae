/**
 * The work of an import worker on one chunk (issue 2): parse the records, validate and normalise
 * each row, blind-index and seal it, and lay the results out in flat buffers plus the COPY text of
 * every accepted row. A pure function of the keys and the chunk, so it can be measured and tested
 * without a thread.
 */
import { uuidv7 } from '../../kernel/ids.ts';
import { copyBytea, copyText, personIndexes, sealPerson, sealSubscription, subscriptionIndexes } from '../row-crypto.ts';
import { validatePersonRecord, validateSubscriptionRecord } from '../registry-rows.ts';
import { INDEX_BYTES, type WorkerBatch, type WorkerInit, type WorkerResult } from './import-protocol.ts';
import { parseChunk } from './record-parser.ts';

export interface BatchPreparer {
  prepare(batch: WorkerBatch): { result: WorkerResult; transfer: ArrayBuffer[] };
}

export function createBatchPreparer(init: WorkerInit): BatchPreparer {
  const data = { version: init.dataKeyVersion, key: Buffer.from(init.dataKey) };
  const bidx = { version: init.blindIndexVersion, key: Buffer.from(init.blindIndexKey) };
  const dataVersion = String(data.version);
  const bidxVersion = String(bidx.version);
  const carrier = String(init.carrierId);
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
      const offsets = new Int32Array(n + 1);
      const parts: string[] = [];
      const raws: string[] = [];
      const rejects: WorkerResult['rejects'] = [];
      let count = 0;
      let length = 0;
      for (const { item, raw } of records) {
        if (item.malformed) {
          rejects.push({ line: item.line, field: item.malformed.field, code: item.malformed.code });
          continue;
        }
        const id = uuidv7();
        let copyLine: string;
        if (init.kind === 'population') {
          const v = validatePersonRecord(item.record, batch.today);
          if (!v.ok) {
            rejects.push({ line: item.line, field: v.field, code: v.code });
            continue;
          }
          const ix = personIndexes(bidx.key, v.row);
          keys.set(ix.pidBidx, count * INDEX_BYTES);
          digests.set(ix.digest, count * INDEX_BYTES);
          copyLine = `${id}\t${copyBytea(ix.pidBidx)}\t${copyBytea(ix.matchBidx)}\t${copyBytea(ix.digest)}\t${bidxVersion}\t${copyBytea(sealPerson(data, id, v.row))}\t${dataVersion}\t${v.row.status}\t${init.runId}\t${item.line}\n`;
        } else {
          const v = validateSubscriptionRecord(item.record);
          if (!v.ok) {
            rejects.push({ line: item.line, field: v.field, code: v.code });
            continue;
          }
          const row = v.row;
          const ix = subscriptionIndexes(bidx.key, row);
          keys.set(ix.msisdnBidx, count * INDEX_BYTES);
          digests.set(ix.digest, count * INDEX_BYTES);
          if (ix.holderBidx) {
            holders.set(ix.holderBidx, count * INDEX_BYTES);
            hasHolder[count] = 1;
          }
          copyLine = `${id}\t${carrier}\t${copyBytea(ix.msisdnBidx)}\t${copyBytea(ix.holderBidx)}\t${copyBytea(ix.holderMatchBidx)}\t${copyBytea(ix.digest)}\t${bidxVersion}\t${copyBytea(sealSubscription(data, id, row))}\t${dataVersion}\t${row.channel}\t${row.registeredAt}\t${row.status}\t${copyText(row.simChangedAt)}\t${copyText(row.deviceChangedAt)}\t\\N\t${row.status === 'terminated' ? 'terminated' : '\\N'}\t${init.runId}\t${item.line}\n`;
        }
        lines[count] = item.line;
        raws.push(raw);
        parts.push(copyLine);
        length += copyLine.length;
        count++;
        offsets[count] = length;
      }
      const result: WorkerResult = {
        seq: batch.seq, recordsRead: n, count, raws, lines, keys, digests, holders, hasHolder, copyText: parts.join(''), copyOffsets: offsets, rejects,
      };
      return { result, transfer: [lines.buffer, keys.buffer, digests.buffer, holders.buffer, hasHolder.buffer, offsets.buffer] };
    },
  };
}
