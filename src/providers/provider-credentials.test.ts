/**
 * API key hashing (issue 3 "Providers": keys stored as SHA-256 hashes): the per-request cache key
 * is the stored hash, in base64, whichever way it is computed.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { apiKeyHash, apiKeyHashBase64, isWellFormedApiKey, newApiKey } from './provider-credentials.ts';

describe('API key hashes', () => {
  it('gives the stored SHA-256 hash, and the same in base64 by one call', () => {
    for (let i = 0; i < 50; i++) {
      const key = newApiKey();
      expect(isWellFormedApiKey(key)).toBe(true);
      const expected = createHash('sha256').update(key, 'utf8').digest();
      expect(apiKeyHash(key)).toEqual(expected);
      expect(apiKeyHashBase64(key)).toBe(expected.toString('base64'));
    }
    expect(apiKeyHashBase64('é')).toBe(createHash('sha256').update('é', 'utf8').digest('base64'));
  });
});
