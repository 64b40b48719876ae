import { describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { COMMANDS, main } from './cli.ts';

function context() {
  const out = new PassThrough();
  const err = new PassThrough();
  const text = { out: '', err: '' };
  out.on('data', (c: Buffer) => (text.out += c.toString()));
  err.on('data', (c: Buffer) => (text.err += c.toString()));
  return { ctx: { stdout: out, stderr: err, env: {}, cwd: process.cwd() }, text };
}

describe('idbind command dispatch', () => {
  it('loads, for each listed command, the command of that name, with its own usage text', async () => {
    for (const entry of COMMANDS) {
      const command = await entry.load();
      expect(command.name).toBe(entry.name);
      expect(command.help).toMatch(new RegExp(`^Usage:\\s+idbind ${entry.name}\\b`));
      expect(entry.summary.length).toBeGreaterThan(10);
    }
    expect(new Set(COMMANDS.map((c) => c.name)).size).toBe(COMMANDS.length);
  });

  it('lists every command with its summary, and answers an unknown one with exit 2', async () => {
    const help = context();
    expect(await main(['--help'], help.ctx)).toBe(0);
    for (const entry of COMMANDS) expect(help.text.out).toContain(`${entry.name}`);
    expect(help.text.out).toContain(COMMANDS.find((c) => c.name === 'reconcile')!.summary);
    const unknown = context();
    expect(await main(['frobnicate'], unknown.ctx)).toBe(2);
    expect(unknown.text.err).toContain("unknown command 'frobnicate'");
    // With --json a failure is JSON on stdout too: here, no master key outside demo mode.
    const failed = context();
    expect(await main(['reconcile', 'prune', '--keep-runs', '1', '--json'], failed.ctx)).toBe(1);
    expect(JSON.parse(failed.text.out)).toEqual({ error: { code: 'CONFIG_INVALID', message: expect.stringContaining('IDBIND_MASTER_KEY') } });
    const badJson = context();
    expect(await main(['reconcile', 'prune', '--json'], badJson.ctx)).toBe(2);
    expect(JSON.parse(badJson.text.out)).toMatchObject({ error: { code: 'USAGE' } });
    const usage = context();
    expect(await main(['reconcile', 'prune', '--keep-runs', 'none'], usage.ctx)).toBe(2);
    expect(usage.text.err).toContain("Run 'idbind reconcile --help'");
  });

  it('reports a database it cannot reach in one line, without a stack or the URL\'s password', async () => {
    const r = context();
    r.ctx.env = { DATABASE_URL: 'postgres://idbind:s3cret@127.0.0.1:1/idbind', IDBIND_MASTER_KEY: Buffer.alloc(32, 7).toString('base64') } as never;
    expect(await main(['migrate', '--json'], r.ctx)).toBe(1);
    expect(r.text.err).toMatch(/^idbind migrate: DATABASE_UNREACHABLE: cannot connect to the database at 127\.0\.0\.1:1 \(DATABASE_URL\): connection refused\n$/);
    expect(JSON.parse(r.text.out)).toEqual({ error: { code: 'DATABASE_UNREACHABLE', message: expect.stringContaining('connection refused') } });
    expect(r.text.err + r.text.out).not.toContain('s3cret');
  });
});
