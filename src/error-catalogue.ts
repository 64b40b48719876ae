/**
 * Every error code the hub answers with, gathered from the capabilities' catalogues. docs/errors.md
 * documents each, and src/error-catalogue.test.ts checks that the two agree.
 */
import type { ErrorSpec } from './kernel/errors.ts';
import { HTTP_ERRORS } from './kernel/http/http-errors.ts';
import { REGISTRY_ERRORS } from './registry/registry-errors.ts';
import { KEY_ERRORS } from './keys/key-errors.ts';
import { PROVIDER_ERRORS } from './providers/provider-errors.ts';
import { BINDING_ERRORS } from './bindings/binding-errors.ts';
import { VERIFICATION_ERRORS } from './verification/verification-errors.ts';
import { IDEMPOTENCY_ERRORS } from './kernel/http/idempotency.ts';
import { WEBHOOK_ERRORS } from './events/webhook-errors.ts';
import { CARRIER_ERRORS } from './carriers/carrier-errors.ts';
import { EID_ERRORS } from './oidc/eid/eid-errors.ts';
import { OIDC_ERRORS } from './oidc/oidc-errors.ts';
import { DISCLOSURE_ERRORS } from './disclosure/disclosure-errors.ts';
import { LOG_ERRORS } from './tlog/log-errors.ts';
import { CITIZEN_ERRORS } from './citizen/citizen-errors.ts';
import { OFFICIAL_ERRORS } from './officials/official-errors.ts';

export const ERROR_CATALOGUE: Readonly<Record<string, ErrorSpec>> = Object.freeze({ ...HTTP_ERRORS, ...REGISTRY_ERRORS, ...KEY_ERRORS, ...PROVIDER_ERRORS, ...BINDING_ERRORS, ...VERIFICATION_ERRORS, ...IDEMPOTENCY_ERRORS, ...WEBHOOK_ERRORS, ...CARRIER_ERRORS, ...EID_ERRORS, ...OIDC_ERRORS, ...DISCLOSURE_ERRORS, ...LOG_ERRORS, ...CITIZEN_ERRORS, ...OFFICIAL_ERRORS });
