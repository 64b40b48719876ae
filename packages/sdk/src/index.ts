/**
 * @idbind/sdk: a typed client for the idbind hub's provider API and a Standard Webhooks verifier.
 * No runtime dependencies: global fetch and WebCrypto (Node >= 20.19, current browsers).
 *
 * ```ts
 * const idbind = new IdbindClient({ baseUrl: 'https://idbind.example', apiKey: process.env.IDBIND_API_KEY! });
 * const started = await idbind.startVerification({ accountRef: 'user-42', phone: '0912345678' });
 * const bound = await idbind.confirmCode(started.id, codeTypedByTheUser);
 * ```
 */
export { IdbindClient, BULK_JSON_MAX } from './client.js';
export type { FetchFunction, IdbindClientOptions, RetryOptions } from './client.js';
export { IdbindError, isIdbindError } from './errors.js';
export type { IdbindErrorCode, IdbindErrorInit, ProblemDocument } from './errors.js';
export { isBulkLineError } from './ndjson.js';
export { verifyWebhook, WebhookVerificationError } from './webhooks.js';
export type { VerifyWebhookOptions, WebhookHeaders, WebhookVerificationCode } from './webhooks.js';
export type * from './types.js';
