/**
 * `idbind keys status | rotate --master | --data | --blind-index | resume` (issue 2; DESIGN.md
 * invariant 2). See docs/keys.md for the procedures.
 */
import { parseArgs } from 'node:util';
import { openHub } from '../hub.ts';
import { addKeyVersion, completeKeyWork, keyStatus, retirementGraceLeft, rotateMasterKey } from '../keys/key-rotation-service.ts';
import { KeyRingError } from '../kernel/crypto/key-ring.ts';
import { nameRuleUpgradeNotice } from '../registry/name-match.ts';
import { createProgressBar, formatCount } from './progress.ts';
import { EXIT_FAILURE, EXIT_OK, UsageError, type Command } from './command.ts';

const HELP = `Usage:
  idbind keys status [--json]
  idbind keys rotate --master | --data | --blind-index [--no-wait] [--json]
  idbind keys resume [--json]

The key hierarchy: master keys (configuration only: IDBIND_MASTER_KEY, IDBIND_MASTER_KEYS or
IDBIND_MASTER_KEY_FILE) wrap the versioned data keys, which seal personal fields, and the versioned
blind-index keys, which key the lookups.

  status               every key version, its state, what wraps it and how many rows use it
  rotate --master      re-wrap every key under the current master key (the first of
                       IDBIND_MASTER_KEYS="new:<base64>,old:<base64>"); remove the old one after
  rotate --data        a new data key; re-encrypts every sealed record, then retires the old key
  rotate --blind-index a new blind-index key; re-indexes every row (lookups try both versions
                       meanwhile), then retires the old key
  resume               finish an interrupted re-encryption or re-index, and retire unused keys

Options:
  --no-wait     switch the key and leave re-encryption/re-indexing to the server's background task
  --json        machine-readable output
  -h, --help    this help`;

/**
 * What wraps a key version, for the status lines. A retired version's wrapped key is deleted
 * (docs/keys.md): it said "wrapped by" the master key it had, which the operator is told to remove.
 */
function wrapping(k: { state: string; master_key_id: string | null }): string {
  if (k.state === 'retired') return ', destroyed';
  return k.master_key_id ? `, wrapped by ${k.master_key_id}` : '';
}

