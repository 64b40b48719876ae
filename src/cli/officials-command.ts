/**
 * `idbind authorities create | list` and `idbind officials create | invite | deactivate | list`
 * (issue 5 "Officials and the authority console"): the regulator's admin manages authorities and
 * officials. An official's invitation link (one-time, 72 hours) is printed at creation and by
 * `invite`; it is the only way to enrol a passkey (a lost passkey gets a new invitation).
 */
import { parseArgs } from 'node:util';
import {
  AUTHORITY_KINDS, createAuthority, createOfficial, deactivateOfficial, inviteAgain, listAuthorities, listOfficials,
  type AuthorityKind, type OfficialRecord,
} from '../officials/official-service.ts';
import { OFFICIAL_ROLES } from '../officials/official-auth.ts';
import { openCommandHub } from './providers-command.ts';
import { EXIT_OK, UsageError, type Command, type CommandContext } from './command.ts';

const AUTHORITIES_HELP = `Usage:
  idbind authorities create --name NAME --kind police|procuracy|court|regulator [--json]
  idbind authorities list [--json]

create prints the authority's id (with --json: {"id", "name", "kind", "created_at"}).`;

const OFFICIALS_HELP = `Usage:
  idbind officials create --authority ID --name NAME --roles requester,approver,auditor,administrator [--json]
    (administrator: the regulator's staff, who use the admin pages with their passkey; only for
    officials of a regulator authority)
  idbind officials invite ID [--json]
  idbind officials deactivate ID [--json]
  idbind officials list [--authority ID] [--json]

create prints the official's id and a one-time invitation link (valid 72 hours) to
\${IDBIND_PUBLIC_URL}/authority/enrol#<token>, where the official enrols a passkey; give it to the
official only. invite issues a new link (a lost passkey, an expired link); earlier unused links
stop working. deactivate ends the official's sessions at once and refuses their passkeys.
With --json, create and invite print {"id", "invitation_url", "invitation_expires_at"}.`;

function officialJson(o: OfficialRecord) {
  return {
    id: o.id, name: o.name, authority: { id: o.authorityId, name: o.authorityName, kind: o.authorityKind }, roles: o.roles, status: o.status,
    passkeys: o.passkeys, created_at: o.createdAt.toISOString(), deactivated_at: o.deactivatedAt?.toISOString() ?? null,
  };
}

async function withHub<T>(ctx: CommandContext, fn: (hub: Awaited<ReturnType<typeof openCommandHub>>) => Promise<T>): Promise<T> {
  const hub = await openCommandHub(ctx);
  try {
    return await fn(hub);
  } finally {
    await hub.close();
  }
}

