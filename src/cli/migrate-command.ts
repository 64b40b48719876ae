/** `idbind migrate` (issue 2): applies pending migrations. Needs no master key. */
import { parseArgs } from 'node:util';
import { createPool } from '../kernel/db/pool.ts';
import { migrate } from '../kernel/db/migrations.ts';
import { loadConfig } from '../kernel/config/config.ts';
import { startEmbeddedServer } from '../kernel/db/embedded-server.ts';
import { EXIT_OK, UsageError, type Command } from './command.ts';

const HELP = `Usage: idbind migrate [--json]

Applies the pending SQL migrations (migrations/NNNN_name.sql) to the database: the embedded server
in the data directory, or DATABASE_URL. Every other command applies them too.

Options:
  --json        print {"applied": ["0001_registry", ...]}
  -h, --help    this help`;

export const migrateCommand: Command = {
  name: 'migrate',
  help: HELP,
  async run(args, ctx) {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
    if (values.help) {
      ctx.stdout.write(HELP + '\n');
      return EXIT_OK;
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument: ${positionals[0]}`);
    const config = loadConfig({ mode: 'production', env: ctx.env, cwd: ctx.cwd, requireMasterKeys: false });
    const embedded = config.databaseUrl ? undefined : await startEmbeddedServer({ dataDir: config.dataDir });
    const pool = createPool(config.databaseUrl ?? embedded!.url, 2);
    try {
      const applied = await migrate(pool);
      const names = applied.map((m) => `${String(m.version).padStart(4, '0')}_${m.name}`);
      if (values.json) ctx.stdout.write(JSON.stringify({ applied: names }) + '\n');
      else ctx.stdout.write(names.length === 0 ? 'no pending migrations\n' : names.map((n) => `applied ${n}\n`).join(''));
      return EXIT_OK;
    } finally {
      await pool.end();
      await embedded?.stop();
    }
  },
};
