/**
 * `idbind oidc signing-keys | rotate-signing-key` (issue 4 "JWKS with signing key rotation"). The
 * ID token signing keys are sealed in the database like every secret (src/oidc/signing-keys.ts);
 * a rotation makes a new current key, keeps the old one published as `previous` (tokens it signed
 * still verify) and retires the key that was previous. Running servers notice within seconds.
 */
import { parseArgs } from 'node:util';
import { listSigningKeys, rotateSigningKey } from '../oidc/signing-keys.ts';
import { openCommandHub } from './providers-command.ts';
import { EXIT_OK, UsageError, type Command } from './command.ts';

const HELP = `Usage:
  idbind oidc signing-keys [--json]
  idbind oidc rotate-signing-key [--json]

The OpenID Provider's ID token signing keys (RS256), their private parts sealed in the database.

  signing-keys         every key: kid, algorithm, state and creation time, newest first.
                       current signs; previous is still published in the JWKS (tokens it signed
                       still verify); retired is no longer published
  rotate-signing-key   a new current key; the current one becomes previous, the previous one is
                       retired. Prints the new kid. Running servers switch within seconds.

Options:
  --json        machine-readable output: {"keys": [{"kid", "alg", "state", "created_at"}]} and
                {"kid", "previous"}
  -h, --help    this help

Against a demo data directory (IDBIND_DATA_DIR holding demo-master.key) with no master key set,
the demo's own key is used. See docs/oidc.md.`;

export const oidcCommand: Command = {
  name: 'oidc',
  help: HELP,
  async run(args, ctx) {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
    const [sub, extra] = positionals;
    if (values.help || !sub) {
      ctx.stdout.write(HELP + '\n');
      return values.help ? EXIT_OK : 2;
    }
    if (extra !== undefined) throw new UsageError(`unexpected argument: ${extra}`);
    if (sub !== 'signing-keys' && sub !== 'rotate-signing-key') throw new UsageError(`unknown subcommand '${sub}' (signing-keys, rotate-signing-key)`);
    const hub = await openCommandHub(ctx);
    try {
      if (sub === 'signing-keys') {
        const keys = await listSigningKeys(hub.pool);
        if (values.json) ctx.stdout.write(JSON.stringify({ keys }) + '\n');
        else if (keys.length === 0) ctx.stdout.write('no signing key yet (the server creates the first one when it starts)\n');
        else for (const k of keys) ctx.stdout.write(`${k.kid}  ${k.alg}  ${k.state.padEnd(8)}  ${k.created_at}\n`);
        return EXIT_OK;
      }
      const rotated = await rotateSigningKey(hub.pool, await hub.ring());
      if (values.json) ctx.stdout.write(JSON.stringify(rotated) + '\n');
      else ctx.stdout.write(`new signing key ${rotated.kid} is current${rotated.previous ? `; ${rotated.previous} stays published as previous` : ''}\n`);
      return EXIT_OK;
    } finally {
      await hub.close();
    }
  },
};
