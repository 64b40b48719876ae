/** Error codes of providers and their credentials (issue 3 "Providers"). See docs/errors.md. */
import { defineErrors, errorClass } from '../kernel/errors.ts';

export const PROVIDER_ERRORS = defineErrors({
  API_KEY_INVALID: { status: 401, title: 'A valid provider API key is required' },
  PROVIDER_DISABLED: { status: 403, title: 'The provider is disabled' },
  API_KEY_RETIRING: { status: 403, title: 'A key in its rotation overlap cannot manage credentials or the webhook; use the current key' },
  PROVIDER_KIND_FORBIDDEN: { status: 403, title: 'This route is not for this kind of provider' },
  PROVIDER_NOT_FOUND: { status: 404, title: 'No such provider' },
  PROVIDER_NAME_TAKEN: { status: 409, title: 'A provider with this name exists' },
  PROVIDER_INVALID: { status: 422, title: 'The provider settings are invalid' },
  WEBHOOK_URL_REFUSED: { status: 422, title: 'The webhook URL is refused' },
  CARRIER_ALREADY_LINKED: { status: 409, title: 'The carrier already has a provider' },
});

export type ProviderErrorCode = keyof typeof PROVIDER_ERRORS;

export class ProviderError extends errorClass('ProviderError', PROVIDER_ERRORS) {}
