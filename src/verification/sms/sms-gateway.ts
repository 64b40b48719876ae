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
  /**
   * The gateway may have sent the message: it was not refused before it could reach the gateway,
   * and no answer came (a timeout, a dropped connection). The caller counts it as sent.
   */
  readonly maybeSent: boolean;

  constructor(message: string, maybeSent = false) {
    super(message);
    this.name = 'SmsSendError';
    this.maybeSent = maybeSent;
  }
}

// The text of a code, kept within one SMS part: sms-text.ts.
export { codeText } from './sms-text.ts';

/**
 * Failures that happen before the gateway can have the message (no connection, the address
 * refused by the outbound policy, TLS refused before the request is sent): nothing was sent.
 * Any other failure without an answer (a timeout, a reset after the request was written) may
 * come after the gateway took the message and sent it.
 */
const BEFORE_THE_REQUEST = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EOUTBOUNDFORBIDDEN']);
function nothingSent(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' && (BEFORE_THE_REQUEST.has(code) || /^(ERR_TLS_|CERT_|ERR_SSL_)|_CERT|SELF_SIGNED/.test(code));
}

/**
 * POSTs `{"to": "+84...", "text": "..."}` as JSON; any 2xx is taken, any other status is a
 * refusal (nothing sent). No redirects are followed. `timeoutMs` (default 10 s) bounds the whole
 * exchange.
 */
export function httpSmsGateway(config: SmsConfig & { url: string }, policy: OutboundPolicy, options: { timeoutMs?: number } = {}): SmsGateway {
  const url = new URL(config.url);
  const timeoutMs = options.timeoutMs ?? 10_000;
  return {
    kind: 'http',
    async send(to, text) {
      let status: number;
      try {
        status = (await postOutbound(url, JSON.stringify({ to, text }), config.authorization ? { authorization: config.authorization } : {}, policy, timeoutMs)).status;
      } catch (e) {
        const code = (e as { code?: unknown }).code;
        const why = `${(e as Error).name}${typeof code === 'string' ? ` ${code}` : ''}`;
        if (nothingSent(e)) throw new SmsSendError(`the SMS gateway is unreachable (${why})`);
        const timedOut = /^no answer within/.test((e as Error).message);
        throw new SmsSendError(`the SMS gateway gave no answer (${timedOut ? `no answer within ${timeoutMs} ms` : why}); the message may have been sent`, true);
      }
      if (status < 200 || status > 299) throw new SmsSendError(`the SMS gateway answered ${status}`);
    },
  };
}
