/** Prometheus metrics (prom-client): process defaults plus HTTP request durations. */
import client from 'prom-client';

export interface Metrics {
  registry: client.Registry;
  httpDuration: client.Histogram<'method' | 'route' | 'status'>;
  /**
   * Verification outcomes, without their reasons: /metrics is unauthenticated, and an eligibility
   * reason counter that moves right after a platform's request would tell it why (DESIGN.md
   * invariant 1). The reasons are in the admin API's statistics.
   */
  verificationOutcomes: client.Counter<'outcome'>;
  /** One-time codes sent and confirmed per number prefix (+84 and 3 digits): SMS pumping shows as sent without confirmed. */
  smsCodes: client.Counter<'prefix' | 'event'>;
  /** 1 for a prefix whose codes were sent often and rarely confirmed in the last hour (the alert). */
  smsPumpingSuspected: client.Gauge<'prefix'>;
  /**
   * Account status cache (src/bindings/account-status-cache.ts): reads by result (`hit`, `miss`,
   * `bypass`: cache off or its listener down) and invalidations (`key`, `flush`). Counts only, no
   * label that names an account or a provider.
   */
  statusCacheReads: client.Counter<'result'>;
  statusCacheInvalidations: client.Counter<'kind'>;
  /** Where the status cache's gauges (entries held, listener up) read from, once the server made it. */
  setStatusCacheSource(source: { size: number; isListening: boolean } | undefined): void;
}

export function createMetrics(): Metrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'idbind_' });
  const httpDuration = new client.Histogram({
    name: 'idbind_http_request_duration_seconds',
    help: 'HTTP request duration by route pattern (never the raw URL)',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const verificationOutcomes = new client.Counter({
    name: 'idbind_verification_outcomes_total', help: 'Verification outcomes (reasons only in the admin API)',
    labelNames: ['outcome'] as const, registers: [registry],
  });
  const smsCodes = new client.Counter({
    name: 'idbind_sms_codes_total', help: 'One-time codes sent and confirmed per number prefix', labelNames: ['prefix', 'event'] as const, registers: [registry],
  });
  const smsPumpingSuspected = new client.Gauge({
    name: 'idbind_sms_pumping_suspected', help: '1 when codes to this prefix were sent often and rarely confirmed in the last hour',
    labelNames: ['prefix'] as const, registers: [registry],
  });
  const statusCacheReads = new client.Counter({
    name: 'idbind_account_status_cache_reads_total', help: 'Account status reads by cache result: hit, miss (read from the database), bypass (cache off or its listener down)',
    labelNames: ['result'] as const, registers: [registry],
  });
  const statusCacheInvalidations = new client.Counter({
    name: 'idbind_account_status_cache_invalidations_total', help: 'Account status cache invalidations: key (one account changed), flush (everything forgotten)',
    labelNames: ['kind'] as const, registers: [registry],
  });
  let source: { size: number; isListening: boolean } | undefined;
  new client.Gauge({
    name: 'idbind_account_status_cache_entries', help: 'Entries held by the account status cache', registers: [registry],
    collect() {
      this.set(source?.size ?? 0);
    },
  });
  new client.Gauge({
    name: 'idbind_account_status_cache_listening', help: '1 while the account status cache hears the database (else every read bypasses it)', registers: [registry],
    collect() {
      this.set(source?.isListening ? 1 : 0);
    },
  });
  return {
    registry, httpDuration, verificationOutcomes, smsCodes, smsPumpingSuspected, statusCacheReads, statusCacheInvalidations,
    setStatusCacheSource: (s) => {
      source = s;
    },
  };
}
