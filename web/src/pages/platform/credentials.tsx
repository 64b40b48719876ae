/**
 * The provider's API keys: the live keys as hints (the hub keeps only a hash and never shows a
 * key again), and the rotation (`POST /v1/provider/api-keys`), whose new key is shown here once.
 * The console then carries on with the new key itself, since the one it signed in with is about
 * to stop working.
 */
import { useId, useState } from 'react';
import type { IdbindClient, ProviderInfo, RotatedApiKey } from '../../api/sdk.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { ScrollTable } from '../registries/scroll-table.tsx';
import { ConsoleError } from './console-error.tsx';
import { RotateControl } from './rotate-control.tsx';
import { SecretBox } from './secret-box.tsx';

interface CredentialsProps {
  client: IdbindClient;
  info: ProviderInfo;
  replaceKey(apiKey: string): Promise<void>;
  onError(error: unknown): void;
}

export function Credentials({ client, info, replaceKey, onError }: CredentialsProps) {
  const { t, formatDateTime, formatNumber } = useI18n();
  const k = t.platform;
  const headingId = useId();
  const [busy, setBusy] = useState(false);
  const [rotated, setRotated] = useState<RotatedApiKey | null>(null);
  const [error, setError] = useState<unknown>(null);

  const rotate = async (overlapSeconds: number) => {
    setBusy(true);
    setError(null);
    try {
      const fresh = await client.rotateApiKey({ overlapSeconds });
      setRotated(fresh);
      await replaceKey(fresh.api_key);
    } catch (failure) {
      setError(failure);
      onError(failure);
    } finally {
      setBusy(false);
    }
  };

  const limits = info.provider.limits;
  return (
    <section aria-labelledby={headingId} className="subsection" id="credentials" data-testid="credentials">
      <h2 id={headingId}>{k.credentialsTitle}</h2>
      <p className="hint">{k.credentialsIntro}</p>
      <ScrollTable caption={k.keysCaption} testId="api-keys">
        <thead>
          <tr>
            <th scope="col">{k.keyHint}</th>
            <th scope="col">{k.keyCreated}</th>
            <th scope="col">{k.keyExpires}</th>
          </tr>
        </thead>
        <tbody>
          {info.api_keys.map((key) => (
            <tr key={key.id}>
              <th scope="row">
                <code>{key.hint}</code>
              </th>
              <td>
                <time dateTime={key.created_at}>{formatDateTime(key.created_at)}</time>
              </td>
              <td>{key.expires_at ? <time dateTime={key.expires_at}>{formatDateTime(key.expires_at)}</time> : k.keyCurrent}</td>
            </tr>
          ))}
        </tbody>
      </ScrollTable>

      <h3 className="spaced">{k.rotateKeyTitle}</h3>
      <RotateControl action={k.rotateKey} warning={k.rotateKeyWarning} overlapLabel={k.keyOverlapLabel} busy={busy} onRotate={(s) => void rotate(s)} testId="rotate-key" />
      {error ? <ConsoleError context={k.rotateKeyFailed} error={error} /> : null}
      {rotated ? (
        <div className="notice" data-testid="new-key">
          <p>
            <strong>{k.newKeyShownOnce}</strong>
          </p>
          <SecretBox label={k.newKeyLabel} value={rotated.api_key} testId="new-key-value" />
          <p className="hint">
            {rotated.previous_keys_expire_at ? k.previousKeysUntil(formatDateTime(rotated.previous_keys_expire_at)) : k.previousKeysStopped}
          </p>
        </div>
      ) : null}

      <h3 className="spaced">{k.limitsTitle}</h3>
      <dl className="facts">
        <div>
          <dt>{k.limitVerificationsPerMinute}</dt>
          <dd>{formatNumber(limits.verifications_per_minute)}</dd>
        </div>
        <div>
          <dt>{k.limitSmsPerDay}</dt>
          <dd>{formatNumber(limits.sms_per_day)}</dd>
        </div>
        <div>
          <dt>{k.limitAccountsPerPerson}</dt>
          <dd>{formatNumber(limits.accounts_per_person)}</dd>
        </div>
      </dl>
    </section>
  );
}
