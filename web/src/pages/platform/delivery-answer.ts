/**
 * The "last answer" cell of the delivery log: the receiver's HTTP status when it answered, else
 * the hub's description of why no answer came (src/events/webhook-dispatcher.ts), or a dash
 * before the first attempt. The hub writes its reasons in English; the ones the console knows
 * read in the page's language (`t.platform.deliveryReason`, the timeout and the TLS and network
 * error classes with their codes), and any other is shown as the hub wrote it, marked `lang="en"`
 * on the Vietnamese page so that a screen reader reads it in English.
 */
import type { WebhookDelivery } from '../../api/sdk.ts';
import { dictionary, LANGUAGES, locales, type Messages } from '../../i18n/messages.ts';

export interface DeliveryAnswer {
  text: string;
  /** The language of `text` when it is not the page's (the hub's own words, in English). */
  lang?: 'en';
}

export function deliveryAnswer(d: Pick<WebhookDelivery, 'last_status_code' | 'last_error'>, t: Messages): DeliveryAnswer {
  if (d.last_status_code !== null) return { text: `HTTP ${d.last_status_code}` };
  const reason = d.last_error;
  if (reason === null) return { text: '–' };
  const k = t.platform;
  // `t` is one of the dictionary's tables (i18n.tsx hands out `dictionary[language]`).
  const language = LANGUAGES.find((l) => dictionary[l] === t) ?? 'vi';
  const known = (k.deliveryReason as Record<string, string | undefined>)[reason];
  if (known) return { text: known };
  const timeout = /^timeout: no answer within (\d+) ms$/.exec(reason);
  if (timeout) return { text: k.deliveryTimeout(new Intl.NumberFormat(locales[language]).format(Number(timeout[1]))) };
  const tls = /^TLS error \((.+)\)$/.exec(reason);
  if (tls?.[1]) return { text: k.deliveryTlsError(tls[1]) };
  const network = /^network error \((.+)\)$/.exec(reason);
  if (network?.[1]) return { text: k.deliveryNetworkError(network[1]) };
  return language === 'en' ? { text: reason } : { text: reason, lang: 'en' };
}
