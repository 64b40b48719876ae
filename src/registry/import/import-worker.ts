/**
 * Import worker thread (issue 2, benchmark: "use both cores, for example worker threads for the
 * cryptography"). Receives batches of raw records with their line numbers; validates, normalises,
 * blind-indexes and seals each row, and returns the COPY text of each accepted row and the rejects.
 * Holds the unwrapped data and blind-index keys in its own memory only.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { uuidv7 } from '../../kernel/ids.ts';
import { copyBytea, copyText, personIndexes, sealPerson, sealSubscription, subscriptionIndexes } from '../row-crypto.ts';
import { validatePersonRecord, validateSubscriptionRecord, type PersonRow, type SubscriptionRow } from '../registry-rows.ts';
import type { WorkerBatch, WorkerInit, WorkerResult, PreparedPerson, PreparedSubscription } from './import-protocol.ts';

const init = workerData as WorkerInit;
const data = { version: init.dataKeyVersion, key: Buffer.from(init.dataKey) };
const bidx = { version: init.blindIndexVersion, key: Buffer.from(init.blindIndexKey) };

function preparePerson(line: number, row: PersonRow): PreparedPerson {
  const id = uuidv7();
  const ix = personIndexes(bidx.key, row);
  const sealed = sealPerson(data, id, row);
  const copy = [
    id, copyBytea(ix.pidBidx), copyBytea(ix.matchBidx), copyBytea(ix.digest), String(bidx.version),
    copyBytea(sealed), String(data.version), row.status, init.runId, String(line),
  ].join('\t') + '\n';
  return { line, id, key: ix.pidBidx, digest: ix.digest, matchBidx: ix.matchBidx, status: row.status, row, copy };
}

function prepareSubscription(line: number, row: SubscriptionRow): PreparedSubscription {
  const id = uuidv7();
  const ix = subscriptionIndexes(bidx.key, row);
  const sealed = sealSubscription(data, id, row);
  const terminated = row.status === 'terminated';
  const copy = [
    id, String(init.carrierId), copyBytea(ix.msisdnBidx), copyBytea(ix.holderBidx), copyBytea(ix.holderMatchBidx),
    copyBytea(ix.digest), String(bidx.version), copyBytea(sealed), String(data.version), row.channel, row.registeredAt,
    row.status, copyText(row.simChangedAt), copyText(row.deviceChangedAt), '\\N', terminated ? 'terminated' : '\\N',
    init.runId, String(line),
  ].join('\t') + '\n';
  return { line, id, key: ix.msisdnBidx, digest: ix.digest, holderBidx: ix.holderBidx, holderMatchBidx: ix.holderMatchBidx, row, copy };
}

parentPort!.on('message', (batch: WorkerBatch) => {
  const result: WorkerResult = { seq: batch.seq, prepared: [], rejects: [] };
  for (const item of batch.items) {
    if (item.malformed) {
      result.rejects.push({ line: item.line, field: item.malformed.field, code: item.malformed.code });
      continue;
    }
    if (init.kind === 'population') {
      const v = validatePersonRecord(item.record, batch.today);
      if (v.ok) result.prepared.push(preparePerson(item.line, v.row));
      else result.rejects.push({ line: item.line, field: v.field, code: v.code });
    } else {
      const v = validateSubscriptionRecord(item.record);
      if (v.ok) result.prepared.push(prepareSubscription(item.line, v.row));
      else result.rejects.push({ line: item.line, field: v.field, code: v.code });
    }
  }
  parentPort!.postMessage(result);
});
