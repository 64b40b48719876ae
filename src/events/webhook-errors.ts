/** Error codes of webhook delivery, the delivery log, replays and event polling (issue 3 "Webhooks"). See docs/errors.md. */
import { defineErrors, errorClass } from '../kernel/errors.ts';

export const WEBHOOK_ERRORS = defineErrors({
  WEBHOOK_DELIVERY_NOT_FOUND: { status: 404, title: 'The provider has no such event or delivery' },
  WEBHOOK_URL_NOT_SET: { status: 409, title: 'The provider has no webhook URL' },
  WEBHOOK_TEST_RATE_LIMITED: { status: 429, title: 'Too many test events' },
  WEBHOOK_ENDPOINT_DISABLED: { status: 409, title: 'The webhook endpoint answered 410 Gone and is disabled' },
  WEBHOOK_REPLAY_INVALID: { status: 422, title: 'The replay request is invalid' },
  WEBHOOK_REPLAY_TOO_LARGE: { status: 422, title: 'The replay would re-queue too many deliveries' },
  WEBHOOK_CURSOR_INVALID: { status: 400, title: 'The cursor is not one this API gave' },
});

export type WebhookErrorCode = keyof typeof WEBHOOK_ERRORS;

export class WebhookError extends errorClass('WebhookError', WEBHOOK_ERRORS) {}
