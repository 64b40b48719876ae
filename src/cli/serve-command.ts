/**
 * `idbind serve [--demo]` (issue 2). Production mode needs master keys and an admin token from
 * configuration and has no demo data and no demo endpoints; `--demo` (what `npm start` runs)
 * generates keys into the data directory and seeds a synthetic registry on first start.
 * Ctrl-C closes the server, then stops the embedded database cleanly.
 */
import { parseArgs } from 'node:util';
import { rmSync, statSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DEMO_SECRET_FILES } from '../kernel/config/config.ts';
import { leaveShutdownSignalsToCaller } from '../kernel/db/embedded-server.ts';
import { HubStartError, openHub } from '../hub.ts';
import { buildServer, demoDataSeeded } from '../server.ts';
import { demoRegistryNeedsSeeding, keepDemoRegistryPrivate, seedDemoRegistry } from '../demo/demo-seed.ts';
import { claimDeploymentMode } from '../demo/deployment-mode.ts';
import { DEMO_NUMBERS_OFFERED, DEMO_PLATFORM_NAMES, DEMO_RELYING_PARTIES, demoEligibleNumbers, ensureDemoPlatforms, type DemoPlatform } from '../demo/demo-platforms.ts';
import { smsTemplateWarning } from '../verification/sms/sms-text.ts';
import { nameRuleUpgradeNotice } from '../registry/name-match.ts';
import { EXIT_OK, UsageError, type Command } from './command.ts';

const HELP = `Usage: idbind serve [--demo] [--host HOST] [--port PORT]

Starts the hub: the HTTP API, the web app, /healthz, /readyz, /metrics, /openapi.json and the API
reference at /docs/api. Without DATABASE_URL it runs its embedded PostgreSQL in the data directory
(IDBIND_DATA_DIR, default ./data).

Options:
  --demo         demo mode: generated keys and admin token in the data directory, a synthetic demo
                 registry on first start, the web app signed in without a token. Never for real data.
  --host HOST    listen address (default IDBIND_HOST or 127.0.0.1)
  --port PORT    listen port (default IDBIND_PORT or 8080; 0 picks a free one)
  -h, --help     this help

Production mode requires IDBIND_MASTER_KEY (or _KEYS / _KEY_FILE) and IDBIND_ADMIN_TOKEN.`;

/** Removes the demo secret files written into `dataDir` after `sinceMs` (by this process's start). */
function removeSecretsGeneratedSince(dataDir: string, sinceMs: number): void {
  for (const name of DEMO_SECRET_FILES) {
    const file = join(dataDir, name);
    try {
      if (statSync(file).mtimeMs >= sinceMs) rmSync(file, { force: true });
    } catch {
      // Not there: nothing to remove.
    }
  }
}

/** Why a listen failed, for the address errors an operator fixes by configuration. */
const LISTEN_FAILURES: Record<string, string> = {
  EADDRINUSE: 'the address is in use (another process holds it; choose another with --port or IDBIND_PORT)',
  EACCES: 'permission denied (a port below 1024 needs privileges; choose another with --port or IDBIND_PORT)',
  EADDRNOTAVAIL: 'no such address on this machine (IDBIND_HOST)',
  ENOTFOUND: 'the host name does not resolve (IDBIND_HOST)',
};

/**
 * A port free on `host` now, for `--port 0` (undefined when none can be had: the listen then
 * reports why). The public URL, built before the listen from IDBIND_HOST and IDBIND_PORT when
 * IDBIND_PUBLIC_URL is unset, names the OpenID issuer and every redirect URI (the demo platforms',
 * the portal's): with the 0 in it they named a port nothing listens on, and the banner's "Sign in
 * with idbind" links failed. Another process may take the port before the listen: that start then
 * fails with EADDRINUSE, saying so, rather than running with a public URL that reaches nothing.
 */
async function freePort(host: string): Promise<number | undefined> {
  const probe = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen({ host, port: 0 }, resolve);
    });
    return (probe.address() as AddressInfo).port;
  } catch {
    return undefined;
  } finally {
    await new Promise((resolve) => probe.close(resolve));
  }
}

