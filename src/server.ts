/**
 * The HTTP server (DESIGN.md "HTTP"): Fastify with TypeBox schemas, OpenAPI 3.1 generated from
 * them, RFC 9457 errors, health, readiness, metrics, the admin API and the web app. Background
 * work (reconciliation runs started over the API, pending key re-encryption and re-indexing) is
 * tracked so that closing the server waits for it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance } from 'fastify';
import pg from 'pg';
import fastifySwagger from '@fastify/swagger';
import fastifyStatic from '@fastify/static';
import type { Hub } from './hub.ts';
import { MigrationError, migrationStatus } from './kernel/db/migrations.ts';
import { adminOrStaffGuard } from './officials/staff-admin-guard.ts';
import { errorHandler, notFoundHandler, sendProblem, problemOf } from './kernel/http/problem.ts';
import { HTTP_ERRORS } from './kernel/http/http-errors.ts';
import { metricsGuard } from './kernel/http/admin-auth.ts';
import { renderApiReference } from './kernel/http/api-reference.ts';
import { createMetrics } from './kernel/metrics.ts';
import { registryRoutes } from './registry/registry-routes.ts';
import { completeKeyWork, hasPendingKeyWork } from './keys/key-rotation-service.ts';
import { decorateProviderRequest } from './providers/provider-auth.ts';
import { ProviderAuthCache } from './providers/provider-auth-cache.ts';
import { attachAuthCache, type Provider } from './providers/provider-service.ts';
import { providerAdminRoutes, providerSelfRoutes } from './providers/provider-routes.ts';
import { bindingRoutes } from './bindings/binding-routes.ts';
import { AccountStatusCache } from './bindings/account-status-cache.ts';
import { devSmsOutboxRoutes, verificationAdminRoutes, verificationRoutes, verificationStatsRoutes } from './verification/verification-routes.ts';
import type { VerificationDeps } from './verification/verification-service.ts';
import { httpSmsGateway, type SmsGateway } from './verification/sms/sms-gateway.ts';
import { outboxSmsGateway } from './verification/sms/sms-outbox.ts';
import { runVerificationMaintenance } from './verification/verification-maintenance.ts';
import { VerificationStatsBuffer } from './verification/verification-stats-buffer.ts';
import { DEMO_NUMBERS_OFFERED, demoEligibleNumbers, ensureDemoPlatforms } from './demo/demo-platforms.ts';
import { carrierRoutes } from './carriers/carrier-routes.ts';
import { startWebhookDispatcher } from './events/webhook-dispatcher.ts';
import { webhookRoutes } from './events/webhook-routes.ts';
import { oidcClientRoutes } from './oidc/oidc-client-routes.ts';
import { oidcProviderHolder } from './oidc/oidc-provider.ts';
import { mountOidcProvider } from './kernel/http/mount-oidc-provider.ts';
import { requestLogRecord } from './kernel/http/request-log.ts';
import { markOptionalBodies } from './kernel/http/optional-body.ts';
import { hostedFlowRoutes } from './oidc/hosted-flow-routes.ts';
import { endMinoritiesDaily } from './bindings/minor-accounts.ts';
import { demoRelyingPartyRoutes } from './demo/demo-relying-party.ts';
import { officialRoutes } from './officials/official-routes.ts';
import { ensureDemoAuthorities } from './officials/demo-officials.ts';
import { checkLogAgainstSavedCheckpoint, createTransparencyLog, loadLogKey, loadLogWitnesses, type TransparencyLog } from './tlog/log-service.ts';
import { LogError } from './tlog/log-errors.ts';
import { logRoutes } from './tlog/log-routes.ts';
import { disclosureRoutes } from './disclosure/disclosure-routes.ts';
import { transparencyRoutes } from './disclosure/transparency-report.ts';
import { disclosuresOfPerson, runDisclosureMaintenance, sealedRequestIds, type DisclosureDeps } from './disclosure/disclosure-service.ts';
import { ensureDemoDisclosure } from './disclosure/demo-disclosure.ts';
import { findProviderByName } from './providers/provider-repository.ts';
import { citizenRoutes } from './citizen/citizen-routes.ts';
import { ensurePortalClient } from './citizen/portal-client.ts';
import { pruneExpiredOidcState } from './oidc/oidc-adapter.ts';
import { createEidBroker, EID_CALLBACK_PATH, pruneEidLogins } from './oidc/eid/eid-broker.ts';

export const VERSION = '0.1.0';
export const WEB_DIST = fileURLToPath(new URL('../web/dist/', import.meta.url));

export interface ServerOptions {
  /** pino logger options, or false for none (tests); `stream`: where the log goes (default stdout). */
  logger?: boolean | { level: string; stream?: { write(line: string): void } };
  /** How often to look for pending key work, in ms (0: never). */
  keyWorkIntervalMs?: number;
  /** How often to expire verifications, prune counters and check for SMS pumping, in ms (0: never). */
  maintenanceIntervalMs?: number;
  /**
   * How often the webhook dispatcher looks for due deliveries without a kick, in ms (default
   * 1000; binding changes made by this process kick it at once). `false`: no dispatcher in this
   * process (another process delivers).
   */
  webhookIntervalMs?: number | false;
}

