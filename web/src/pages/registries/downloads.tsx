/**
 * Downloads of the latest run's action list per carrier (CSV: msisdn, category code). The file is
 * fetched with the admin token (a plain link could not send the Authorization header), then saved
 * under the name the hub suggests. Failures are shown next to the button that caused them.
 */
import { useId, useState } from 'react';
import type { AdminApi } from '../../api/client.ts';
import type { CompletedRun } from '../../api/types.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { ErrorMessage } from '../../shell/errors.tsx';
import { carrierName, sortCarriers } from './carriers.ts';

function save(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  // Revoke later: the download starts asynchronously from the click.
  window.setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

type Status = { state: 'idle' } | { state: 'busy' } | { state: 'failed'; error: unknown };

export function Downloads({ api, run }: { api: AdminApi; run: CompletedRun | null }) {
  const { t } = useI18n();
  const headingId = useId();
  const [status, setStatus] = useState<Record<string, Status>>({});

  const download = async (slug: string) => {
    if (!run) return;
    setStatus((s) => ({ ...s, [slug]: { state: 'busy' } }));
    try {
      const file = await api.actionList(run.run_id, slug);
      save(file.blob, file.filename ?? `idbind-action-list-${slug}-${run.run_id.slice(0, 8)}.csv`);
      setStatus((s) => ({ ...s, [slug]: { state: 'idle' } }));
    } catch (error) {
      setStatus((s) => ({ ...s, [slug]: { state: 'failed', error } }));
    }
  };

  const carriers = run ? sortCarriers(Object.keys(run.by_carrier)) : [];

  return (
    <section aria-labelledby={headingId} className="subsection" data-testid="downloads">
      <h3 id={headingId}>{t.downloadsTitle}</h3>
      {run && carriers.length > 0 ? (
        <>
          <p>{t.downloadsIntro}</p>
          <ul className="downloads">
            {carriers.map((slug) => {
              const s = status[slug] ?? { state: 'idle' };
              return (
                <li key={slug}>
                  <button
                    type="button"
                    className="button"
                    // aria-disabled, not disabled: the button keeps the keyboard focus while the file is fetched.
                    onClick={() => void (s.state === 'busy' || download(slug))}
                    aria-disabled={s.state === 'busy'}
                    aria-busy={s.state === 'busy'}
                    data-testid={`download-${slug}`}
                  >
                    <svg width="16" height="16" viewBox="0 0 16 16" aria-hidden="true" focusable="false">
                      <path d="M8 1v9m-4-4 4 4 4-4M2 13h12" fill="none" stroke="currentColor" strokeWidth="2" />
                    </svg>
                    {s.state === 'busy' ? t.downloading : t.downloadFor(carrierName(slug))}
                  </button>
                  {s.state === 'failed' ? <ErrorMessage context={t.downloadFailed} error={s.error} /> : null}
                </li>
              );
            })}
          </ul>
        </>
      ) : (
        <p className="empty">{t.noDownloads}</p>
      )}
    </section>
  );
}
