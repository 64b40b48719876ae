/**
 * `idbind log vkey | generate-key | checkpoint | verify` (issue 5 "Transparency log";
 * docs/tlog.md). Thin: verification is src/tlog/log-client.ts and proof-bundle.ts.
 */
import { parseArgs } from 'node:util';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { openHub } from '../hub.ts';
import { loadConfig } from '../kernel/config/config.ts';
import { DEMO_LOG_KEY_FILE, loadLogKey } from '../tlog/log-service.ts';
import { latestCheckpoint } from '../tlog/log-repository.ts';
import { LogVerificationError, verifyLiveLog } from '../tlog/log-client.ts';
import { verifyProofBundle } from '../tlog/proof-bundle.ts';
import { generateSigningKey, parseSigningKey, parseVerifierKey } from '../tlog/signed-note.ts';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError, type Command, type CommandContext } from './command.ts';

const HELP = `Usage:
  idbind log vkey
  idbind log generate-key --origin ORIGIN [--json]
  idbind log checkpoint [--json]
  idbind log verify --url URL [--vkey KEY] [--state FILE] [--json]
  idbind log verify --proof FILE [--vkey KEY] [--json]

The transparency log of disclosures (C2SP tlog-checkpoint, tlog-tiles, tlog-proof). See docs/tlog.md.

  vkey          the log's verifier key (signed-note vkey), from IDBIND_LOG_KEY or, for a
                demo data directory, IDBIND_DATA_DIR/log-key
  generate-key  a new log signing key named ORIGIN: prints the PRIVATE+KEY string (set it as
                IDBIND_LOG_KEY; keep it secret) and its vkey. A new key is a new origin
  checkpoint    the latest signed checkpoint in the database
  verify --url  checks a live log: the checkpoint's signature (with --vkey, else the key the
                log publishes at /log/vkey, pinned per origin after the first run), its root
                hash against the tiles, and its consistency with the last checkpoint seen for
                that origin, kept in --state (default ~/.idbind-log-state.json)
  verify --proof
                checks a proof bundle (.tlog-proof) offline: the checkpoint's signature, the
                entry's inclusion proof, and the opening (salt and record) against the entry's
                commitment. Without --vkey, the key of the local hub (as for vkey)

Options:
  --url URL       the hub (https://hub.example) or its log prefix (https://hub.example/log)
  --vkey KEY      the log's verifier key, name+hash+base64
  --state FILE    where verify --url remembers the last checkpoint per origin
  --json          machine-readable output
  -h, --help      this help

Exit status: 0 verified, 1 verification failure (with the reason), 2 usage error.`;

/** The log key as the hub would load it; a demo data directory's key without generating one. */
function localLogKey(ctx: CommandContext): string {
  const config = loadConfig({ mode: 'production', env: ctx.env, cwd: ctx.cwd, requireMasterKeys: false, warn: () => undefined });
  const demo = !(ctx.env.IDBIND_LOG_KEY ?? '') && existsSync(join(config.dataDir, DEMO_LOG_KEY_FILE));
  return loadLogKey({ mode: demo ? 'demo' : 'production', dataDir: config.dataDir, publicUrl: config.publicUrl, env: ctx.env });
}

function fail(ctx: CommandContext, message: string): number {
  ctx.stderr.write(`idbind log verify: verification failed: ${message}\n`);
  return EXIT_FAILURE;
}