/** The SMS gateway of this configuration: HTTP when configured, the outbox in demo mode, else none. */
function smsGatewayOf(hub: Hub): SmsGateway | undefined {
  const sms = hub.config.sms;
  if (sms.url) return httpSmsGateway({ ...sms, url: sms.url }, { allowLoopback: hub.config.outboundAllowLoopback });
  if (hub.config.mode === 'demo') return outboxSmsGateway(hub.pool, () => hub.ring());
  return undefined;
}

/**
 * The transparency log of this hub (issue 5), checked against the checkpoint saved outside the
 * database: a rolled-back or inconsistent database stops the start (LOG_ROLLED_BACK,
 * LOG_INCONSISTENT). Without a signing key in production there is no log, and so no disclosure
 * can be filed or released (fail closed; a warning says so).
 */
async function openTransparencyLog(hub: Hub, warn: (message: string) => void): Promise<TransparencyLog | undefined> {
  const env = hub.config.transparencyLog;
  let signingKey: string;
  try {
    signingKey = loadLogKey({ mode: hub.config.mode, dataDir: hub.config.dataDir, publicUrl: hub.config.publicUrl, env });
  } catch (e) {
    if (e instanceof LogError && e.code === 'LOG_KEY_MISSING') {
      warn('no transparency log key (IDBIND_LOG_KEY): disclosure requests cannot be filed or released');
      return undefined;
    }
    throw e;
  }
  const log = createTransparencyLog({ pool: hub.pool, dataDir: hub.config.dataDir, signingKey, witnesses: loadLogWitnesses(env) });
  await checkLogAgainstSavedCheckpoint(hub.pool, hub.config.dataDir, log.vkey);
  // A checkpoint from the start (the empty tree of a new log), so /log/checkpoint always answers.
  await log.sign();
  return log;
}

/** IDBIND_TRUST_PROXY as Fastify takes it: a hop count trusts that many hops nearest the hub (proxy-addr's `i < n`). */
function trustProxyOption(trust: Hub['config']['trustProxy']): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (trust === false) return false;
  if (typeof trust === 'number') return (_address, hop) => hop < trust;
  return [...trust];
}

// Never the web app's page. /demo/ and /dev/ are demo mode's (demo relying parties, test eID):
// outside it they must be absent, a 404, not a page that looks like them (issue 2).
const API_PREFIXES = ['/v1/', '/oidc/', '/log/', '/openapi.json', '/docs/', '/healthz', '/readyz', '/metrics', '/demo/', '/dev/'];

const demoSeedings = new WeakMap<FastifyInstance, Promise<void>>();

