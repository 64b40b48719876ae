/**
 * Import worker thread (issue 2, benchmark: "use both cores, for example worker threads for the
 * cryptography"): runs prepare-batch.ts on each chunk it is sent. Holds the unwrapped data and
 * blind-index keys in its own memory only.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { WorkerBatch, WorkerInit } from './import-protocol.ts';
import { createBatchPreparer } from './prepare-batch.ts';

const preparer = createBatchPreparer(workerData as WorkerInit);

parentPort!.on('message', (batch: WorkerBatch) => {
  const { result, transfer } = preparer.prepare(batch);
  parentPort!.postMessage(result, transfer);
});