/** Listens, or fails with one line naming the address and the setting (issue 2: a clear error). */
async function listen(app: Awaited<ReturnType<typeof buildServer>>, host: string, port: number): Promise<string> {
  try {
    return await app.listen({ host, port });
  } catch (e) {
    const why = LISTEN_FAILURES[String((e as NodeJS.ErrnoException).code)];
    if (why) throw new HubStartError(`cannot listen on ${host}:${port}: ${why}`);
    throw e;
  }
}

export const serveCommand: Command = {
  name: 'serve',
  help: HELP,
  async run(args, ctx) {
    const { values, positionals } = parseArgs({
      args, allowPositionals: true,
      options: { demo: { type: 'boolean' }, host: { type: 'string' }, port: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) {
      ctx.stdout.write(HELP + '\n');
      return EXIT_OK;
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument: ${positionals[0]}`);
    if (values.port !== undefined && !/^\d{1,5}$/.test(values.port)) throw new UsageError('--port must be a number');
    const env: NodeJS.ProcessEnv = { ...ctx.env, ...(values.host ? { IDBIND_HOST: values.host } : {}), ...(values.port ? { IDBIND_PORT: values.port } : {}) };
    if (/^0+$/.test(env.IDBIND_PORT ?? '') && (env.IDBIND_PUBLIC_URL ?? '') === '') {
      const port = await freePort(env.IDBIND_HOST || '127.0.0.1');
      if (port !== undefined) env.IDBIND_PORT = String(port);
    }
    const mode = values.demo ? 'demo' : 'production';
    const log = (m: string) => ctx.stderr.write(`${m}\n`);
    const hub = await openHub({ mode, env, cwd: ctx.cwd, requireAdminToken: true, refuseDemoMasterKey: mode === 'production', log: (m) => log(`warning: ${m}`) });
    // Once per start: an operator's SMS template that can take more than one part costs more per code.
    const smsWarning = smsTemplateWarning(hub.config.sms.template);
    if (smsWarning) log(`warning: ${smsWarning}`);
    let app: Awaited<ReturnType<typeof buildServer>> | undefined;
    try {
      // A database keeps the mode of its first start (migration 0031): a production database
      // served with --demo would get the demo platforms, whose keys the demo prints, and the
      // demo's session endpoint, which hands out the admin token.
      const recorded = await claimDeploymentMode(hub.pool, mode);
      if (recorded === 'production' && mode === 'demo') {
        // The demo's secrets this start generated go too: left behind, they made a production
        // data directory look like a demo's, and the CLI then offered the demo key for it.
        removeSecretsGeneratedSince(hub.config.dataDir, performance.timeOrigin);
        throw new HubStartError('the database is a production one (first served without --demo, or holding registry data or providers without the demo platforms): --demo would add demo platforms and demo endpoints to it; serve it without --demo, or run the demo on a new database');
      }
      if (mode === 'production') {
        // The demo platforms' API keys and client secrets are in the demo's files and were printed
        // at each demo start: a database that holds them is a demo's, whatever its master key now.
        const demo = await hub.pool.query<{ name: string }>('SELECT name FROM providers WHERE name = ANY($1::text[]) ORDER BY name', [DEMO_PLATFORM_NAMES]);
        if (demo.rows.length > 0) {
          throw new HubStartError(`the database holds the demo platforms (${demo.rows.map((r) => r.name).join(', ')}): it was seeded by \`idbind serve --demo\`, and production mode does not serve demo data; run the demo, or use a new database`);
        }
        if (recorded === 'demo') {
          throw new HubStartError('the database was first served by `idbind serve --demo`: production mode does not serve a demo\'s data; run the demo, or use a new database');
        }
      }
      const ring = await hub.ring();
      // Once per start, as `idbind keys status` says it: on an older name rule some correctly
      // registered holders stay HOLDER_DATA_MISMATCH until a blind-index rotation (docs/keys.md).
      const nameRuleNotice = nameRuleUpgradeNotice(ring.currentBlindIndex.nameRule);
      if (nameRuleNotice) log(`warning: ${nameRuleNotice}`);
      if (mode === 'demo' && (await demoRegistryNeedsSeeding(hub.pool, hub.config.dataDir))) {
        await seedDemoRegistry({ pool: hub.pool, ring, dataDir: hub.config.dataDir, workers: hub.config.workers, log });
      }
      // A data directory seeded by an earlier version kept its demo registry files readable by all.
      if (mode === 'demo') keepDemoRegistryPrivate(hub.config.dataDir);
      let platforms: DemoPlatform[] = [];
      let numbers: string[] = [];
      if (mode === 'demo') {
        platforms = await ensureDemoPlatforms(hub.pool, ring, hub.config.dataDir, hub.config.publicUrl);
        numbers = await demoEligibleNumbers(hub.pool, ring, DEMO_NUMBERS_OFFERED);
      }
      app = await buildServer(hub, { logger: { level: hub.config.logLevel } });
      const address = await listen(app, hub.config.host, hub.config.port);
      // The demo's data is all there when the banner says the hub runs (server.ts demoDataSeeded).
      await demoDataSeeded(app);
      const url = hub.config.publicUrl.endsWith(`:${hub.config.port}`) && hub.config.port === 0 ? address : hub.config.publicUrl;
      ctx.stdout.write(`idbind ${mode === 'demo' ? '(demo mode) ' : ''}is running\n  web app:       ${url}/\n  API reference: ${url}/docs/api\n  OpenAPI:       ${url}/openapi.json\n`);
      if (platforms.length > 0) {
        // Demo only: synthetic platforms and synthetic numbers, for the README's walkthrough.
        ctx.stdout.write('demo platforms (API keys for the walkthrough in README.md):\n');
        for (const p of platforms) ctx.stdout.write(`  ${p.name.padEnd(15)} ${p.kind.padEnd(9)} ${p.api_key}\n`);
        const rps = DEMO_RELYING_PARTIES.filter((d) => platforms.some((p) => p.name === d.name && p.oidc_client_id));
        if (rps.length > 0) ctx.stdout.write(`"Sign in with idbind" as a demo platform: ${rps.map((d) => `${url}/demo/rp/${d.slug}/start`).join(' , ')}\n`);
        // The outbox exists only without a gateway (IDBIND_SMS_URL sends the codes for real).
        const codesAt = hub.config.sms.url ? 'codes go to the SMS gateway of IDBIND_SMS_URL' : `codes appear at ${url}/v1/dev/sms-outbox?to=NUMBER`;
        if (numbers.length > 0) ctx.stdout.write(`demo numbers that can verify: ${numbers.join(', ')} (${codesAt})\n`);
        // Where the generated admin token is (never the token: a terminal's scrollback and a CI log
        // keep what is printed), for the admin API walkthroughs (docs/carriers.md).
        if ((ctx.env.IDBIND_ADMIN_TOKEN ?? '') === '') ctx.stdout.write(`admin API token (Authorization: Bearer ...): in ${join(hub.config.dataDir, 'demo-admin.token')}\n`);
      }
      ctx.stdout.write('Press Ctrl-C to stop.\n');
    } catch (e) {
      await app?.close();
      await hub.close();
      throw e;
    }
    const running = app;
    // A second Ctrl-C (or SIGTERM) while stopping ends the process at once (exit status 130): the
    // embedded server, in a process group of its own (embedded-server.ts), is then sent its fast
    // shutdown as this process exits, instead of outliving it as Node's default action would let it.
    const now = () => {
      ctx.stderr.write('stopping at once\n');
      process.exit(130);
    };
    await new Promise<void>((resolve) => {
      const stop = () => {
        // The second signal's listeners first: with no listener left, even for an instant, Node
        // restores the default action, and a second Ctrl-C then would kill the process outright.
        process.once('SIGINT', now);
        process.once('SIGTERM', now);
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        resolve();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      // The embedded server is stopped by hub.close() below, after the server's last writes.
      leaveShutdownSignalsToCaller();
    });
    ctx.stderr.write('stopping...\n');
    await running.close();
    await hub.close();
    process.off('SIGINT', now);
    process.off('SIGTERM', now);
    ctx.stderr.write('stopped\n');
    return EXIT_OK;
  },
};
