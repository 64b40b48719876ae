/**
 * @idbind/sdk as a package, the way a platform installs it: no runtime dependency, `exports`
 * with types, and its `tsc` build (to a temporary directory, so the work tree's dist/ is left
 * alone) loads in plain Node, without tsx, and verifies a webhook with WebCrypto alone.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';

const pkgDir = join(import.meta.dirname, '../../packages/sdk');
const out = mkdtempSync(join(tmpdir(), 'idbind-sdk-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('@idbind/sdk package', () => {
  it('has no runtime dependencies and exports its build with types', () => {
    const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(pkg.name).toBe('@idbind/sdk');
    expect(pkg.dependencies).toBeUndefined();
    expect(pkg.peerDependencies).toBeUndefined();
    expect(pkg.exports).toEqual({ '.': { types: './dist/index.d.ts', default: './dist/index.js' }, './package.json': './package.json' });
    expect((pkg.scripts as Record<string, string>).build).toBe('tsc -p tsconfig.json');
  });

  it('builds with tsc and runs in plain Node', () => {
    const tsc = join(import.meta.dirname, '../../node_modules/typescript/bin/tsc');
    execFileSync(process.execPath, [tsc, '-p', join(pkgDir, 'tsconfig.json'), '--outDir', out], { stdio: 'pipe' });
    for (const file of ['index.js', 'index.d.ts', 'client.js', 'webhooks.js']) expect(existsSync(join(out, file)), file).toBe(true);

    const secret = `whsec_${randomBytes(32).toString('base64')}`;
    const body = JSON.stringify({ id: 'msg_1', type: 'webhook.test', occurred_at: '2026-01-01T00:00:00.000Z' });
    const at = new Date();
    const headers = { 'webhook-id': 'msg_1', 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': new Webhook(secret).sign('msg_1', at, body) };
    const script = `
      const sdk = await import(${JSON.stringify(join(out, 'index.js'))});
      const client = new sdk.IdbindClient({ baseUrl: 'http://127.0.0.1:9', apiKey: 'idbk_x' });
      const event = await sdk.verifyWebhook(${JSON.stringify({ secret, headers, body })});
      console.log(JSON.stringify({ exports: Object.keys(sdk).sort(), baseUrl: client.baseUrl, event }));
    `;
    const result = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })) as {
      exports: string[]; baseUrl: string; event: unknown;
    };
    expect(result.exports).toEqual(['BULK_JSON_MAX', 'IdbindClient', 'IdbindError', 'WebhookVerificationError', 'isBulkLineError', 'isIdbindError', 'verifyWebhook']);
    expect(result.baseUrl).toBe('http://127.0.0.1:9');
    expect(result.event).toEqual(JSON.parse(body));
  }, 120_000);
});
