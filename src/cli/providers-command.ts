/**
 * `idbind providers create | list | rotate-key` (issue 3 "Providers"). The API key and webhook
 * secret are printed once, at creation (and a new key at rotation); the hub keeps only a hash of
 * the key and the secret sealed.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { openHub, type Hub } from '../hub.ts';
import { createProvider, findProviderByName, getProvider, listProviders, providerView, rotateApiKey, type LegalProfile, type ProviderKind } from '../providers/provider-service.ts';
import { checkSettings, createOidcClient } from '../oidc/oidc-client-service.ts';
import { EXIT_OK, UsageError, type Command, type CommandContext } from './command.ts';

const HELP = `Usage:
  idbind providers create --name NAME --kind platform|carrier|registrar [--carrier SLUG]
                          [--webhook-url URL] [--profile minimal|statutory]
                          [--verifications-per-minute N] [--sms-per-day N] [--accounts-per-person N]
                          [--redirect-uri URI ...] [--require-par] [--json]
  idbind providers list [--json]
  idbind providers rotate-key (--id ID | --name NAME) [--overlap-seconds N] [--json]

create prints the provider's id, its API key and its webhook secret (Standard Webhooks whsec_...),
shown once; with --json: {"id", "api_key", "webhook_secret"}. A carrier provider is linked to the
carrier of the registries named by --carrier (default: the name in lower case).
--redirect-uri (repeatable) also creates the provider's OpenID client (platforms and registrars;
"Sign in with idbind", docs/oidc.md): https redirect URIs (http on loopback only in demo and test
configuration), client_secret_basic, PAR required with --require-par. Its client_id and client
secret (shown once) are printed too; with --json also "client_id", "client_secret" and "issuer".
rotate-key issues a new API key; the old ones keep working for the overlap (default 86400 s).

Against a demo data directory (IDBIND_DATA_DIR holding demo-master.key) with no master key set,
the demo's own key is used.`;

function int(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`--${name} must be a whole number from 1`);
  return Number(v);
}

/** Opens the hub for a command: with the demo's own master key against a demo data directory. */
export async function openCommandHub(ctx: CommandContext): Promise<Hub> {
  const env = ctx.env;
  const dataDir = resolve(ctx.cwd, env.IDBIND_DATA_DIR && env.IDBIND_DATA_DIR !== '' ? env.IDBIND_DATA_DIR : 'data');
  const hasKey = ['IDBIND_MASTER_KEY', 'IDBIND_MASTER_KEYS', 'IDBIND_MASTER_KEY_FILE'].some((n) => (env[n] ?? '') !== '');
  const demo = !hasKey && existsSync(join(dataDir, 'demo-master.key'));
  return openHub({ mode: demo ? 'demo' : 'production', env, cwd: ctx.cwd, log: (m) => ctx.stderr.write(`warning: ${m}\n`) });
}

