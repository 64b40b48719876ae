/**
 * The hosted flow's state in the page: loads `GET /verify/<uid>/api`, runs each step's call and
 * takes its answer, which is the next FlowState or a redirect the browser follows at once (to the
 * national eID, or back to the platform). Only one call runs at a time (`busy`). A failed step
 * keeps its error for the page and re-reads the state, because a failure can move the flow on
 * (too many wrong codes ends the code; a refused guardian is asked again); an unknown or expired
 * flow (`FLOW_NOT_FOUND`, `FLOW_EXPIRED`) ends the page with "start again from the platform".
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { flowApi, type FlowApi, type FlowRedirect, type FlowState } from '../../api/verify.ts';
import { FLOW_GONE, toFlowError, type FlowError } from './flow-error.ts';

export type Busy = 'phone' | 'resend' | 'confirm' | 'restart' | 'eid' | 'agree' | 'decline' | 'abort' | null;

export type FlowPhase =
  | { phase: 'loading' }
  | { phase: 'failed'; error: FlowError }
  | { phase: 'gone' }
  | { phase: 'ready'; state: FlowState }
  /** The browser is on its way to `url`: the eID, or back to the platform. */
  | { phase: 'leaving'; url: string; to: 'eid' | 'platform' };

export interface Flow {
  phase: FlowPhase;
  /** The platform's name, once known (it stays in the banner while leaving). */
  platform: string | null;
  busy: Busy;
  /** The last step's failure, until the next step starts. */
  error: FlowError | null;
  /** A polite announcement ("a code is on its way"), for the live region. */
  announcement: 'codeSent' | 'codeResent' | null;
  reload(): void;
  run(busy: Exclude<Busy, null>, call: (api: FlowApi) => Promise<FlowState | FlowRedirect>): Promise<boolean>;
}

function isState(answer: FlowState | FlowRedirect): answer is FlowState {
  return 'stage' in answer;
}

export function useFlow(uid: string): Flow {
  const api = useMemo(() => flowApi(uid), [uid]);
  const [phase, setPhase] = useState<FlowPhase>({ phase: 'loading' });
  const [platform, setPlatform] = useState<string | null>(null);
  const [busy, setBusy] = useState<Busy>(null);
  const [error, setError] = useState<FlowError | null>(null);
  const [announcement, setAnnouncement] = useState<Flow['announcement']>(null);
  const running = useRef(false);

  const leave = useCallback((url: string, to: 'eid' | 'platform') => {
    setPhase({ phase: 'leaving', url, to });
    window.location.assign(url);
  }, []);

  const take = useCallback(
    (answer: FlowState | FlowRedirect, to: 'eid' | 'platform') => {
      if (!isState(answer)) return leave(answer.redirect_url, to);
      setPlatform(answer.platform.name);
      if (answer.stage === 'finished' && answer.redirect_url) return leave(answer.redirect_url, 'platform');
      setPhase({ phase: 'ready', state: answer });
    },
    [leave],
  );

  const load = useCallback(
    async (quiet: boolean) => {
      try {
        take(await api.state(), 'platform');
      } catch (failure) {
        const e = toFlowError(failure);
        if (FLOW_GONE.has(e.code)) setPhase({ phase: 'gone' });
        else if (!quiet) setPhase({ phase: 'failed', error: e });
      }
    },
    [api, take],
  );

  useEffect(() => {
    void load(false);
  }, [load]);

  const reload = useCallback(() => {
    setPhase({ phase: 'loading' });
    void load(false);
  }, [load]);

  const run = useCallback(
    async (kind: Exclude<Busy, null>, call: (api: FlowApi) => Promise<FlowState | FlowRedirect>): Promise<boolean> => {
      if (running.current) return false;
      running.current = true;
      setBusy(kind);
      setError(null);
      setAnnouncement(null);
      try {
        take(await call(api), kind === 'eid' ? 'eid' : 'platform');
        if (kind === 'phone') setAnnouncement('codeSent');
        if (kind === 'resend') setAnnouncement('codeResent');
        return true;
      } catch (failure) {
        const e = toFlowError(failure);
        if (FLOW_GONE.has(e.code)) {
          setPhase({ phase: 'gone' });
        } else {
          setError(e);
          // The failure may have moved the flow on: show the stage the hub is at now.
          if (e.code !== 'NETWORK_ERROR' && e.code !== 'TIMEOUT') await load(true);
        }
        return false;
      } finally {
        running.current = false;
        setBusy(null);
      }
    },
    [api, take, load],
  );

  return { phase, platform, busy, error, announcement, reload, run };
}
