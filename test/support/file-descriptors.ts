/**
 * Open file descriptors of this process on one path (Linux: /proc/self/fd): a hub imports
 * carriers' files one after another for months, and a descriptor left open by each refused or
 * interrupted file runs it out of them.
 */
import { readdirSync, readlinkSync } from 'node:fs';

export function descriptorsOpenOn(path: string): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === path) n++;
    } catch {
      // closed while listing
    }
  }
  return n;
}

/** Closing a stream is asynchronous: waits up to a second for the descriptors on `path` to close. */
export async function settledDescriptorsOpenOn(path: string): Promise<number> {
  for (let i = 0; i < 100 && descriptorsOpenOn(path) > 0; i++) await new Promise((r) => setTimeout(r, 10));
  return descriptorsOpenOn(path);
}
