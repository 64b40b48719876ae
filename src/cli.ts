/**
 * The `idbind` command line (DESIGN.md "CLI"): one file per command in src/cli/, this file only
 * dispatches. Exit statuses: 0 success, 1 failure, 2 usage error, 3 partial success.
 */
import type { Command, CommandContext } from './cli/command.ts';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from './cli/command.ts';
import { AppError } from './kernel/errors.ts';
import { ConfigError } from './kernel/config/config.ts';

/**
 * The commands, each loaded only when it runs. Importing every command up front made each
 * invocation load the whole server through tsx (about 2 s here, `idbind --help` included) and
 * print the OpenID Provider library's warnings for commands that never use it.
 */
interface CommandEntry {
  readonly name: string;
  /** One line for `idbind --help`. */
  readonly summary: string;
  readonly load: () => Promise<Command>;
}

export const COMMANDS: readonly CommandEntry[] = [
  { name: 'serve', summary: 'run the hub (HTTP API and web app); --demo for a self-contained demo', load: async () => (await import('./cli/serve-command.ts')).serveCommand },
  { name: 'migrate', summary: 'apply pending database migrations', load: async () => (await import('./cli/migrate-command.ts')).migrateCommand },
  { name: 'generate', summary: 'write a synthetic population and carrier registry with planted junk subscriptions', load: async () => (await import('./cli/generate-command.ts')).generateCommand },
  { name: 'import', summary: 'import the population registry, a carrier registry, or a carrier delta file', load: async () => (await import('./cli/import-command.ts')).importCommand },
  { name: 'reconcile', summary: 'run a junk-SIM reconciliation and write the carriers\' action lists', load: async () => (await import('./cli/reconcile-command.ts')).reconcileCommand },
  { name: 'keys', summary: 'show and rotate the master, data and blind-index keys', load: async () => (await import('./cli/keys-command.ts')).keysCommand },
  { name: 'providers', summary: 'create and list platforms, carriers and registrars; rotate their API keys', load: async () => (await import('./cli/providers-command.ts')).providersCommand },
  { name: 'oidc', summary: "list and rotate the OpenID Provider's ID token signing keys", load: async () => (await import('./cli/oidc-command.ts')).oidcCommand },
  { name: 'authorities', summary: 'create and list authorities (police units, procuracies, courts) of the authority console', load: async () => (await import('./cli/officials-command.ts')).authoritiesCommand },
  { name: 'officials', summary: 'create, invite, deactivate and list officials (passkey sign-in to the authority console)', load: async () => (await import('./cli/officials-command.ts')).officialsCommand },
  { name: 'log', summary: 'the transparency log: verifier key, checkpoints, verify a live log or a proof bundle', load: async () => (await import('./cli/log-command.ts')).logCommand },
];

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

/**
 * The `--json` code of the expected failures that are not the error catalogue's (README "CLI"): a
 * stable code a script can branch on, never an internal class name. Any other expected failure is
 * `FAILED`, its message saying what.
 */
const CLI_FAILURE_CODES: Record<string, string> = {
  ConfigError: 'CONFIG_INVALID',
  MasterKeyConfigError: 'CONFIG_INVALID',
  KeyRingError: 'KEY_RING_UNAVAILABLE',
  MigrationError: 'MIGRATIONS_INVALID',
  EmbeddedServerError: 'EMBEDDED_SERVER_FAILED',
  HubStartError: 'START_REFUSED',
};

const DATABASE_FAILURES: Record<string, string> = {
  ECONNREFUSED: 'connection refused', ENOTFOUND: 'the host name does not resolve', EAI_AGAIN: 'the host name does not resolve',
  ETIMEDOUT: 'the connection timed out', EHOSTUNREACH: 'the host is unreachable', ECONNRESET: 'the connection was reset',
  // PostgreSQL's own refusals (SQLSTATE): wrong password, no such database, no such role or pg_hba.conf.
  '28P01': 'password authentication failed', '28000': 'the server refused the connection (role or pg_hba.conf)', '3D000': 'the database does not exist',
};

/**
 * A failure to reach the PostgreSQL server of DATABASE_URL, as one line naming the host and port
 * and why (never the URL: it may carry a password); undefined for anything else.
 */
function databaseUnreachable(e: unknown, env: NodeJS.ProcessEnv): string | undefined {
  if (!env.DATABASE_URL) return undefined;
  let url: URL;
  try {
    url = new URL(env.DATABASE_URL);
  } catch {
    return undefined;
  }
  const port = Number(url.port || 5432);
  // Node tries every address of a name and reports them together (AggregateError).
  const errors = e instanceof AggregateError ? e.errors : [e];
  for (const err of errors) {
    const x = err as { code?: unknown; port?: unknown; severity?: unknown };
    const why = typeof x.code === 'string' ? DATABASE_FAILURES[x.code] : undefined;
    if (!why) continue;
    const isServerRefusal = typeof x.severity === 'string';
    if (isServerRefusal || x.port === port || x.code === 'ENOTFOUND' || x.code === 'EAI_AGAIN') {
      return `cannot connect to the database at ${url.hostname}:${port} (DATABASE_URL): ${why}`;
    }
  }
  return undefined;
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
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) {
    ctx.stderr.write(`idbind: unknown command '${name}'\n\n${usage()}\n`);
    return EXIT_USAGE;
  }
  // A machine reading --json output gets the failure as JSON on stdout too, not an empty stream.
  const json = args.includes('--json');
  const failure = (code: string, message: string) => {
    if (json) ctx.stdout.write(JSON.stringify({ error: { code, message } }) + '\n');
  };
  try {
    return await (await entry.load()).run(args, ctx);
  } catch (e) {
    if (e instanceof UsageError || (e instanceof TypeError && 'code' in e && String(e.code).startsWith('ERR_PARSE_ARGS'))) {
      ctx.stderr.write(`idbind ${name}: ${(e as Error).message}\nRun 'idbind ${name} --help' for usage.\n`);
      failure('USAGE', (e as Error).message);
      return EXIT_USAGE;
    }
    if (isExpected(e)) {
      ctx.stderr.write(`idbind ${name}: ${e instanceof AppError ? `${e.code}: ` : ''}${e.message}\n`);
      failure(e instanceof AppError ? e.code : CLI_FAILURE_CODES[e.name] ?? 'FAILED', e.message);
      return EXIT_FAILURE;
    }
    const unreachable = databaseUnreachable(e, ctx.env);
    if (unreachable) {
      ctx.stderr.write(`idbind ${name}: DATABASE_UNREACHABLE: ${unreachable}\n`);
      failure('DATABASE_UNREACHABLE', unreachable);
      return EXIT_FAILURE;
    }
    ctx.stderr.write(`idbind ${name}: unexpected failure: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    failure('UNEXPECTED', 'unexpected failure (details on stderr)');
    return EXIT_FAILURE;
  }
}
