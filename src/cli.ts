/**
 * The `idbind` command line (DESIGN.md "CLI"): one file per command in src/cli/, this file only
 * dispatches. Exit statuses: 0 success, 1 failure, 2 usage error, 3 partial success.
 */
import type { Command, CommandContext } from './cli/command.ts';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from './cli/command.ts';
import { AppError } from './kernel/errors.ts';
import { ConfigError } from './kernel/config/config.ts';
import { serveCommand } from './cli/serve-command.ts';
import { migrateCommand } from './cli/migrate-command.ts';
import { generateCommand } from './cli/generate-command.ts';
import { importCommand } from './cli/import-command.ts';
import { reconcileCommand } from './cli/reconcile-command.ts';
import { keysCommand } from './cli/keys-command.ts';
import { providersCommand } from './cli/providers-command.ts';
import { oidcCommand } from './cli/oidc-command.ts';
import { authoritiesCommand, officialsCommand } from './cli/officials-command.ts';
import { logCommand } from './cli/log-command.ts';

export const COMMANDS: readonly Command[] = [serveCommand, migrateCommand, generateCommand, importCommand, reconcileCommand, keysCommand, providersCommand, oidcCommand, authoritiesCommand, officialsCommand, logCommand];

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'Usage: idbind <command> [options]',
    '',
    'idbind: the identity-verification hub (encrypted registries, junk-SIM reconciliation).',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    "Run 'idbind <command> --help' for a command's options. Configuration: README.md.",
  ].join('\n');
}

/** Known failures are reported in one line without a stack; they never carry a personal field. */
function isExpected(e: unknown): e is Error {
  return e instanceof AppError || e instanceof ConfigError || (e instanceof Error && /Error$/.test(e.name) && e.name !== 'Error' && e.name !== 'TypeError');
}

export async function main(argv: string[], ctx: CommandContext = { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() }): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    ctx.stdout.write(usage() + '\n');
    return name ? EXIT_OK : EXIT_USAGE;
  }
  if (name === '--version') {
    ctx.stdout.write('idbind 0.1.0\n');
    return EXIT_OK;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    ctx.stderr.write(`idbind: unknown command '${name}'\n\n${usage()}\n`);
    return EXIT_USAGE;
  }
  try {
    return await command.run(args, ctx);
  } catch (e) {
    if (e instanceof UsageError || (e instanceof TypeError && 'code' in e && String(e.code).startsWith('ERR_PARSE_ARGS'))) {
      ctx.stderr.write(`idbind ${name}: ${(e as Error).message}\nRun 'idbind ${name} --help' for usage.\n`);
      return EXIT_USAGE;
    }
    if (isExpected(e)) {
      ctx.stderr.write(`idbind ${name}: ${e instanceof AppError ? `${e.code}: ` : ''}${e.message}\n`);
      return EXIT_FAILURE;
    }
    ctx.stderr.write(`idbind ${name}: unexpected failure: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return EXIT_FAILURE;
  }
}
