/**
 * Types of the hub's JSON API as the web app reads it: `/v1/meta`, `/v1/demo/session`, the demo
 * SMS outbox and the admin API of issue 2 (registry statistics, reconciliation runs, action
 * lists). The provider API's types are @idbind/sdk's (api/sdk.ts). Errors are RFC 9457 problem
 * details.
 */

/** The reconciliation categories, in the authoritative order of issue 2 (first that applies wins). */
export const CATEGORIES = [
  'NO_HOLDER',
  'HOLDER_NOT_FOUND',
  'HOLDER_DECEASED',
  'HOLDER_DATA_MISMATCH',
  'ONLINE_BEYOND_LIMIT',
] as const;

export type Category = (typeof CATEGORIES)[number];

export type CategoryCounts = Record<Category, number>;

export interface Meta {
  mode: 'demo' | 'production';
  version: string;
}

/** A demo platform of `npm start` (demo mode only), with its API key, so the console can sign in as it. */
export interface DemoPlatform {
  id: string;
  name: string;
  kind: 'platform' | 'carrier' | 'registrar';
  profile: 'minimal' | 'statutory';
  api_key: string;
}

export interface DemoSession {
  admin_token: string;
  platforms: DemoPlatform[];
  /** Synthetic numbers that can verify an account right now. */
  sample_numbers: string[];
}

/** A message of the demo SMS outbox (`GET /v1/dev/sms-outbox`, demo mode only). */
export interface OutboxMessage {
  to: string;
  text: string;
  sent_at: string;
}

export interface RegistryStats {
  people: { total: number; alive: number; deceased: number };
  subscriptions: { total: number; live: number; terminated: number };
  carriers: { slug: string; subscriptions: number; live: number }[];
}

export type RunStatus = 'running' | 'completed' | 'failed';

/** The steps of a reconciliation run, in order (src/registry/reconciliation/reconciliation-repository.ts). */
export type RunStepCode = 'reindexing' | 'classifying' | 'settling_ties' | 'comparing';

/** Where a run is: "step number of of". */
export interface RunStep {
  code: RunStepCode;
  number: number;
  of: number;
}

export interface Run {
  run_id: string;
  status: RunStatus;
  started_at: string;
  finished_at: string | null;
  subscriptions: number | null;
  categories: CategoryCounts | null;
  by_carrier: Record<string, CategoryCounts> | null;
  compared_to_previous: Partial<Record<Category, { new: number; resolved: number }>> | null;
  /** The step a running run is in, or the step a failed run stopped in; null once completed. */
  step?: RunStep | null;
  /** When retention deleted the run's per-subscription results (its counts stay), or null. */
  results_pruned_at?: string | null;
}

/** A run that has finished with figures: what the charts and tables draw. */
export type CompletedRun = Run & {
  status: 'completed';
  categories: CategoryCounts;
  by_carrier: Record<string, CategoryCounts>;
};

export interface RunList {
  runs: Run[];
}

export interface StartedRun {
  run_id: string;
  status: RunStatus;
}

/** RFC 9457 problem details, with the hub's stable `code`. */
export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  code?: string;
}

export function isCompleted(run: Run): run is CompletedRun {
  return run.status === 'completed' && run.categories !== null && run.by_carrier !== null;
}