export const logCommand: Command = {
  name: 'log',
  help: HELP,
  async run(args, ctx) {
    const { values, positionals } = parseArgs({
      args, allowPositionals: true,
      options: {
        url: { type: 'string' }, proof: { type: 'string' }, vkey: { type: 'string' }, state: { type: 'string' }, origin: { type: 'string' },
        json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      },
    });
    const [sub, extra] = positionals;
    if (values.help || !sub) {
      ctx.stdout.write(HELP + '\n');
      return values.help ? EXIT_OK : EXIT_USAGE;
    }
    if (extra !== undefined) throw new UsageError(`unexpected argument: ${extra}`);

    if (sub === 'vkey') {
      ctx.stdout.write(`${parseSigningKey(localLogKey(ctx)).vkey}\n`);
      return EXIT_OK;
    }

    if (sub === 'generate-key') {
      if (!values.origin) throw new UsageError('--origin is required (the public URL without its scheme, e.g. hub.example)');
      let key;
      try {
        key = generateSigningKey(values.origin);
      } catch {
        throw new UsageError('--origin must be a key name: no spaces and no +');
      }
      if (values.json) ctx.stdout.write(JSON.stringify({ origin: values.origin, signing_key: key.skey, vkey: key.vkey }) + '\n');
      else ctx.stdout.write(`IDBIND_LOG_KEY=${key.skey}\nvkey: ${key.vkey}\n`);
      return EXIT_OK;
    }

    if (sub === 'checkpoint') {
      let origin: string | undefined;
      try {
        origin = parseSigningKey(localLogKey(ctx)).name;
      } catch {
        origin = undefined; // no key here: show the latest checkpoint of any origin
      }
      const dataDir = resolve(ctx.cwd, ctx.env.IDBIND_DATA_DIR && ctx.env.IDBIND_DATA_DIR !== '' ? ctx.env.IDBIND_DATA_DIR : 'data');
      const demo = existsSync(join(dataDir, 'demo-master.key'));
      const hub = await openHub({ mode: demo ? 'demo' : 'production', env: ctx.env, cwd: ctx.cwd, requireMasterKeys: false, log: (m) => ctx.stderr.write(`warning: ${m}\n`) });
      try {
        const cp = await latestCheckpoint(hub.pool, origin);
        if (!cp) {
          ctx.stderr.write('idbind log checkpoint: no signed checkpoint yet (the server signs one when it starts)\n');
          return EXIT_FAILURE;
        }
        if (values.json) ctx.stdout.write(JSON.stringify({ origin: cp.origin, size: cp.size, root_hash: cp.root.toString('base64'), created_at: cp.created_at, text: cp.text }) + '\n');
        else ctx.stdout.write(cp.text);
        return EXIT_OK;
      } finally {
        await hub.close();
      }
    }

    if (sub !== 'verify') throw new UsageError(`unknown subcommand '${sub}' (vkey, generate-key, checkpoint, verify)`);
    if ((values.url === undefined) === (values.proof === undefined)) throw new UsageError('give exactly one of --url URL and --proof FILE');

    if (values.proof !== undefined) {
      let vkey = values.vkey;
      if (!vkey) {
        try {
          vkey = parseSigningKey(localLogKey(ctx)).vkey;
        } catch {
          throw new UsageError('--vkey is needed to verify a proof offline (the log publishes it at /log/vkey)');
        }
      }
      let text: string;
      try {
        text = readFileSync(resolve(ctx.cwd, values.proof), 'utf8');
      } catch (e) {
        return fail(ctx, `cannot read ${values.proof}: ${(e as Error).message}`);
      }
      try {
        const v = verifyProofBundle(text, parseVerifierKey(vkey));
        if (values.json) {
          ctx.stdout.write(JSON.stringify({ verified: true, origin: v.checkpoint.origin, size: v.checkpoint.size, index: v.index, entry: v.entry, record: v.opening.record }) + '\n');
        } else {
          ctx.stdout.write(`verified: entry ${v.index} (${v.entry.stage} by ${v.entry.authority} at ${v.entry.timestamp}) is in ${v.checkpoint.origin} at size ${v.checkpoint.size}, `
            + `signed by ${v.verifiedBy.join(', ')}; the opening matches its commitment\nrecord: ${JSON.stringify(v.opening.record)}\n`);
        }
        return EXIT_OK;
      } catch (e) {
        return fail(ctx, (e as Error).message);
      }
    }

    const statePath = resolve(ctx.cwd, values.state ?? join(ctx.env.HOME && ctx.env.HOME !== '' ? ctx.env.HOME : homedir(), '.idbind-log-state.json'));
    try {
      const r = await verifyLiveLog({ url: values.url!, vkey: values.vkey, statePath });
      if (values.json) {
        ctx.stdout.write(JSON.stringify({ verified: true, origin: r.origin, size: r.size, root_hash: r.rootHash, previous_size: r.previous ?? null, vkey: r.vkeySource }) + '\n');
      } else {
        const since = r.previous === undefined ? 'first checkpoint seen for this origin' : `consistent with size ${r.previous} seen before`;
        const trust = r.vkeySource === 'fetched' ? ' (key fetched from the log itself on first use: compare it with a published one, or pass --vkey)' : '';
        ctx.stdout.write(`verified: ${r.origin} at size ${r.size}, root ${r.rootHash}: signature, tiles and ${since}${trust}\n`);
      }
      return EXIT_OK;
    } catch (e) {
      if (e instanceof LogVerificationError) return fail(ctx, e.message);
      throw e;
    }
  },
};
