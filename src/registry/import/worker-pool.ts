/**
 * A pool of import workers that returns results in submission order, with a bounded number of
 * batches in flight so that memory stays constant however large the file (issue 2: "in constant
 * memory").
 */
import { Worker } from 'node:worker_threads';
import type { WorkerBatch, WorkerInit, WorkerResult } from './import-protocol.ts';

const WORKER_URL = new URL('./import-worker-entry.mjs', import.meta.url);

interface Pending {
  resolve: (r: WorkerResult) => void;
  reject: (e: Error) => void;
}

export class ImportWorkerPool {
  private readonly workers: Worker[] = [];
  private readonly load: number[] = [];
  private readonly pending = new Map<number, Pending>();
  private failure: Error | undefined;

  constructor(size: number, init: WorkerInit) {
    for (let i = 0; i < size; i++) {
      const worker = new Worker(WORKER_URL, { workerData: init });
      worker.on('message', (result: WorkerResult) => {
        this.load[i]!--;
        const p = this.pending.get(result.seq);
        this.pending.delete(result.seq);
        p?.resolve(result);
      });
      worker.on('error', (e) => this.fail(e));
      worker.on('exit', (code) => {
        if (code !== 0) this.fail(new Error(`an import worker stopped with exit code ${code}`));
      });
      this.workers.push(worker);
      this.load.push(0);
    }
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  /** Sends a batch to the least-loaded worker; the promise settles with its result. */
  submit(batch: WorkerBatch): Promise<WorkerResult> {
    if (this.failure) return Promise.reject(this.failure);
    let best = 0;
    for (let i = 1; i < this.load.length; i++) if (this.load[i]! < this.load[best]!) best = i;
    this.load[best]!++;
    return new Promise((resolve, reject) => {
      this.pending.set(batch.seq, { resolve, reject });
      this.workers[best]!.postMessage(batch, [batch.bytes.buffer as ArrayBuffer]);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
