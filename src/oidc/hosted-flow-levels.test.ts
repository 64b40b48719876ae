/**
 * The level a hosted flow must reach (issue 4 "Claims": a higher level satisfies a lower request;
 * a requested level, in acr_values or an essential acr of the claims parameter, that is not
 * reached fails), and the statutory claims asked for.
 */
import { describe, expect, it } from 'vitest';
import { maskNumber, requestedStatutoryClaims, requiredLevel } from './hosted-flow-service.ts';
import type { Provider } from '../providers/provider-service.ts';

const claims = (acr: unknown) => JSON.stringify({ id_token: { acr } });

describe('requiredLevel', () => {
  it('is low when nothing is asked', () => {
    expect(requiredLevel({})).toBe('low');
    expect(requiredLevel({ acr_values: '' })).toBe('low');
  });
  it('takes the least of the known acr_values (any of them satisfies the request)', () => {
    expect(requiredLevel({ acr_values: 'high' })).toBe('high');
    expect(requiredLevel({ acr_values: 'high substantial' })).toBe('substantial');
    expect(requiredLevel({ acr_values: 'urn:other high' })).toBe('high');
  });
  it('cannot be met when only unknown levels are asked', () => {
    expect(requiredLevel({ acr_values: 'urn:other loa4' })).toBeUndefined();
    expect(requiredLevel({ claims: claims({ essential: true, value: 'urn:other' }) })).toBeUndefined();
  });
  it('honours an essential acr of the claims parameter, and ignores a voluntary one', () => {
    expect(requiredLevel({ claims: claims({ essential: true, value: 'substantial' }) })).toBe('substantial');
    expect(requiredLevel({ claims: claims({ essential: true, values: ['high', 'substantial'] }) })).toBe('substantial');
    expect(requiredLevel({ claims: claims({ essential: false, value: 'high' }) })).toBe('low');
    expect(requiredLevel({ claims: claims({ value: 'high' }) })).toBe('low');
  });
  it('takes the stricter of acr_values and an essential acr', () => {
    expect(requiredLevel({ acr_values: 'substantial', claims: claims({ essential: true, value: 'high' }) })).toBe('high');
    expect(requiredLevel({ acr_values: 'high', claims: claims({ essential: true, value: 'low' }) })).toBe('high');
  });
});

describe('requestedStatutoryClaims', () => {
  const platform = (legalProfile: 'minimal' | 'statutory') => ({ legalProfile }) as Provider;
  it('gives a minimal platform nothing, whatever it asks', () => {
    expect(requestedStatutoryClaims(platform('minimal'), { scope: 'openid profile phone' })).toEqual([]);
    expect(requestedStatutoryClaims(platform('minimal'), { claims: JSON.stringify({ id_token: { name: null } }) })).toEqual([]);
  });
  it('reads scopes and the claims parameter for a statutory platform', () => {
    expect(requestedStatutoryClaims(platform('statutory'), { scope: 'openid profile phone' })).toEqual(['name', 'birthdate', 'phone_number']);
    expect(requestedStatutoryClaims(platform('statutory'), { scope: 'openid phone' })).toEqual(['phone_number']);
    expect(requestedStatutoryClaims(platform('statutory'), { scope: 'openid', claims: JSON.stringify({ userinfo: { birthdate: null, email: null } }) })).toEqual(['birthdate']);
  });
});

describe('maskNumber', () => {
  it('shows the network digit and the last three digits only', () => {
    expect(maskNumber('+84912000678')).toBe('09•• ••• 678');
  });
});
