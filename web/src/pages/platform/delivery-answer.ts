/**
 * The "last answer" cell of the delivery log: the receiver's HTTP status when it answered, else
 * the hub's description of why no answer came (src/events/webhook-dispatcher.ts), or a dash
 * before the first attempt.
 */
import type { WebhookDelivery } from '../../api/sdk.ts';
import type { Messages } from '../../i18n/messages.ts';

export interface DeliveryAnswer {
  text: string;
  /** The language of `text` when it is not the page's (the hub's own words, in English). */
  lang?: 'en';
}

export function deliveryAnswer(d: Pick<WebhookDelivery, 'last_status_code' | 'last_error'>, _t: Messages): DeliveryAnswer {
  if (d.last_status_code !== null) return { text: `HTTP ${d.last_status_code}` };
  return { text: d.last_error ?? '–' };
}
