import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { placeOf, summariseProfile } from './cpu-profile.ts';

describe('hub CPU profile summary', () => {
  it('names where code lives: the pg driver, Fastify, idbind files, Node internals, socket writes', () => {
    expect(placeOf('file:///w/node_modules/pg/lib/client.js', 'query')).toBe('pg driver');
    expect(placeOf('file:///w/node_modules/pg-protocol/dist/parser.js', 'parse')).toBe('pg driver');
    expect(placeOf('file:///w/node_modules/fastify/lib/route.js', 'x')).toBe('Fastify');
    expect(placeOf('file:///w/node_modules/find-my-way/index.js', 'find')).toBe('Fastify');
    expect(placeOf('file:///w/node_modules/prom-client/lib/histogram.js', 'observe')).toBe('prom-client');
    expect(placeOf('file:///w/src/bindings/binding-service.ts', 'statusView')).toBe('idbind src/bindings/binding-service.ts');
    expect(placeOf('node:internal/streams/writable', 'write')).toBe('node:streams');
    expect(placeOf('', 'writev')).toBe('socket writes (syscalls)');
    expect(placeOf('', '(garbage collector)')).toBe('GC');
  });

  it('counts only the samples inside a window, idle excluded', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-prof-'));
    try {
      const file = join(dir, 'p.cpuprofile');
      writeFileSync(file, JSON.stringify({
        nodes: [
          { id: 1, callFrame: { functionName: '(idle)', url: '', lineNumber: 0 } },
          { id: 2, callFrame: { functionName: 'query', url: 'file:///w/node_modules/pg/lib/client.js', lineNumber: 9 } },
          { id: 3, callFrame: { functionName: 'writev', url: '', lineNumber: -1 } },
        ],
        startTime: 1_000,
        // Samples at 2,000, 3,000, 4,000 and 5,000 µs, each 1 ms.
        samples: [2, 3, 1, 2],
        timeDeltas: [1_000, 1_000, 1_000, 1_000],
      }));
      const [w] = summariseProfile(file, [{ name: 'w', start_us: 1_500, end_us: 4_500 }]);
      expect(w!.busy_ms).toBe(2);
      expect(w!.by_place.map((x) => [x.what, x.ms])).toEqual([['pg driver', 1], ['socket writes (syscalls)', 1]]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
