/**
 * A progress bar for long CLI work, written to stderr only when it is a terminal (so `--json`
 * output and logs stay clean), redrawn at most ten times a second.
 */
export interface ProgressBar {
  update(done: number, total: number, label: string): void;
  finish(): void;
}

export function createProgressBar(stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }, title: string): ProgressBar {
  if (!stream.isTTY) return { update: () => undefined, finish: () => undefined };
  const started = Date.now();
  let last = 0;
  let drawn = false;
  return {
    update(done, total, label) {
      const now = Date.now();
      if (now - last < 100 && done < total) return;
      last = now;
      const width = 24;
      const ratio = total > 0 ? Math.min(1, done / total) : 0;
      const filled = Math.round(ratio * width);
      const seconds = (now - started) / 1000;
      const line = `${title} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(ratio * 100).toFixed(0).padStart(3)}% ${label} ${seconds.toFixed(0)}s`;
      stream.write(`\r${line.slice(0, (stream.columns ?? 120) - 1)}\u001b[K`);
      drawn = true;
    },
    finish() {
      if (drawn) stream.write('\n');
    },
  };
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}
