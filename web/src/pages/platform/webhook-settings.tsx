/**
 * Webhook settings: the endpoint URL (`PUT /v1/provider/webhook`; the hub refuses private,
 * loopback and link-local destinations), the signing secret (fetched only when the person asks
 * to see it), its rotation with overlap, a test event, and the delivery log.
 *
 * An endpoint that answered 410 Gone is disabled by the hub (`webhook_disabled_at`, docs/webhooks.md
 * "Retries and the dead-letter list"): every delivery is dead-lettered at once, without a request.
 * The panel says so, with when, and offers to enable it again, which is saving the stored URL
 * again (the hub clears `webhook_disabled_at` whenever the URL is set, the same one too). The
 * provider is read again when the delivery log is refreshed and when a test event is refused
 * with WEBHOOK_ENDPOINT_DISABLED, so a 410 that happens while the console is open shows too.
 *
 * The test event and the delivery log are routes of the webhook slice (`POST /v1/webhooks/test`,
 * `GET /v1/webhooks/deliveries`). On a hub that does not serve them (404 NOT_FOUND) the panel says
 * so in a note instead of showing a failure.
 *
 * Replays (docs/webhooks.md "The delivery log and replays"): a row that the hub no longer sends by
 * itself (dead or delivered) or that has failed at least once has a button that re-queues it
 * (`POST /v1/webhooks/deliveries/{event_id}/replay`, same webhook-id, fresh retry schedule); a
 * pending delivery not yet attempted has none, it is about to go anyway. "Replay all dead
 * deliveries" (`POST /v1/webhooks/replay {"status": "dead"}`) shows while the dead-letter list is
 * not empty, which the panel asks the hub (`status=dead`, one row) since a dead delivery may be
 * older than the rows shown. One replay at a time: every replay button waits for the call in
 * flight. The answer says how many were queued, and the log is read again.
 *
 * The log shows the newest 20 deliveries; "Show older deliveries" reads the next page with the
 * hub's `next_cursor` (`GET /v1/webhooks/deliveries?cursor=...`) and adds it below, down to the
 * oldest, so that no delivery is out of the console's reach. A refresh starts again from the newest.
 */
