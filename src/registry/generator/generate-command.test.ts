/**
 * `idbind generate` (src/cli/generate-command.ts): the --json report of issue 2, the human
 * summary, progress only on a terminal, and usage errors (exit status 2, src/cli/command.ts).
 * Kept beside the generator it drives.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { EXIT_OK, EXIT_USAGE, UsageError, type CommandContext } from '../../cli/command.ts';
import { generateCommand } from '../../cli/generate-command.ts';
import { CARRIER_SLUGS } from './carrier-prefixes.ts';
import { JUNK_CATEGORIES, type GenerateReport } from './generate-registry.ts';
import { vietnamToday } from '../registry-rows.ts';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'idbind-gencmd-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Tomorrow in Vietnam time (the import's "today", registry-rows.ts vietnamToday), YYYY-MM-DD. */
function dayAfterToday(): string {
  return new Date(Date.parse(`${vietnamToday()}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
}

interface Captured {
  ctx: CommandContext;
  out: () => string;
  err: () => string;
}

function capture(options: { tty?: boolean; cwd?: string } = {}): Captured {
  const collect = (tty: boolean) => {
    const stream = new PassThrough() as PassThrough & { isTTY?: boolean; columns?: number };
    if (tty) {
      stream.isTTY = true;
      stream.columns = 100;
    }
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
  };
  const stdout = collect(false);
  const stderr = collect(options.tty ?? false);
  return {
    ctx: { stdout: stdout.stream, stderr: stderr.stream, env: {}, cwd: options.cwd ?? tempDir() },
    out: stdout.text,
    err: stderr.text,
  };
}

describe('idbind generate', () => {
  it('prints the issue 2 JSON report with --json and writes the files it names', async () => {
    const c = capture();
    const code = await generateCommand.run(['--people', '1200', '--subscriptions', '1400', '--junk-rate', '0.03', '--out', 'reg', '--json'], c.ctx);
    expect(code).toBe(EXIT_OK);
    const report = JSON.parse(c.out()) as GenerateReport;
    expect(Object.keys(report)).toEqual(['seed', 'people', 'subscriptions', 'files', 'planted', 'by_carrier', 'terminated', 'minors', 'deceased_people']);
    expect(report.seed).toBe(1);
    expect(report.people).toBe(1200);
    expect(report.subscriptions).toBe(1400);
    expect(Object.keys(report.planted)).toEqual([...JUNK_CATEGORIES]);
    for (const category of JUNK_CATEGORIES) {
      expect(report.planted[category]).toBe(42);
      expect(CARRIER_SLUGS.reduce((sum, carrier) => sum + report.by_carrier[carrier][category], 0)).toBe(42);
    }
    expect(report.terminated).toBe(28);
    expect(Object.keys(report.files)).toEqual(['population', ...CARRIER_SLUGS]);
    expect(report.files.population).toBe(join(c.ctx.cwd, 'reg', 'population.csv'));
    for (const path of Object.values(report.files)) expect(existsSync(path)).toBe(true);
    expect(readFileSync(report.files.population, 'utf8').trim().split('\n').length).toBe(1201);
    expect(c.err()).toBe('');
  });

  it('lets a per-category rate override --junk-rate, and sets seed, as-of and format', async () => {
    const c = capture();
    const args = ['--people', '1000', '--subscriptions', '1000', '--junk-rate', '0', '--holder-not-found-rate', '0.05', '--terminated-rate', '0', '--seed', '42', '--as-of', '2025-06-30', '--format', 'ndjson', '--out', 'nd', '--json'];
    expect(await generateCommand.run(args, c.ctx)).toBe(EXIT_OK);
    const report = JSON.parse(c.out()) as GenerateReport;
    expect(report.seed).toBe(42);
    expect(report.planted).toEqual({ NO_HOLDER: 0, HOLDER_NOT_FOUND: 50, HOLDER_DATA_MISMATCH: 0, HOLDER_DECEASED: 0, ONLINE_BEYOND_LIMIT: 0 });
    expect(report.terminated).toBe(0);
    expect(report.files.viettel.endsWith('viettel.ndjson')).toBe(true);
    const first = JSON.parse(readFileSync(report.files.viettel, 'utf8').split('\n')[0]!) as Record<string, unknown>;
    expect(String(first.registered_at) < '2025-07-01').toBe(true);
  });

  it('takes today (Vietnam time) as --as-of, the latest day a registry the hub imports can describe', async () => {
    const c = capture();
    expect(await generateCommand.run(['--people', '200', '--subscriptions', '200', '--as-of', vietnamToday(), '--out', 'today', '--json'], c.ctx)).toBe(EXIT_OK);
  });

  it('prints a short human summary without --json', async () => {
    const c = capture();
    expect(await generateCommand.run(['--people', '500', '--subscriptions', '500', '--out', 'h'], c.ctx)).toBe(EXIT_OK);
    expect(c.out()).toContain('Generated 500 people and 500 subscriptions');
    expect(c.out()).toContain('NO_HOLDER 10');
    expect(c.out()).toContain('10 terminated');
    expect(c.out().trim().split('\n').length).toBeLessThanOrEqual(6);
  });

  it('draws progress on stderr only when it is a terminal', async () => {
    const tty = capture({ tty: true });
    await generateCommand.run(['--people', '500', '--subscriptions', '500', '--out', 'p', '--json'], tty.ctx);
    expect(tty.err()).toMatch(/generate \[#+\]/);
    expect(() => JSON.parse(tty.out()) as unknown).not.toThrow();
    const pipe = capture();
    await generateCommand.run(['--people', '500', '--subscriptions', '500', '--out', 'p'], pipe.ctx);
    expect(pipe.err()).toBe('');
  });

  it('answers --help with the options and exit status 0', async () => {
    const c = capture();
    expect(await generateCommand.run(['--help'], c.ctx)).toBe(EXIT_OK);
    for (const option of ['--people', '--subscriptions', '--junk-rate', '--no-holder-rate', '--holder-not-found-rate', '--holder-data-mismatch-rate', '--holder-deceased-rate', '--online-beyond-limit-rate', '--terminated-rate', '--seed', '--as-of', '--out', '--format', '--json']) {
      expect(c.out()).toContain(option);
    }
    expect(generateCommand.help).toBe(c.out());
  });

  const bad: [string, string[], RegExp][] = [
    ['missing --people', ['--subscriptions', '10', '--out', 'x'], /--people is required/],
    ['missing --subscriptions', ['--people', '10', '--out', 'x'], /--subscriptions is required/],
    ['missing --out', ['--people', '10', '--subscriptions', '10'], /--out is required/],
    ['a word for --people', ['--people', 'many', '--subscriptions', '10', '--out', 'x'], /non-negative integer/],
    ['a fraction of people', ['--people', '10.5', '--subscriptions', '10', '--out', 'x'], /non-negative integer/],
    ['zero people', ['--people', '0', '--subscriptions', '0', '--out', 'x'], /people must be/],
    ['a rate above 1', ['--people', '10', '--subscriptions', '10', '--junk-rate', '1.5', '--out', 'x'], /fraction from 0 to 1/],
    ['a rate that is not a number', ['--people', '10', '--subscriptions', '10', '--holder-deceased-rate', 'lots', '--out', 'x'], /fraction from 0 to 1/],
    ['a negative rate', ['--people', '10', '--subscriptions', '10', '--terminated-rate=-0.1', '--out', 'x'], /fraction from 0 to 1/],
    ['an unknown format', ['--people', '10', '--subscriptions', '10', '--format', 'xml', '--out', 'x'], /csv or ndjson/],
    ['an impossible as-of date', ['--people', '10', '--subscriptions', '10', '--as-of', '2026-02-30', '--out', 'x'], /as-of/],
    // The import refuses birth dates after today and registry times more than a day ahead of the
    // clock (docs/formats.md): a registry of a later day made files it rejected by the hundred,
    // and the help's "a reconciliation of the imported files finds exactly these counts" was false.
    ['an as-of date after today', ['--people', '10', '--subscriptions', '10', '--as-of', dayAfterToday(), '--out', 'x'], /as-of .*after today/],
    ['a seed out of range', ['--people', '10', '--subscriptions', '10', '--seed', '4294967296', '--out', 'x'], /seed/],
    ['an unknown option', ['--people', '10', '--subscriptions', '10', '--out', 'x', '--junk', '0.1'], /Unknown option/],
    ['a positional argument', ['--people', '10', '--subscriptions', '10', '--out', 'x', 'extra'], /positional/],
    ['too few people', ['--people', '100', '--subscriptions', '1000', '--out', 'x'], /not enough people/],
    ['rates needing more than M', ['--people', '1000', '--subscriptions', '100', '--junk-rate', '0.3', '--out', 'x'], /more than the 100 requested/],
  ];

  it.each(bad)('refuses %s with a usage error and writes nothing', async (_label, args, message) => {
    const c = capture();
    await expect(generateCommand.run(args, c.ctx)).rejects.toSatisfy((e: unknown) => e instanceof UsageError && message.test(e.message));
    expect(existsSync(join(c.ctx.cwd, 'x'))).toBe(false);
  });

  it('refuses an --out that is a file', async () => {
    const c = capture();
    writeFileSync(join(c.ctx.cwd, 'file'), 'not a directory');
    await expect(generateCommand.run(['--people', '10', '--subscriptions', '0', '--out', 'file'], c.ctx)).rejects.toBeInstanceOf(UsageError);
  });

  it('exits with status 2 through the idbind dispatcher on bad arguments', async () => {
    const { main } = await import('../../cli.ts');
    const c = capture();
    expect(await main(['generate', '--people', 'x', '--subscriptions', '1', '--out', 'x'], c.ctx)).toBe(EXIT_USAGE);
    expect(c.err()).toContain('--people must be a non-negative integer');
    expect(await main(['generate', '--nope'], c.ctx)).toBe(EXIT_USAGE);
  });
});
