/**
 * @idbind/sdk's types in a platform's project compiled with `exactOptionalPropertyTypes` (part of
 * the strictest TypeScript settings, @tsconfig/strictest): an optional input member must also
 * take `undefined`, as every one of them does at run time. Without it the README's own polling
 * loop (`let cursor = await loadCursor(); // undefined the first time`, then
 * `listEvents({ after: cursor, ... })`) does not compile, nor does passing a value read from the
 * environment (`idempotencyKey: process.env.X`).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';

// The package as a platform installs it: its tsc build, declarations and all.
const pkgDir = join(import.meta.dirname, '../../packages/sdk');
const dir = mkdtempSync(join(tmpdir(), 'idbind-sdk-consumer-'));
const sdk = join(dir, 'dist/index.js');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Every optional input member of the SDK, each given a value typed `T | undefined`.
const consumer = `
import { IdbindClient, verifyWebhook } from ${JSON.stringify(sdk)};

declare function maybe<T>(value: T): T | undefined;

export async function platform(secret: string, body: string, headers: Record<string, string>): Promise<void> {
  const client = new IdbindClient({
    baseUrl: 'https://idbind.example', apiKey: 'idbk_x',
    fetch: maybe((input: string, init: RequestInit) => fetch(input, init)), timeoutMs: maybe(1000),
    retry: maybe({ retries: maybe(1), minDelayMs: maybe(1), maxDelayMs: maybe(1) }),
  });
  const started = await client.startVerification({ accountRef: 'a-1', phone: '0912345678', idempotencyKey: maybe('k'), clientIp: maybe('192.0.2.1') });
  await client.resendCode(started.id, { clientIp: maybe('192.0.2.1') });
  await client.rotateApiKey({ overlapSeconds: maybe(60) });
  await client.rotateWebhookSecret({ overlapSeconds: maybe(60) });
  await client.verificationStats({ days: maybe(7) });
  await client.setOidcClient({
    redirectUris: maybe(['https://p.example/cb']), requirePar: maybe(true), tokenEndpointAuthMethod: maybe('client_secret_basic'),
    jwks: maybe(null), refreshTokens: maybe(false),
  });
  await client.listWebhookDeliveries({ status: maybe('dead'), limit: maybe(10), cursor: maybe('c') });
  await client.listEvents({ after: maybe('c'), limit: maybe(10) });
  await client.replayWebhookDeliveries({ status: maybe('dead'), since: maybe(new Date()), until: maybe('2030-01-01T00:00:00Z') });
  await client.listCarrierJobs({ limit: maybe(5) });
  await client.uploadRegistry('x', { format: 'csv', timeoutMs: maybe(1000) });
  await client.uploadDeltas('x', { timeoutMs: maybe(1000) });
  await verifyWebhook({ secret: maybe(secret), secrets: maybe([secret]), headers, body, toleranceSeconds: maybe(300), now: maybe(Date.now()) });
}
`;

describe('@idbind/sdk in a project with exactOptionalPropertyTypes', () => {
  it('takes undefined for every optional input member', () => {
    const tsc = join(import.meta.dirname, '../../node_modules/typescript/bin/tsc');
    execFileSync(process.execPath, [tsc, '-p', join(pkgDir, 'tsconfig.json'), '--outDir', join(dir, 'dist')], { stdio: 'pipe' });
    const file = join(dir, 'platform.ts');
    writeFileSync(file, consumer);
    const program = ts.createProgram([file], {
      target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext,
      lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'], types: [], strict: true, exactOptionalPropertyTypes: true, noEmit: true,
    });
    const errors = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n').split('\n')[0]);
    expect(errors).toEqual([]);
  }, 120_000);
});
