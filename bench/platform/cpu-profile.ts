/**
 * Where the hub's own CPU went, from a V8 CPU profile (`node --cpu-prof`, written when the hub
 * exits): the samples that fall in each measurement's time window, their self time summed by
 * where the code lives (the pg driver, Fastify, pino, idbind's own files, Node's internals,
 * garbage collection). The profile's timestamps are the monotonic clock in microseconds, the
 * clock `process.hrtime` reads in every process of the machine, so the bench's windows apply.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface Window {
  name: string;
  /** process.hrtime in microseconds. */
  start_us: number;
  end_us: number;
}

export interface ProfileShare {
  what: string;
  ms: number;
  share: number;
}

export interface WindowProfile {
  name: string;
  /** Sampled CPU time in the window, idle excluded. */
  busy_ms: number;
  by_place: ProfileShare[];
  top_functions: ProfileShare[];
}

/** A short name for where a function lives. */
export function placeOf(url: string, functionName: string): string {
  if (url === '') {
    if (functionName === '(garbage collector)') return 'GC';
    if (functionName === '(program)') return 'V8/native (program)';
    // A sample inside a socket write counts the kernel's TCP work, on loopback the receiver's too.
    if (/^write(v|Buffer|Utf8String|Latin1String)$/.test(functionName)) return 'socket writes (syscalls)';
    return `native ${functionName}`;
  }
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (nm) {
    const pkg = nm[1]!;
    if (pkg === 'pg' || pkg.startsWith('pg-') || pkg === 'postgres-array' || pkg === 'postgres-date' || pkg === 'postgres-bytea' || pkg === 'postgres-interval') return 'pg driver';
    if (pkg === 'fastify' || pkg.startsWith('@fastify/') || ['find-my-way', 'avvio', 'light-my-request', 'fast-json-stringify', 'fast-querystring', 'fast-uri', 'ajv', 'json-schema-ref-resolver', 'toad-cache', 'rfdc', 'secure-json-parse'].includes(pkg)) return 'Fastify';
    return pkg;
  }
  const src = /\/src\/(.+)$/.exec(url);
  if (src) return `idbind src/${src[1]}`;
  const internal = /^node:(?:internal\/)?([a-z_]+)/.exec(url);
  if (internal) return `node:${internal[1]}`;
  return url.replace(/^file:\/\//, '').split('/').slice(-2).join('/');
}

export function summariseProfile(file: string, windows: readonly Window[], top = 12): WindowProfile[] {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const out = windows.map((w) => ({ w, place: new Map<string, number>(), fn: new Map<string, number>(), busy: 0 }));
  let t = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] ?? 0;
    const node = byId.get(p.samples[i]!);
    if (!node || node.callFrame.functionName === '(idle)') continue;
    // A sample's time is the interval that ends with it.
    const dt = (p.timeDeltas[i] ?? 0) / 1000;
    for (const o of out) {
      if (t < o.w.start_us || t > o.w.end_us) continue;
      const place = placeOf(node.callFrame.url, node.callFrame.functionName);
      const fn = `${node.callFrame.functionName || '(anonymous)'} ${place}:${node.callFrame.lineNumber + 1}`;
      o.busy += dt;
      o.place.set(place, (o.place.get(place) ?? 0) + dt);
      o.fn.set(fn, (o.fn.get(fn) ?? 0) + dt);
    }
  }
  const ranked = (m: Map<string, number>, busy: number) =>
    [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([what, ms]) => ({ what, ms, share: busy > 0 ? ms / busy : 0 }));
  return out.map((o) => ({ name: o.w.name, busy_ms: o.busy, by_place: ranked(o.place, o.busy), top_functions: ranked(o.fn, o.busy) }));
}