export const keysCommand: Command = {
  name: 'keys',
  help: HELP,
  async run(args, ctx) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        master: { type: 'boolean' }, data: { type: 'boolean' }, 'blind-index': { type: 'boolean' }, 'no-wait': { type: 'boolean' },
        json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      ctx.stdout.write(HELP + '\n');
      return EXIT_OK;
    }
    const [sub, ...rest] = positionals;
    if (!sub || !['status', 'rotate', 'resume'].includes(sub) || rest.length > 0) throw new UsageError('say status, rotate or resume');
    const which = [values.master && 'master', values.data && 'data', values['blind-index'] && 'blind-index'].filter(Boolean);
    if (sub === 'rotate' && which.length !== 1) throw new UsageError('rotate takes exactly one of --master, --data, --blind-index');
    if (sub !== 'rotate' && which.length > 0) throw new UsageError(`--${which[0]} goes with rotate`);
    const hub = await openHub({ mode: 'production', env: ctx.env, cwd: ctx.cwd, log: (m) => ctx.stderr.write(`warning: ${m}\n`) });
    const out = (human: string, json: unknown) => ctx.stdout.write(values.json ? JSON.stringify(json) + '\n' : human);
    try {
      if (sub === 'status') {
        // The diagnostic still answers when the key ring does not load: a key wrapped by a master
        // key missing from configuration, or by one configured under its id with other bytes (the
        // unwrap fails; both KeyRingError, as for every other command: the configuration itself
        // was read before the ring loads). It shows which, instead of failing before it could.
        let ringError: string | undefined;
        try {
          await hub.ring();
        } catch (e) {
          if (!(e instanceof KeyRingError)) throw e;
          ringError = e.message;
        }
        const s = await keyStatus(hub.pool, hub.config.masterKeys);
        const lines = [
          'master keys:',
          ...s.master_keys.map((m) => `  ${m.id}${m.current ? ' (current)' : ''}${m.configured ? '' : ' NOT CONFIGURED'}: wraps ${m.wraps} key(s)${m.wraps === 0 && !m.current ? ' — may be removed from configuration' : ''}`),
          'data keys:',
          ...s.data_keys.map((k) => `  v${k.version} ${k.state.padEnd(8)} ${formatCount(k.rows)} rows${wrapping(k)}`),
          'blind-index keys:',
          ...s.blind_index_keys.map((k) => `  v${k.version} ${k.state.padEnd(8)} ${formatCount(k.rows)} rows${wrapping(k)}${k.name_rule ? `, name rule ${k.name_rule}` : ''}`),
          `pending: ${formatCount(s.pending.reencrypt_rows)} rows to re-encrypt, ${formatCount(s.pending.reindex_rows)} to re-index`,
        ];
        // What keeps a replaced version although no row needs re-encrypting or re-indexing
        // (keyVersionInUse); it goes by itself once these end or expire (docs/keys.md).
        const held = [
          s.pending.open_codes > 0 && `${formatCount(s.pending.open_codes)} open one-time code(s)`,
          s.pending.open_invitations > 0 && `${formatCount(s.pending.open_invitations)} open official invitation(s)`,
          s.pending.open_carrier_jobs > 0 && `${formatCount(s.pending.open_carrier_jobs)} open carrier job(s)`,
        ].filter(Boolean);
        if (held.length > 0) lines.push(`older versions kept for: ${held.join(', ')}`);
        // A version made before the latest name rule (migration 0030) keeps folding names its way
        // until a rotation re-indexes every row under a new version (docs/keys.md "Name rules").
        const current = s.blind_index_keys.find((k) => k.state === 'current');
        const notice = current?.name_rule ? nameRuleUpgradeNotice(current.name_rule) : undefined;
        if (notice) lines.push(notice);
        if (ringError) {
          lines.push(`error: ${ringError}`);
          // The code README "The CLI" gives a stored key the configured master keys cannot open.
          out(lines.join('\n') + '\n', { ...s, error: { code: 'KEY_RING_UNAVAILABLE', message: ringError } });
          return EXIT_FAILURE;
        }
        out(lines.join('\n') + '\n', s);
        return EXIT_OK;
      }
      if (sub === 'rotate' && values.master) {
        await hub.ring();
        const r = await rotateMasterKey(hub.pool, hub.config.masterKeys);
        out(`re-wrapped ${r.rewrapped} key(s) under ${r.master_key_id}\n`, r);
        return EXIT_OK;
      }
      let version: number | undefined;
      if (sub === 'rotate') {
        await hub.ring();
        version = await addKeyVersion(hub.pool, hub.config.masterKeys[0]!, values.data ? 'data' : 'blind_index');
        if (!values.json) ctx.stdout.write(`${values.data ? 'data' : 'blind-index'} key v${version} is now current\n`);
        if (values['no-wait']) {
          if (values.json) ctx.stdout.write(JSON.stringify({ version, waiting: false }) + '\n');
          return EXIT_OK;
        }
      }
      const ring = await hub.ring({ fresh: true });
      const bar = createProgressBar(ctx.stderr, 'keys');
      const progress = (p: { mode: string; table: string; done: number }) => bar.update(0, 0, `${p.mode} ${p.table}: ${formatCount(p.done)} rows`);
      const result = await completeKeyWork(hub.pool, ring, 'cli', progress);
      // A replaced version is destroyed only once every process has had time to stop writing with
      // it (KEY_RETIRE_GRACE_MS); wait for that, then take a last pass for what they wrote meanwhile.
      const left = await retirementGraceLeft(hub.pool);
      if (left > 0) {
        bar.update(0, 0, `waiting ${Math.ceil(left / 1000)} s for running processes to take the new key before retiring the old one`);
        await new Promise((r) => setTimeout(r, left));
        const last = await completeKeyWork(hub.pool, await hub.ring({ fresh: true }), 'cli', progress);
        result.reencrypted += last.reencrypted;
        result.reindexed += last.reindexed;
        result.retired.push(...last.retired);
      }
      bar.finish();
      out(
        `re-encrypted ${formatCount(result.reencrypted)} and re-indexed ${formatCount(result.reindexed)} rows; retired ${result.retired.map((k) => `${k.purpose} v${k.version}`).join(', ') || 'nothing'}\n`,
        { ...(version !== undefined ? { version } : {}), ...result },
      );
      return EXIT_OK;
    } finally {
      await hub.close();
    }
  },
};
