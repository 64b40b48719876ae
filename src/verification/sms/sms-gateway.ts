/**
 * The SMS gateway (issue 3 "SMS gateway"): an interface with two implementations, an HTTP
 * gateway configured by URL, authorization and template, and, in demo mode only, a local outbox
 * (sms-outbox.ts). The text names the platform and carries the code as its only 6-digit number.
 */
import { postOutbound, type OutboundPolicy } from '../../kernel/http/outbound-http.ts';
import type { SmsConfig } from '../../kernel/config/config.ts';

export interface SmsGateway {
  readonly kind: 'http' | 'outbox';
  /** Sends `text` to an E.164 number; rejects when the gateway did not take it. */
  send(to: string, text: string): Promise<void>;
}

export class SmsSendError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SmsSendError';
  }
}

// The text of a code, kept within one SMS part: sms-text.ts.
export { codeText } from './sms-text.ts';

/** POSTs `{"to": "+84...", "text": "..."}` as JSON; any 2xx is taken. No redirects are followed. */
export function httpSmsGateway(config: SmsConfig & { url: string }, policy: OutboundPolicy): SmsGateway {
  const url = new URL(config.url);
  return {
    kind: 'http',
    async send(to, text) {
      let status: number;
      try {
        status = (await postOutbound(url, JSON.stringify({ to, text }), config.authorization ? { authorization: config.authorization } : {}, policy, 10_000)).status;
      } catch (e) {
        throw new SmsSendError(`the SMS gateway is unreachable (${(e as Error).name})`);
      }
      if (status < 200 || status > 299) throw new SmsSendError(`the SMS gateway answered ${status}`);
    },
  };
}
