import { describe, expect, it } from 'vitest';
import { loggableUrl } from './request-log.ts';

describe('loggableUrl', () => {
  it('keeps a URL without a query string as it is', () => {
    expect(loggableUrl('/v1/accounts/alice-42')).toBe('/v1/accounts/alice-42');
  });

  it('keeps the parameter names and replaces every value', () => {
    expect(loggableUrl('/v1/dev/sms-outbox?to=+84337301090')).toBe('/v1/dev/sms-outbox?to=[Redacted]');
    expect(loggableUrl('/oidc/auth?login_hint=0912345678&state=abc&flag')).toBe('/oidc/auth?login_hint=[Redacted]&state=[Redacted]&flag=[Redacted]');
  });

  it('replaces a name that is not an identifier, since a client can put a value there', () => {
    expect(loggableUrl('/v1/dev/sms-outbox?%2B84337301090=1&+84337301090')).toBe('/v1/dev/sms-outbox?[Redacted]&[Redacted]');
  });

  it('drops an empty query string', () => {
    expect(loggableUrl('/healthz?')).toBe('/healthz');
    expect(loggableUrl('/healthz?&&')).toBe('/healthz');
  });
});
