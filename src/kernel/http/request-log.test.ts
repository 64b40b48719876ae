import { describe, expect, it } from 'vitest';
import { loggablePath, loggableUrl } from './request-log.ts';

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

describe('loggablePath', () => {
  it('logs a route with parameters as its pattern, one without as its path, and no route by its first two segments', () => {
    expect(loggablePath('/v1/accounts/0912345678?x=1', { url: '/v1/accounts/:account_ref', hasParams: true })).toBe('/v1/accounts/:account_ref?x=[Redacted]');
    expect(loggablePath('/v1/meta', { url: '/v1/meta', hasParams: false })).toBe('/v1/meta');
    expect(loggablePath('/v1/nowhere/079190000123/0912345678', undefined)).toBe('/v1/nowhere/[Redacted]');
    expect(loggablePath('/v1/nowhere?phone=%2B84912345678', undefined)).toBe('/v1/nowhere?phone=[Redacted]');
    expect(loggablePath('/', undefined)).toBe('/');
  });
});
