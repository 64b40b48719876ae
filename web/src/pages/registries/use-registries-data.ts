/**
 * Loads what the registries page shows: the registry statistics and the last 50 reconciliation
 * runs, in parallel. `reload()` refreshes both while the page keeps showing the figures it has,
 * so a refresh after a run never blanks the page.
 */
import { useCallback, useEffect, useState } from 'react';
import type { AdminApi } from '../../api/client.ts';
import type { RegistryStats, Run } from '../../api/types.ts';

export const RUN_LIMIT = 50;

export interface RegistriesData {
  stats: RegistryStats | null;
  runs: Run[] | null;
  loading: boolean;
  error: unknown;
  reload(): void;
}

export function useRegistriesData(api: AdminApi): RegistriesData {
  const [stats, setStats] = useState<RegistryStats | null>(null);
  const [runs, setRuns] = useState<Run[] | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(null);
  const [generation, setGeneration] = useState(0);

  useEffect(() => {
    let cancelled = false;
    setLoading(true);
    Promise.all([api.stats(), api.runs(RUN_LIMIT)])
      .then(([nextStats, nextRuns]) => {
        if (cancelled) return;
        setStats(nextStats);
        setRuns(nextRuns.runs);
        setError(null);
      })
      .catch((failure: unknown) => {
        if (!cancelled) setError(failure);
      })
      .finally(() => {
        if (!cancelled) setLoading(false);
      });
    return () => {
      cancelled = true;
    };
  }, [api, generation]);

  const reload = useCallback(() => setGeneration((n) => n + 1), []);
  return { stats, runs, loading, error, reload };
}