/**
 * Settles once a demo server's background seeding (the demo officials and its one completed
 * disclosure) has ended, seeded or warned about; at once outside demo mode. `idbind serve --demo`
 * waits for it before its banner says the hub runs: the seeding binds a person of the registry
 * and notifies them, and the authority console, the log and the report are empty until it ends.
 */
export function demoDataSeeded(app: FastifyInstance): Promise<void> {
  return demoSeedings.get(app) ?? Promise.resolve();
}

export async function buildServer(hub: Hub, options: ServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger === undefined || options.logger === false
      ? false
      : {
        ...(typeof options.logger === 'object' ? options.logger : {}),
        redact: ['req.headers.authorization', 'req.headers.cookie'],
        // No query value reaches the log, on any route: `?to=+84...` is a phone number.
        serializers: { req: requestLogRecord },
      },
    bodyLimit: 1024 * 1024,
    // Issue 3: an account ref is up to 128 characters, and GET/DELETE /v1/accounts/{ref} must take
    // every one (the router's default is 100, counted before percent-decoding: a ':' may come as
    // %3A, three characters); a longer one is bad input, refused by the route's schema as a problem.
    routerOptions: { maxParamLength: 3 * 128 },
    // The router's own refusals (a malformed URL, a parameter still too long) as problems too.
    frameworkErrors: (error, request, reply) => errorHandler(error, request, reply),
    // The client's address (the per-IP rate limit) comes from X-Forwarded-For only through the
    // proxies the operator names (IDBIND_TRUST_PROXY); otherwise it is the TCP peer.
    trustProxy: trustProxyOption(hub.config.trustProxy),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true } },
  });
  const metrics = createMetrics();
  const pending = new Set<Promise<unknown>>();
  const track = (work: Promise<unknown>) => {
    const p = work.catch(() => undefined).finally(() => pending.delete(p));
    pending.add(p);
  };

  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]!;
    const wantsPage = request.method === 'GET' && !API_PREFIXES.some((p) => path.startsWith(p)) && existsSync(`${WEB_DIST}index.html`);
    if (wantsPage) return reply.type('text/html; charset=utf-8').send(readFileSync(`${WEB_DIST}index.html`));
    return notFoundHandler(request, reply);
  });
  // The labelled series of each (method, route, status), looked up once: prom-client otherwise
  // builds and hashes the label set on every observation, a few per cent of a status read's CPU.
  const durationSeries = new Map<string, { observe(seconds: number): void }>();
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const key = `${request.method} ${reply.statusCode} ${route}`;
    let series = durationSeries.get(key);
    if (!series) {
      series = metrics.httpDuration.labels({ method: request.method, route, status: String(reply.statusCode) });
      durationSeries.set(key, series);
    }
    series.observe(reply.elapsedTime / 1000);
    done();
  });

  await app.register(fastifySwagger, {
    // Routes whose body may be left out say so (optional-body.ts); the plugin marks every body required.
    transformObject: markOptionalBodies,
    openapi: {
      openapi: '3.1.0',
      info: { title: 'idbind', version: VERSION, description: 'Identity-verification hub: registries, junk-SIM reconciliation.' },
      servers: [{ url: hub.config.publicUrl }],
      components: {
        securitySchemes: {
          adminToken: { type: 'http', scheme: 'bearer', description: 'IDBIND_ADMIN_TOKEN' },
          apiKey: { type: 'http', scheme: 'bearer', description: "A provider's API key (idbk_...)" },
          officialSession: { type: 'apiKey', in: 'cookie', name: 'idbind_official', description: 'An official signed in with a passkey (authority console)' },
          citizenSession: { type: 'apiKey', in: 'cookie', name: 'idbind_citizen', description: 'A person signed in to the citizen portal through the hosted verification' },
        },
      },
    },
  });

  app.get('/healthz', { schema: { tags: ['operations'], summary: 'Liveness' } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { tags: ['operations'], summary: 'Readiness: database reachable, migrations applied' } }, async (_req, reply) => {
    try {
      const status = await migrationStatus(hub.pool);
      if (status.pending.length > 0) return sendProblem(reply, problemOf('NOT_READY', 503, HTTP_ERRORS.NOT_READY.title, `${status.pending.length} migration(s) pending`));
      return { status: 'ready' };
    } catch (e) {
      // A schema changed or migrated by a newer idbind is a reason of its own, not an unreachable database.
      const detail = e instanceof MigrationError ? e.message : 'database unreachable';
      return sendProblem(reply, problemOf('NOT_READY', 503, HTTP_ERRORS.NOT_READY.title, detail));
    }
  });
  app.get('/metrics', {
    schema: { tags: ['operations'], summary: 'Prometheus metrics (outside demo mode: bearer IDBIND_METRICS_TOKEN or the admin token)' },
    onRequest: metricsGuard(hub.config.mode, hub.config.metricsToken, hub.config.adminToken),
  }, async (_req, reply) => {
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  app.get('/docs/api', { schema: { hide: true } }, async (_req, reply) =>
    reply.type('text/html; charset=utf-8').send(renderApiReference(app.swagger() as unknown as Parameters<typeof renderApiReference>[0])));
  app.get('/v1/meta', { schema: { tags: ['operations'], summary: 'Mode and version of the hub' } }, async () => ({ mode: hub.config.mode, version: VERSION }));

  if (hub.config.mode === 'demo') {
    // Demo only: the web app signs in to the admin API without asking. Never registered in production.
    app.get('/v1/demo/session', {
      schema: {
        tags: ['demo'], summary: 'Demo mode only: the admin token, the demo platforms and numbers for the web app',
        response: {
          200: {
            type: 'object',
            properties: {
              admin_token: { type: 'string' },
              platforms: {
                type: 'array',
                items: { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' }, kind: { type: 'string' }, profile: { type: 'string' }, api_key: { type: 'string' } } },
              },
              sample_numbers: { type: 'array', items: { type: 'string' } },
            },
          },
        },
      },
    }, async () => {
      const ring = await hub.ring();
      const platforms = await ensureDemoPlatforms(hub.pool, ring, hub.config.dataDir, hub.config.publicUrl);
      await seedDemoDisclosure();
      return {
        admin_token: hub.config.adminToken,
        platforms: platforms.map((p) => ({ id: p.id, name: p.name, kind: p.kind, profile: p.profile, api_key: p.api_key })),
        sample_numbers: await demoEligibleNumbers(hub.pool, ring, DEMO_NUMBERS_OFFERED),
      };
    });
  }

  if (hub.config.mode === 'demo') {
    // Demo only: Sen Social and Lotus Video sign people in through the hub (/demo/rp/<slug>/start).
    await app.register(async (scope) => demoRelyingPartyRoutes(scope, { pool: hub.pool, ring: () => hub.ring(), publicUrl: hub.config.publicUrl, dataDir: hub.config.dataDir }));
  }

  // The OpenID Provider at ${publicUrl}/oidc (issue 4), rebuilt after a signing-key rotation.
  const oidcProvider = oidcProviderHolder({ pool: hub.pool, ring: () => hub.ring(), publicUrl: hub.config.publicUrl });
  const oidcHandlers = new WeakMap<object, ReturnType<Awaited<ReturnType<typeof oidcProvider>>['callback']>>();
  mountOidcProvider(app, '/oidc', async () => {
    const provider = await oidcProvider();
    let handler = oidcHandlers.get(provider);
    if (!handler) oidcHandlers.set(provider, (handler = provider.callback()));
    return handler;
  });

  decorateProviderRequest(app);
  // The cache of authenticated API keys (provider-auth-cache.ts; docs/status-cache.md): its own
  // LISTEN connection, kept correct by migration 0026's notifications (a key rotated or a
  // provider disabled by another process, the CLI included), bypassed while that connection is
  // down. Only where LISTEN works, which IDBIND_STATUS_CACHE_SIZE=0 says it may not (a pooler in
  // transaction mode): then every provider call authenticates at the database.
  if (hub.config.statusCache.size > 0) {
    const authCache = new ProviderAuthCache<Provider>({
      newClient: () => new pg.Client({ connectionString: hub.pool.options.connectionString, application_name: `idbind-auth-${process.pid}`, keepAlive: true }),
      warn: (message, fields) => app.log.warn(fields ?? {}, message),
    });
    attachAuthCache(hub.pool, authCache);
    authCache.start();
    app.addHook('onClose', async () => authCache.close());
    await authCache.waitUntilListening(2_000);
  }
  const outbound = { allowLoopback: hub.config.outboundAllowLoopback };
  // The admin API: the admin token (automation, the CLI) or a regulator administrator's passkey session (issue 5).
  const admin = adminOrStaffGuard(hub.config.adminToken, { pool: hub.pool });
  await app.register(async (scope) => {
    await providerAdminRoutes(scope, { pool: hub.pool, ring: () => hub.ring(), outbound, adminGuard: admin });
  });
  await app.register(async (scope) => {
    await providerSelfRoutes(scope, { pool: hub.pool, ring: () => hub.ring(), outbound, adminGuard: admin });
  });
  const dispatcher = options.webhookIntervalMs === false
    ? undefined
    : startWebhookDispatcher({
      pool: hub.pool, ring: () => hub.ring(), outbound, log: app.log, intervalMs: options.webhookIntervalMs ?? 1000,
      concurrency: hub.config.webhooks.concurrency, perProviderConcurrency: hub.config.webhooks.perProviderConcurrency,
    });
  if (dispatcher) app.addHook('onClose', async () => dispatcher.stop());
  // The account status cache (issue 3 benchmarks; docs/status-cache.md): its own LISTEN
  // connection to the pool's database, kept correct by migration 0014's notifications, bypassed
  // while that connection is down. Size 0 (IDBIND_STATUS_CACHE_SIZE) means none.
  const statusCache = hub.config.statusCache.size > 0
    ? new AccountStatusCache({
      maxEntries: hub.config.statusCache.size,
      maxAgeMs: hub.config.statusCache.maxAgeSeconds * 1000,
      newClient: () => new pg.Client({ connectionString: hub.pool.options.connectionString, application_name: `idbind-${process.pid}`, keepAlive: true }),
      // Warm start after each (re)connect (IDBIND_STATUS_CACHE_PREFILL), on the pool, a batch at a time.
      ...(hub.config.statusCache.prefill ? { prefill: { db: hub.pool } } : {}),
      metrics: { reads: metrics.statusCacheReads, invalidations: metrics.statusCacheInvalidations },
      // Another process's binding changes (an import, another hub) wake this one's webhooks
      // within 50 ms, one claim for any number of changes meanwhile.
      onChange: () => dispatcher?.kickSoon(),
      warn: (message, fields) => app.log.warn(fields ?? {}, message),
      info: (message, fields) => app.log.info(fields ?? {}, message),
    })
    : undefined;
  if (statusCache) {
    statusCache.start();
    metrics.setStatusCacheSource(statusCache);
    app.addHook('onClose', async () => statusCache.close());
    // Not required (reads bypass it until then), but a hub that starts listening at once serves its first reads from memory sooner.
    await statusCache.waitUntilListening(2_000);
  }
  // After a binding this process committed: kick the webhooks, and let the cache apply the
  // change's notification before this process serves that account again (read your writes).
  const bindingChanged = () => {
    dispatcher?.kick();
    void statusCache?.sync();
  };
  await app.register(async (scope) => oidcClientRoutes(scope, { pool: hub.pool, ring: () => hub.ring(), publicUrl: hub.config.publicUrl, allowLoopback: hub.config.outboundAllowLoopback }));
  await app.register(async (scope) => webhookRoutes(scope, { pool: hub.pool, ring: () => hub.ring(), dispatcher: { kick: () => dispatcher?.kick() } }));
  const stats = new VerificationStatsBuffer(hub.pool);
  const statsTimer = setInterval(() => track(stats.flush().catch((e: unknown) => app.log.warn({ err: { name: (e as Error).name } }, 'statistics not written; will retry'))), 1000);
  statsTimer.unref();
  app.addHook('onClose', async () => {
    clearInterval(statsTimer);
    // The embedded PostgreSQL runs in a process group of its own and is stopped after this
    // (embedded-server.ts spawnPostmaster), so a Ctrl-C no longer stops it first; a database that
    // is gone anyway (an external server shut down with the hub) loses the last second of counts,
    // which must not turn a clean stop into a failure.
    await stats.flush().catch((e: unknown) => app.log.warn({ err: { name: (e as Error).name } }, 'the last statistics were not written'));
  });
  const verification: VerificationDeps = {
    pool: hub.pool, ring: () => hub.ring(), config: hub.config.verification, smsTemplate: hub.config.sms.template, sms: smsGatewayOf(hub),
    metrics, stats, onBindingChange: () => bindingChanged(), warn: (message, fields) => app.log.warn(fields, message),
  };
  await app.register(async (scope) => verificationRoutes(scope, verification));

  // Officials, the transparency log, disclosure requests, the report and the person's own view (issue 5).
  const transparencyLog = await openTransparencyLog(hub, (m) => app.log.warn(m));
  const disclosure: DisclosureDeps = {
    pool: hub.pool, ring: () => hub.ring(), log: transparencyLog, sms: verification.sms, config: hub.config.disclosure,
    warn: (message, fields) => app.log.warn(fields, message),
  };
  await app.register(async (scope) => officialRoutes(scope, {
    pool: hub.pool, ring: () => hub.ring(), publicUrl: hub.config.publicUrl, adminGuard: admin, mode: hub.config.mode,
  }));
  if (transparencyLog) await app.register(async (scope) => logRoutes(scope, { log: transparencyLog, pool: hub.pool, adminGuard: admin }));
  await app.register(async (scope) => disclosureRoutes(scope, disclosure));
  await app.register(async (scope) => transparencyRoutes(scope, { pool: hub.pool, log: transparencyLog }));
  try {
    await ensurePortalClient(hub.pool, await hub.ring(), hub.config.publicUrl);
  } catch (e) {
    // A public URL that cannot be a redirect URI (plain http off loopback) leaves the portal's sign-in unavailable, not the hub.
    app.log.warn({ err: { name: (e as Error).name, message: (e as Error).message } }, 'the citizen portal cannot sign people in with this public URL');
  }
  await app.register(async (scope) => citizenRoutes(scope, {
    pool: hub.pool, ring: () => hub.ring(), publicUrl: hub.config.publicUrl,
    disclosures: (personId) => disclosuresOfPerson(disclosure, personId), sealedDisclosures: (personId) => sealedRequestIds(hub.pool, personId),
  }));
  /** Demo only: the demo authorities and officials and one completed disclosure, once the demo platforms exist. */
  async function seedDemoDisclosure(): Promise<void> {
    if (hub.config.mode !== 'demo' || !(await findProviderByName(hub.pool, 'Sen Social'))) return;
    const ring = await hub.ring();
    const officials = await ensureDemoAuthorities(hub.pool, ring, hub.config.publicUrl);
    if (transparencyLog) await ensureDemoDisclosure(disclosure, ring, officials);
  }
  if (hub.config.mode === 'demo') {
    const seeding = seedDemoDisclosure().catch((e: unknown) => app.log.warn({ err: { name: (e as Error).name } }, 'demo disclosure not seeded'));
    track(seeding);
    demoSeedings.set(app, seeding);
  }
  // The hosted verification pages' API and the national eID broker's callback (issue 4).
  const eid = hub.config.eid
    ? createEidBroker({ pool: hub.pool, ring: () => hub.ring(), config: hub.config.eid, redirectUri: `${hub.config.publicUrl}${EID_CALLBACK_PATH}` })
    : undefined;
  await app.register(async (scope) => hostedFlowRoutes(scope, {
    pool: hub.pool, ring: () => hub.ring(), verification, provider: oidcProvider, eid, onBindingChange: () => bindingChanged(),
  }));
  if (hub.config.mode === 'demo' && hub.config.eid?.demo) {
    // Demo only, loaded only here: the local test eID with test persons (src/demo/test-eid/).
    const { registerDemoEid } = await import('./demo/test-eid/register-demo-eid.ts');
    registerDemoEid(app, { pool: hub.pool, ring: () => hub.ring(), config: hub.config });
  }
  await app.register(async (scope) => bindingRoutes(scope, { pool: hub.pool, onBindingChange: () => bindingChanged(), statusCache }));
  await app.register(async (scope) => verificationStatsRoutes(scope, { pool: hub.pool, stats }));
  await app.register(async (scope) => {
    await carrierRoutes(scope, { pool: hub.pool, ring: () => hub.ring(), config: hub.config, track });
  });
  await app.register(async (scope) => verificationAdminRoutes(scope, { pool: hub.pool, stats, adminGuard: admin }));
  if (hub.config.mode === 'demo' && verification.sms?.kind === 'outbox') {
    await app.register(async (scope) => devSmsOutboxRoutes(scope, { pool: hub.pool, ring: () => hub.ring() }));
  }
  await app.register(async (scope) => {
    await registryRoutes(scope, { pool: hub.pool, ring: () => hub.ring(), adminGuard: admin, track, keepRuns: hub.config.reconciliationKeepRuns });
  });

  if (existsSync(WEB_DIST)) {
    await app.register(fastifyStatic, { root: WEB_DIST, wildcard: false, index: ['index.html'] });
  }

  // Pending key work (after a `keys rotate --no-wait`, or an interrupted rotation) continues here.
  let keyWork: Promise<unknown> | undefined;
  const interval = options.keyWorkIntervalMs ?? 30_000;
  const timer = interval > 0
    ? setInterval(() => {
      if (keyWork) return;
      keyWork = (async () => {
        if (await hasPendingKeyWork(hub.pool)) await completeKeyWork(hub.pool, await hub.ring(), 'server');
      })().catch((e: unknown) => app.log.warn({ err: { name: (e as Error).name } }, 'key work failed; will retry')).finally(() => {
        keyWork = undefined;
      });
      track(keyWork);
    }, interval)
    : undefined;
  timer?.unref();

  const maintenanceInterval = options.maintenanceIntervalMs ?? 60_000;
  let maintenance: Promise<unknown> | undefined;
  const maintenanceTimer = maintenanceInterval > 0
    ? setInterval(() => {
      if (maintenance) return;
      maintenance = stats.flush().then(() => runVerificationMaintenance(hub.pool, metrics, (msg, fields) => app.log.warn(fields, msg)))
        .then(() => endMinoritiesDaily(hub.pool, () => hub.ring()))
        .then(async () => {
          // Sign what was appended and not yet signed, then release, unseal and expire what is due.
          if (transparencyLog) await transparencyLog.sign();
          await runDisclosureMaintenance(disclosure);
        })
        .then(() => Promise.all([pruneExpiredOidcState(hub.pool), pruneEidLogins(hub.pool)]))
        .catch((e: unknown) => app.log.warn({ err: { name: (e as Error).name } }, 'verification maintenance failed; will retry'))
        .finally(() => {
          maintenance = undefined;
        });
      track(maintenance);
    }, maintenanceInterval)
    : undefined;
  maintenanceTimer?.unref();

  app.addHook('onClose', async () => {
    if (timer) clearInterval(timer);
    if (maintenanceTimer) clearInterval(maintenanceTimer);
    await Promise.all([...pending]);
  });
  return app;
}