export const authoritiesCommand: Command = {
  name: 'authorities',
  help: AUTHORITIES_HELP,
  async run(args, ctx) {
    const { values, positionals } = parseArgs({
      args, allowPositionals: true,
      options: { name: { type: 'string' }, kind: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
    const [sub, extra] = positionals;
    if (values.help || !sub) {
      ctx.stdout.write(AUTHORITIES_HELP + '\n');
      return values.help ? EXIT_OK : 2;
    }
    if (extra !== undefined) throw new UsageError(`unexpected argument: ${extra}`);
    if (sub === 'create') {
      if (!values.name?.trim()) throw new UsageError('--name is required');
      if (!values.kind || !(AUTHORITY_KINDS as readonly string[]).includes(values.kind)) throw new UsageError(`--kind must be ${AUTHORITY_KINDS.join(', ')}`);
      const a = await withHub(ctx, (hub) => createAuthority(hub.pool, { name: values.name!, kind: values.kind as AuthorityKind }));
      if (values.json) ctx.stdout.write(JSON.stringify({ id: a.id, name: a.name, kind: a.kind, created_at: a.createdAt.toISOString() }) + '\n');
      else ctx.stdout.write(`authority ${a.name} (${a.kind}) created: ${a.id}\n`);
      return EXIT_OK;
    }
    if (sub === 'list') {
      const all = await withHub(ctx, (hub) => listAuthorities(hub.pool));
      if (values.json) ctx.stdout.write(JSON.stringify({ authorities: all.map((a) => ({ id: a.id, name: a.name, kind: a.kind, created_at: a.createdAt.toISOString() })) }) + '\n');
      else for (const a of all) ctx.stdout.write(`${a.id}  ${a.kind.padEnd(9)}  ${a.name}\n`);
      return EXIT_OK;
    }
    throw new UsageError(`unknown subcommand '${sub}' (create, list)`);
  },
};

export const officialsCommand: Command = {
  name: 'officials',
  help: OFFICIALS_HELP,
  async run(args, ctx) {
    const { values, positionals } = parseArgs({
      args, allowPositionals: true,
      options: {
        authority: { type: 'string' }, name: { type: 'string' }, roles: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      },
    });
    const [sub, id, extra] = positionals;
    if (values.help || !sub) {
      ctx.stdout.write(OFFICIALS_HELP + '\n');
      return values.help ? EXIT_OK : 2;
    }
    if (extra !== undefined) throw new UsageError(`unexpected argument: ${extra}`);
    if (sub === 'create') {
      if (id !== undefined) throw new UsageError(`unexpected argument: ${id}`);
      if (!values.authority) throw new UsageError('--authority is required');
      if (!values.name?.trim()) throw new UsageError('--name is required');
      const roles = (values.roles ?? '').split(',').map((r) => r.trim()).filter((r) => r !== '');
      if (roles.length === 0 || roles.some((r) => !(OFFICIAL_ROLES as readonly string[]).includes(r))) {
        throw new UsageError(`--roles must be a comma-separated list of ${OFFICIAL_ROLES.join(', ')}`);
      }
      const out = await withHub(ctx, async (hub) => createOfficial(hub.pool, await hub.ring(), hub.config.publicUrl, { authorityId: values.authority!, name: values.name!, roles }));
      if (values.json) {
        ctx.stdout.write(JSON.stringify({ id: out.official.id, invitation_url: out.invitation.url, invitation_expires_at: out.invitation.expiresAt.toISOString() }) + '\n');
      } else {
        ctx.stdout.write(`official ${out.official.name} (${out.official.roles.join(', ')}) of ${out.official.authorityName} created: ${out.official.id}\n`);
        ctx.stdout.write(`  invitation link (one use, until ${out.invitation.expiresAt.toISOString()}):\n  ${out.invitation.url}\n`);
      }
      return EXIT_OK;
    }
    if (sub === 'invite' || sub === 'deactivate') {
      if (!id) throw new UsageError(`officials ${sub} needs the official's id`);
      if (sub === 'invite') {
        const out = await withHub(ctx, async (hub) => inviteAgain(hub.pool, await hub.ring(), hub.config.publicUrl, id));
        if (values.json) ctx.stdout.write(JSON.stringify({ id: out.official.id, invitation_url: out.invitation.url, invitation_expires_at: out.invitation.expiresAt.toISOString() }) + '\n');
        else ctx.stdout.write(`new invitation link for ${out.official.name} (one use, until ${out.invitation.expiresAt.toISOString()}; earlier links no longer work):\n  ${out.invitation.url}\n`);
        return EXIT_OK;
      }
      const o = await withHub(ctx, (hub) => deactivateOfficial(hub.pool, id));
      if (values.json) ctx.stdout.write(JSON.stringify(officialJson(o)) + '\n');
      else ctx.stdout.write(`official ${o.name} deactivated at ${o.deactivatedAt?.toISOString() ?? '?'}: sessions ended, passkeys refused\n`);
      return EXIT_OK;
    }
    if (sub === 'list') {
      if (id !== undefined) throw new UsageError(`unexpected argument: ${id}`);
      const all = await withHub(ctx, (hub) => listOfficials(hub.pool, { authorityId: values.authority }));
      if (values.json) ctx.stdout.write(JSON.stringify({ officials: all.map(officialJson) }) + '\n');
      else for (const o of all) ctx.stdout.write(`${o.id}  ${o.status.padEnd(11)}  ${o.roles.join(',').padEnd(26)}  ${o.name} — ${o.authorityName} (${o.passkeys} passkey${o.passkeys === 1 ? '' : 's'})\n`);
      return EXIT_OK;
    }
    throw new UsageError(`unknown subcommand '${sub}' (create, invite, deactivate, list)`);
  },
};
