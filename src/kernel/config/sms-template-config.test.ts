/**
 * `IDBIND_SMS_TEMPLATE` (issue 3 "SMS gateway": a text that names the platform): the code must be
 * the only 6-digit number a person reads, and the platform must be named.
 */
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { ConfigError, DEFAULT_SMS_TEMPLATE, loadConfig } from './config.ts';

const template = (t: string | undefined) =>
  loadConfig({ mode: 'production', env: { IDBIND_MASTER_KEY: randomBytes(32).toString('base64'), ...(t === undefined ? {} : { IDBIND_SMS_TEMPLATE: t }) } }).sms.template;

describe('IDBIND_SMS_TEMPLATE', () => {
  it('defaults to the built-in text, and takes one with {code} and {platform}', () => {
    expect(template(undefined)).toBe(DEFAULT_SMS_TEMPLATE);
    expect(template('')).toBe(DEFAULT_SMS_TEMPLATE);
    expect(template('{platform}: ma {code}')).toBe('{platform}: ma {code}');
    // Digits apart from the code, fewer than six, are fine: a hotline, a validity in minutes.
    expect(template('{code} - {platform}, 5 phut, hotline 1900')).toBe('{code} - {platform}, 5 phut, hotline 1900');
  });

  it('refuses a text without the code or the platform, or with another 6-digit number', () => {
    expect(() => template('ma {code}')).toThrow(/must contain \{code\} and \{platform\}/);
    expect(() => template('{platform}')).toThrow(ConfigError);
    expect(() => template('{code} {platform} 123456')).toThrow(/another 6-digit number/);
  });

  it('refuses a digit right beside {code}: the person would read a 7-digit number', () => {
    for (const t of ['{code}1 {platform}', '{platform}: {code}0', '{platform} 9{code}', '{platform}: {code}{code}']) {
      expect(() => template(t), t).toThrow(/beside \{code\}/);
    }
  });
});