export const providersCommand: Command = {
  name: 'providers',
  help: HELP,
  async run(args, ctx) {
    const { values, positionals } = parseArgs({
      args, allowPositionals: true,
      options: {
        name: { type: 'string' }, kind: { type: 'string' }, carrier: { type: 'string' }, 'webhook-url': { type: 'string' }, profile: { type: 'string' },
        'verifications-per-minute': { type: 'string' }, 'sms-per-day': { type: 'string' }, 'accounts-per-person': { type: 'string' },
        'redirect-uri': { type: 'string', multiple: true }, 'require-par': { type: 'boolean' },
        id: { type: 'string' }, 'overlap-seconds': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      },
    });
    const [sub, extra] = positionals;
    if (values.help || !sub) {
      ctx.stdout.write(HELP + '\n');
      return values.help ? EXIT_OK : 2;
    }
    if (extra !== undefined) throw new UsageError(`unexpected argument: ${extra}`);
    if (sub === 'create') {
      if (!values.name) throw new UsageError('--name is required');
      if (!values.kind || !['platform', 'carrier', 'registrar'].includes(values.kind)) throw new UsageError('--kind must be platform, carrier or registrar');
      if (values.profile !== undefined && values.profile !== 'minimal' && values.profile !== 'statutory') throw new UsageError('--profile must be minimal or statutory');
      const limits = {
        verificationsPerMinute: int(values['verifications-per-minute'], 'verifications-per-minute'),
        smsPerDay: int(values['sms-per-day'], 'sms-per-day'),
        accountsPerPerson: int(values['accounts-per-person'], 'accounts-per-person'),
      };
      const redirectUris = values['redirect-uri'];
      if (values['require-par'] && !redirectUris) throw new UsageError('--require-par goes with --redirect-uri');
      if (redirectUris && values.kind === 'carrier') throw new UsageError('--redirect-uri: only platforms and registrars are OpenID clients, not carriers');
      const hub = await openCommandHub(ctx);
      try {
        const oidcOpts = { allowLoopback: hub.config.outboundAllowLoopback, publicUrl: hub.config.publicUrl };
        const oidcInput = redirectUris ? { redirect_uris: redirectUris, require_par: values['require-par'] ?? false } : undefined;
        // The client's settings are checked before the provider is created: a bad redirect URI
        // changes nothing (DESIGN.md invariant 5).
        if (oidcInput) checkSettings(oidcInput, oidcOpts.allowLoopback);
        const created = await createProvider(hub.pool, await hub.ring(), { allowLoopback: hub.config.outboundAllowLoopback }, {
          name: values.name, kind: values.kind as ProviderKind, carrier: values.carrier, webhookUrl: values['webhook-url'],
          legalProfile: values.profile as LegalProfile | undefined, limits,
        });
        const oidc = oidcInput ? await createOidcClient(hub.pool, await hub.ring(), created.provider, oidcInput, oidcOpts) : undefined;
        if (values.json) {
          ctx.stdout.write(JSON.stringify({
            id: created.provider.id, api_key: created.apiKey, webhook_secret: created.webhookSecret,
            ...(oidc ? { client_id: oidc.client_id, client_secret: oidc.client_secret, issuer: oidc.issuer } : {}),
          }) + '\n');
        } else {
          ctx.stdout.write(`provider ${created.provider.name} (${created.provider.kind}) created: ${created.provider.id}\n`);
          ctx.stdout.write(`  API key (shown once):        ${created.apiKey}\n`);
          ctx.stdout.write(`  webhook secret (shown once): ${created.webhookSecret}\n`);
          if (oidc) {
            ctx.stdout.write(`  OpenID client id:            ${oidc.client_id} (issuer ${oidc.issuer})\n`);
            ctx.stdout.write(`  client secret (shown once):  ${oidc.client_secret}\n`);
          }
        }
        return EXIT_OK;
      } finally {
        await hub.close();
      }
    }
    if (sub === 'list') {
      const hub = await openCommandHub(ctx);
      try {
        const all = await listProviders(hub.pool);
        if (values.json) ctx.stdout.write(JSON.stringify({ providers: all.map(providerView) }) + '\n');
        else for (const p of all) ctx.stdout.write(`${p.id}  ${p.kind.padEnd(9)}  ${p.status.padEnd(8)}  ${p.name}${p.carrier ? ` (carrier ${p.carrier})` : ''}\n`);
        return EXIT_OK;
      } finally {
        await hub.close();
      }
    }
    if (sub === 'rotate-key') {
      if (!values.id && !values.name) throw new UsageError('--id or --name is required');
      const overlap = values['overlap-seconds'] === undefined ? undefined : /^\d+$/.test(values['overlap-seconds']) ? Number(values['overlap-seconds']) : NaN;
      if (Number.isNaN(overlap)) throw new UsageError('--overlap-seconds must be a whole number');
      const hub = await openCommandHub(ctx);
      try {
        const provider = values.id ? await getProvider(hub.pool, values.id) : await findProviderByName(hub.pool, values.name!);
        if (!provider) throw new UsageError(`no provider named ${values.name}`);
        const out = await rotateApiKey(hub.pool, provider.id, overlap);
        if (values.json) ctx.stdout.write(JSON.stringify({ id: provider.id, api_key: out.apiKey, previous_keys_expire_at: out.previousExpireAt?.toISOString() ?? null }) + '\n');
        else ctx.stdout.write(`new API key for ${provider.name} (shown once): ${out.apiKey}\nprevious keys expire at ${out.previousExpireAt?.toISOString() ?? '(none live)'}\n`);
        return EXIT_OK;
      } finally {
        await hub.close();
      }
    }
    throw new UsageError(`unknown subcommand '${sub}' (create, list, rotate-key)`);
  },
};
