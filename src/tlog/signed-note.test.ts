/**
 * C2SP signed-note with Ed25519: the reference example of golang.org/x/mod/sumdb/note byte for
 * byte (Ed25519 is deterministic), round trips with generated keys, and the refusals of a wrong
 * key, a modified text and malformed keys and notes. C2SP tlog-cosignature (cosignature/v1).
 */
import { describe, expect, it } from 'vitest';
import { createPrivateKey, sign as edSign } from 'node:crypto';
import {
  formatNote, formatVerifierKey, generateSigningKey, keyId, openNote, parseNote, parseSigningKey, parseVerifierKey, signNote, ALG_COSIGNATURE_V1,
} from './signed-note.ts';

const VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const SKEY = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const SIGNED = `${TEXT}\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`;

describe('signed notes (C2SP signed-note, Ed25519)', () => {
  it('signs the reference example exactly as golang.org/x/mod/sumdb/note does', () => {
    const signer = parseSigningKey(SKEY);
    expect(signer.vkey).toBe(VKEY);
    expect(signer.keyId.toString('hex')).toBe('c74f20a3');
    expect(signNote(TEXT, signer)).toBe(SIGNED);
    expect(openNote(SIGNED, [parseVerifierKey(VKEY)])).toMatchObject({ text: TEXT, verifiedBy: ['PeterNeumann'] });
  });

  it('round-trips with a generated key, and refuses a wrong key or a modified text', () => {
    const a = generateSigningKey('log.example/a');
    const b = generateSigningKey('log.example/a');
    const signed = signNote('log.example/a\n1\nhello\n', parseSigningKey(a.skey));
    expect(openNote(signed, [parseVerifierKey(a.vkey)]).verifiedBy).toEqual(['log.example/a']);
    // Same name, other key: a different key ID, so the signature is not by a known key.
    expect(() => openNote(signed, [parseVerifierKey(b.vkey)])).toThrow(/no signature by a known key/);
    expect(() => openNote(signed.replace('hello', 'hellO'), [parseVerifierKey(a.vkey)])).toThrow(/invalid signature/);
    expect(() => openNote(signed.replace('\n\n', '\n'), [parseVerifierKey(a.vkey)])).toThrow();
  });

  it('ignores signatures by unknown keys but needs one known key', () => {
    const log = generateSigningKey('log.example');
    const other = generateSigningKey('other.example');
    const signed = signNote('log.example\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n', parseSigningKey(log.skey), parseSigningKey(other.skey));
    expect(openNote(signed, [parseVerifierKey(log.vkey)]).verifiedBy).toEqual(['log.example']);
    expect(parseNote(signed).signatures.map((s) => s.name)).toEqual(['log.example', 'other.example']);
    expect(() => openNote(signed, [])).toThrow(/no signature by a known key/);
  });

  it('refuses malformed keys and notes', () => {
    expect(() => parseVerifierKey(VKEY.replace('c74f20a3', 'c74f20a4'))).toThrow(/hash/);
    expect(() => parseVerifierKey('PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW')).toThrow();
    expect(() => parseVerifierKey('Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW')).toThrow();
    expect(() => parseSigningKey(SKEY.slice(0, -1))).toThrow();
    expect(() => parseSigningKey(SKEY.replace('PRIVATE', 'PUBLIC'))).toThrow();
    expect(() => signNote('no newline', parseSigningKey(SKEY))).toThrow(/newline/);
    expect(() => signNote('tab\there\n', parseSigningKey(SKEY))).toThrow(/control/);
    expect(() => parseNote(`${TEXT}\n— PeterNeumann !!!\n`)).toThrow(/signature line/);
  });

  it('verifies a witness cosignature/v1 line, and refuses one over another checkpoint', () => {
    const text = 'log.example\n5\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n';
    const { skey } = generateSigningKey('witness.example');
    const seed = Buffer.from(skey.split('+').slice(4).join('+'), 'base64').subarray(1);
    const priv = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' });
    const pub = parseVerifierKey(parseSigningKey(skey).vkey).publicKey;
    const wvkey = formatVerifierKey('witness.example', pub, ALG_COSIGNATURE_V1);
    const time = Buffer.alloc(8);
    time.writeBigUInt64BE(1_700_000_000n);
    const sig = edSign(null, Buffer.from(`cosignature/v1\ntime 1700000000\n${text}`), priv);
    const line = `— witness.example ${Buffer.concat([keyId('witness.example', ALG_COSIGNATURE_V1, pub), time, sig]).toString('base64')}`;
    expect(openNote(formatNote(text, [line]), [parseVerifierKey(wvkey)]).verifiedBy).toEqual(['witness.example']);
    expect(() => openNote(formatNote(text.replace('5', '6'), [line]), [parseVerifierKey(wvkey)])).toThrow(/invalid signature/);
  });
});