import { useCallback, useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { IdbindError, type IdbindClient, type Provider, type RotatedWebhookSecret, type TestEventSent, type WebhookDelivery } from '../../api/sdk.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { ScrollTable } from '../registries/scroll-table.tsx';
import { ConsoleError, isMissingRoute } from './console-error.tsx';
import { deliveryAnswer } from './delivery-answer.ts';
import { RotateControl } from './rotate-control.tsx';
import { SecretBox } from './secret-box.tsx';

interface WebhookSettingsProps {
  client: IdbindClient;
  provider: Provider;
  updateProvider(provider: Provider): void;
  onError(error: unknown): void;
}

/**
 * `hasDead`: the hub's dead-letter list is not empty (the dead ones may be older than the rows shown).
 * `nextCursor`: where the older deliveries start (the hub's `next_cursor`); null once the oldest is shown.
 */
type Deliveries =
  | { state: 'loading' }
  | { state: 'ready'; deliveries: WebhookDelivery[]; hasDead: boolean; nextCursor: string | null }
  | { state: 'missing' }
  | { state: 'failed'; error: unknown };

/** What a replay answered: one delivery re-queued, or how many dead ones. */
type Replayed = { one: string } | { dead: number };

/** A delivery the hub will not send again by itself (dead, delivered), or one that keeps failing. */
function replayable(d: WebhookDelivery): boolean {
  return d.status !== 'pending' || d.attempts > 0;
}

const DELIVERY_LIMIT = 20;

export function WebhookSettings({ client, provider, updateProvider, onError }: WebhookSettingsProps) {
  const { t, formatDateTime, formatNumber } = useI18n();
  const k = t.platform;
  const ids = { heading: useId(), url: useId(), urlError: useId(), log: useId(), replayHint: useId() };
  const [older, setOlder] = useState<{ busy: boolean; error: unknown }>({ busy: false, error: null });
  const [url, setUrl] = useState(provider.webhook_url ?? '');
  const [saving, setSaving] = useState(false);
  /** Which message the last save earned: kept as a key so that it follows a change of language. */
  const [saved, setSaved] = useState<'webhookReenabled' | 'webhookSaved' | 'webhookCleared' | null>(null);
  const savedRef = useRef<HTMLParagraphElement>(null);
  const [urlError, setUrlError] = useState<unknown>(null);
  const [secrets, setSecrets] = useState<string[] | null>(null);
  const [secretBusy, setSecretBusy] = useState(false);
  const [secretError, setSecretError] = useState<{ context: string; error: unknown } | null>(null);
  const [rotated, setRotated] = useState<RotatedWebhookSecret | null>(null);
  const [testBusy, setTestBusy] = useState(false);
  const [testResult, setTestResult] = useState<{ sent: TestEventSent } | { missing: true } | { error: unknown } | null>(null);
  const [deliveries, setDeliveries] = useState<Deliveries>({ state: 'loading' });
  /** The replay in flight: `'dead'` for all dead ones, else the event id. */
  const [replaying, setReplaying] = useState<string | null>(null);
  const [replayed, setReplayed] = useState<Replayed | null>(null);
  const [replayError, setReplayError] = useState<{ context: string; error: unknown } | null>(null);
  const replayedRef = useRef<HTMLDivElement>(null);
  /** Only the latest read of the log is shown: a slower earlier answer must not overwrite it. */
  const loadSeq = useRef(0);

  const fail = (failure: unknown) => onError(failure);

  const loadDeliveries = useCallback(async () => {
    const seq = ++loadSeq.current;
    setDeliveries((d) => (d.state === 'ready' ? d : { state: 'loading' }));
    try {
      const [page, dead] = await Promise.all([
        client.listWebhookDeliveries({ limit: DELIVERY_LIMIT }),
        client.listWebhookDeliveries({ status: 'dead', limit: 1 }),
      ]);
      if (seq !== loadSeq.current) return;
      const hasDead = dead.deliveries.length > 0 || page.deliveries.some((d) => d.status === 'dead');
      setDeliveries({ state: 'ready', deliveries: page.deliveries, hasDead, nextCursor: page.next_cursor });
      setOlder({ busy: false, error: null });
    } catch (failure) {
      if (seq !== loadSeq.current) return;
      if (isMissingRoute(failure)) setDeliveries({ state: 'missing' });
      else {
        setDeliveries({ state: 'failed', error: failure });
        onError(failure);
      }
    }
  }, [client, onError]);

  useEffect(() => {
    void loadDeliveries();
  }, [loadDeliveries]);

  /** Adds the next (older) page below the rows shown; dropped if the log was read again meanwhile. */
  const loadOlder = async (cursor: string) => {
    const seq = loadSeq.current;
    setOlder({ busy: true, error: null });
    try {
      const page = await client.listWebhookDeliveries({ limit: DELIVERY_LIMIT, cursor });
      if (seq !== loadSeq.current) return;
      setDeliveries((d) => {
        if (d.state !== 'ready') return d;
        const shown = new Set(d.deliveries.map((x) => x.event_id));
        const added = page.deliveries.filter((x) => !shown.has(x.event_id));
        return { ...d, deliveries: [...d.deliveries, ...added], nextCursor: page.next_cursor, hasDead: d.hasDead || added.some((x) => x.status === 'dead') };
      });
      setOlder({ busy: false, error: null });
    } catch (failure) {
      if (seq !== loadSeq.current) return;
      setOlder({ busy: false, error: failure });
      onError(failure);
    }
  };

  /** Reads the provider again (its `webhook_disabled_at` changes on the hub's side, after a 410 Gone). */
  const refreshProvider = useCallback(async () => {
    try {
      updateProvider((await client.getProvider()).provider);
    } catch (failure) {
      onError(failure);
    }
  }, [client, updateProvider, onError]);

  /** Saves the URL (null removes it); `reenable` is the disabled notice's button saving the stored URL again. */
  const save = async (value: string | null, reenable = false) => {
    setSaving(true);
    setUrlError(null);
    setSaved(null);
    try {
      const updated = await client.setWebhookUrl(value);
      updateProvider(updated);
      setUrl(updated.webhook_url ?? '');
      setSaved(reenable && !updated.webhook_disabled_at ? 'webhookReenabled' : updated.webhook_url ? 'webhookSaved' : 'webhookCleared');
      // The notice and its button are gone: keep the focus on what happened.
      if (reenable) savedRef.current?.focus();
    } catch (failure) {
      setUrlError(failure);
      fail(failure);
      document.getElementById(ids.url)?.focus();
    } finally {
      setSaving(false);
    }
  };

  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const value = url.trim();
    void save(value === '' ? null : value);
  };

  const showSecret = async () => {
    setSecretBusy(true);
    setSecretError(null);
    try {
      setSecrets(await client.getWebhookSecrets());
    } catch (failure) {
      setSecretError({ context: k.secretFailed, error: failure });
      fail(failure);
    } finally {
      setSecretBusy(false);
    }
  };

  const rotate = async (overlapSeconds: number) => {
    setSecretBusy(true);
    setSecretError(null);
    try {
      const fresh = await client.rotateWebhookSecret({ overlapSeconds });
      setRotated(fresh);
      setSecrets(await client.getWebhookSecrets());
    } catch (failure) {
      setSecretError({ context: k.rotateSecretFailed, error: failure });
      fail(failure);
    } finally {
      setSecretBusy(false);
    }
  };

  const sendTest = async () => {
    setTestBusy(true);
    setTestResult(null);
    try {
      const sent = await client.sendTestEvent();
      setTestResult({ sent });
      void loadDeliveries();
    } catch (failure) {
      if (isMissingRoute(failure)) setTestResult({ missing: true });
      else {
        setTestResult({ error: failure });
        fail(failure);
        // Disabled since the page was loaded: show the notice that says why and how to undo it.
        if (failure instanceof IdbindError && failure.code === 'WEBHOOK_ENDPOINT_DISABLED') void refreshProvider();
      }
    } finally {
      setTestBusy(false);
    }
  };

  /** Re-queues one delivery (`eventId`) or every dead one (`'dead'`), then reads the log again. */
  const replay = async (what: string) => {
    setReplaying(what);
    setReplayed(null);
    setReplayError(null);
    try {
      if (what === 'dead') {
        const { requeued } = await client.replayWebhookDeliveries({ status: 'dead' });
        setReplayed({ dead: requeued });
      } else {
        await client.replayWebhookDelivery(what);
        setReplayed({ one: what });
      }
      // The button was disabled during the call (and "Replay all" goes with the last dead
      // delivery): keep the focus on what happened rather than losing it to the page.
      replayedRef.current?.focus();
    } catch (failure) {
      setReplayError({ context: what === 'dead' ? k.replayDeadFailed : k.replayFailed, error: failure });
      fail(failure);
      // Disabled since the page was loaded: show the notice that says why and how to undo it.
      if (failure instanceof IdbindError && failure.code === 'WEBHOOK_ENDPOINT_DISABLED') void refreshProvider();
    } finally {
      setReplaying(null);
      void loadDeliveries();
    }
  };

  return (
    <section aria-labelledby={ids.heading} className="subsection" id="webhooks" data-testid="webhooks">
      <h2 id={ids.heading}>{k.webhooksTitle}</h2>
      <p className="hint">{k.webhooksIntro}</p>

      {provider.webhook_disabled_at ? (
        <div className="notice" role="status" data-testid="webhook-disabled" data-disabled-at={provider.webhook_disabled_at}>
          <p>
            <strong>{k.webhookDisabledTitle}</strong>
          </p>
          <p>{k.webhookDisabledSince(formatDateTime(provider.webhook_disabled_at))}</p>
          <p>{k.webhookDisabledEffect}</p>
          <p>{k.webhookDisabledReplay}</p>
          <p>
            {k.webhookDisabledReplayApi} <code>POST /v1/webhooks/replay {'{"status": "dead"}'}</code>
          </p>
          {provider.webhook_url ? (
            <>
              <p className="hint">{k.webhookReenableHint}</p>
              <div className="form-actions">
                <button
                  type="button"
                  className="button primary"
                  disabled={saving}
                  aria-busy={saving}
                  onClick={() => void save(provider.webhook_url, true)}
                  data-testid="webhook-reenable"
                >
                  {saving ? k.webhookReenabling : k.webhookReenable}
                </button>
              </div>
            </>
          ) : null}
        </div>
      ) : null}

      <form onSubmit={submit} noValidate className="webhook-form">
        <div className="field">
          <label htmlFor={ids.url}>{k.webhookUrlLabel}</label>
          <p className="hint" id={`${ids.url}-hint`}>
            {k.webhookUrlHint}
          </p>
          <input
            id={ids.url}
            type="url"
            inputMode="url"
            name="webhook-url"
            autoComplete="off"
            spellCheck={false}
            placeholder="https://hooks.example.vn/idbind"
            value={url}
            onChange={(e) => setUrl(e.target.value)}
            aria-invalid={urlError ? true : undefined}
            aria-describedby={[`${ids.url}-hint`, urlError ? ids.urlError : ''].filter(Boolean).join(' ')}
            data-testid="webhook-url"
          />
        </div>
        <div className="form-actions">
          <button type="submit" className="button primary" disabled={saving} aria-busy={saving} data-testid="webhook-save">
            {saving ? k.saving : k.save}
          </button>
          {provider.webhook_url ? (
            <button type="button" className="button subtle" disabled={saving} onClick={() => void save(null)} data-testid="webhook-clear">
              {k.webhookRemove}
            </button>
          ) : null}
        </div>
        <p className="hint" role="status" tabIndex={-1} ref={savedRef} data-testid="webhook-saved">
          {saved ? k[saved] : ''}
        </p>
        {urlError ? <ConsoleError id={ids.urlError} context={k.webhookSaveFailed} error={urlError} testId="webhook-error" /> : null}
      </form>

      <h3 className="spaced">{k.secretTitle}</h3>
      <p className="hint">{k.secretIntro}</p>
      {secrets ? (
        <>
          {/* Takes the focus from the "Show the signing secret" button it replaces. */}
          {secrets[0] ? <SecretBox label={k.secretCurrent} value={secrets[0]} hidden focusOnMount testId="webhook-secret" /> : null}
          {secrets.length > 1 ? <p className="hint">{k.secretsInOverlap(secrets.length - 1)}</p> : null}
        </>
      ) : (
        <button type="button" className="button" disabled={secretBusy} onClick={() => void showSecret()} data-testid="show-secret">
          {k.showSecret}
        </button>
      )}
      {rotated ? (
        <p className="hint" role="status">
          {rotated.previous_secrets_expire_at ? k.previousSecretsUntil(formatDateTime(rotated.previous_secrets_expire_at)) : k.previousSecretsStopped}
        </p>
      ) : null}
      <RotateControl action={k.rotateSecret} warning={k.rotateSecretWarning} overlapLabel={k.secretOverlapLabel} busy={secretBusy} onRotate={(s) => void rotate(s)} testId="rotate-secret" />
      {secretError ? <ConsoleError context={secretError.context} error={secretError.error} /> : null}

      <h3 className="spaced">{k.testEventTitle}</h3>
      <p className="hint">{k.testEventIntro}</p>
      {/* aria-disabled, not disabled: a disabled button drops the keyboard focus to the page's body. */}
      <button type="button" className="button" aria-disabled={testBusy} aria-busy={testBusy} onClick={() => void (testBusy || sendTest())} data-testid="send-test-event">
        {testBusy ? k.sendingTestEvent : k.sendTestEvent}
      </button>
      <div role="status" data-testid="test-event-result">
        {testResult && 'sent' in testResult ? (
          <p>
            {k.testEventQueued} <code>{testResult.sent.event_id}</code>
          </p>
        ) : testResult && 'missing' in testResult ? (
          <p className="note">{k.webhookRoutesMissing}</p>
        ) : null}
      </div>
      {testResult && 'error' in testResult ? <ConsoleError context={k.testEventFailed} error={testResult.error} testId="test-event-error" /> : null}

      <div className="heading-row spaced">
        <h3 id={ids.log}>{k.deliveriesTitle}</h3>
        <button
          type="button"
          className="button subtle small"
          onClick={() => {
            void loadDeliveries();
            void refreshProvider();
          }}
          data-testid="refresh-deliveries"
        >
          {t.refresh}
        </button>
      </div>
      {deliveries.state === 'ready' && deliveries.hasDead ? (
        <>
          <p className="hint" id={ids.replayHint}>
            {k.replayDeadHint}
          </p>
          <div className="form-actions">
            <button
              type="button"
              className="button"
              disabled={replaying !== null}
              aria-busy={replaying === 'dead'}
              aria-describedby={ids.replayHint}
              onClick={() => void replay('dead')}
              data-testid="webhook-replay-dead"
            >
              {replaying === 'dead' ? k.replayingDead : k.replayDead}
            </button>
          </div>
        </>
      ) : null}
      <div role="status" tabIndex={-1} ref={replayedRef} data-testid="webhook-replay-result">
        {replayed && 'one' in replayed ? (
          <p>
            {k.replayQueued} <code>{replayed.one}</code>
          </p>
        ) : replayed ? (
          <p>{k.replayDeadQueued(replayed.dead, formatNumber(replayed.dead))}</p>
        ) : null}
      </div>
      {replayError ? <ConsoleError context={replayError.context} error={replayError.error} testId="webhook-replay-error" /> : null}
      <div data-testid="deliveries" data-state={deliveries.state}>
        {deliveries.state === 'loading' ? (
          <p className="loading">{t.loading}</p>
        ) : deliveries.state === 'missing' ? (
          <p className="note">{k.webhookRoutesMissing}</p>
        ) : deliveries.state === 'failed' ? (
          <ConsoleError context={k.deliveriesFailed} error={deliveries.error} />
        ) : deliveries.deliveries.length === 0 ? (
          <p className="empty">{provider.webhook_url ? k.noDeliveries : k.noDeliveriesNoUrl}</p>
        ) : (
          <ScrollTable caption={k.deliveriesCaption(deliveries.deliveries.length)} testId="deliveries-table">
            <thead>
              <tr>
                <th scope="col">{k.deliveryCreated}</th>
                <th scope="col">{k.deliveryType}</th>
                <th scope="col">{k.deliveryStatus}</th>
                <th scope="col" className="num">
                  {k.deliveryAttempts}
                </th>
                <th scope="col">{k.deliveryLastAnswer}</th>
                <th scope="col">{k.deliveryEventId}</th>
                <th scope="col">{k.deliveryReplay}</th>
              </tr>
            </thead>
            <tbody>
              {deliveries.deliveries.map((d) => (
                <tr key={d.event_id} data-testid="delivery-row" data-status={d.status}>
                  <th scope="row">
                    <time dateTime={d.created_at}>{formatDateTime(d.created_at)}</time>
                  </th>
                  <td>
                    <code>{d.type}</code>
                  </td>
                  <td>
                    <span className={`status status-${d.status}`}>{k.deliveryStatusName[d.status]}</span>
                  </td>
                  <td className="num">{formatNumber(d.attempts)}</td>
                  <td lang={deliveryAnswer(d, t).lang}>{deliveryAnswer(d, t).text}</td>
                  <td>
                    <code className="nowrap">{d.event_id}</code>
                  </td>
                  <td>
                    {replayable(d) ? (
                      <button
                        type="button"
                        className="button subtle small nowrap"
                        disabled={replaying !== null}
                        aria-busy={replaying === d.event_id}
                        aria-label={replaying === d.event_id ? undefined : k.replayOneLabel(d.event_id)}
                        onClick={() => void replay(d.event_id)}
                        data-testid={`webhook-replay-${d.event_id}`}
                      >
                        {replaying === d.event_id ? k.replayingOne : k.replayOne}
                      </button>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </ScrollTable>
        )}
        {deliveries.state === 'ready' && deliveries.nextCursor ? (
          <div className="form-actions">
            <button
              type="button"
              className="button subtle"
              disabled={older.busy}
              aria-busy={older.busy}
              onClick={() => void loadOlder(deliveries.nextCursor!)}
              data-testid="deliveries-more"
            >
              {older.busy ? k.loadingOlderDeliveries : k.olderDeliveries}
            </button>
          </div>
        ) : null}
        {older.error ? <ConsoleError context={k.olderDeliveriesFailed} error={older.error} testId="deliveries-more-error" /> : null}
      </div>
    </section>
  );
}
