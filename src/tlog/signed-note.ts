/**
 * C2SP signed-note with Ed25519 keys, and C2SP tlog-cosignature (cosignature/v1) verification for
 * witnesses. Pure code: node:crypto only, no I/O.
 *
 * Formats (same strings as golang.org/x/mod/sumdb/note):
 * - key ID: SHA-256(name || 0x0A || 0x01 || public key)[:4] (0x04 for cosignature/v1 keys)
 * - verifier key (vkey): `name+hex(key ID)+base64(0x01 || public key)`
 * - private key: `PRIVATE+KEY+name+hex(key ID)+base64(0x01 || 32-byte seed)`
 * - note: text (UTF-8, ends with a newline), a blank line, then signature lines
 *   `— name base64(key ID || signature)` (U+2014, space), each ending with a newline.
 *
 * @see C2SP signed-note (https://c2sp.org/signed-note): "Signed notes", "Verifier keys",
 *      "Signature types" (0x01 Ed25519)
 * @see C2SP tlog-cosignature (https://c2sp.org/tlog-cosignature): "Format", "Ed25519 signed message"
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign as edSign, verify as edVerify, type KeyObject } from 'node:crypto';

export const ALG_ED25519 = 0x01;
export const ALG_COSIGNATURE_V1 = 0x04;
const SIG_PREFIX = '\u2014 ';
/** The most signature lines a note may carry (golang's note package has the same limit). */
export const MAX_SIGNATURES = 100;

export class NoteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NoteError';
  }
}

/** Key names: non-empty, no Unicode whitespace, no `+`. @see C2SP signed-note "Signatures" */
export function isValidKeyName(name: string): boolean {
  return name.length > 0 && !/[\s+]/u.test(name) && !/\p{Cc}/u.test(name);
}

export function keyId(name: string, alg: number, publicKey: Uint8Array): Buffer {
  return createHash('sha256').update(name, 'utf8').update(Uint8Array.of(0x0a, alg)).update(publicKey).digest().subarray(0, 4);
}

// Ed25519 raw keys in and out of node:crypto key objects (DER prefixes of RFC 8410).
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

function privateKeyObject(seed: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

function publicKeyObject(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

function rawPublicKey(seed: Uint8Array): Buffer {
  const der = createPublicKey(privateKeyObject(seed)).export({ format: 'der', type: 'spki' });
  return Buffer.from(der.subarray(der.length - 32));
}

export interface Signer {
  readonly name: string;
  readonly keyId: Buffer;
  /** The verifier key string of this signer. */
  readonly vkey: string;
  sign(message: Uint8Array): Buffer;
}

export interface Verifier {
  readonly name: string;
  readonly keyId: Buffer;
  readonly alg: number;
  readonly publicKey: Buffer;
  /** Verifies a signature (the bytes after the key ID) over the note text. */
  verify(text: string, signature: Uint8Array): boolean;
}

/** A new Ed25519 signing key: the PRIVATE+KEY string and its vkey. */
export function generateSigningKey(name: string): { skey: string; vkey: string } {
  if (!isValidKeyName(name)) throw new NoteError('invalid key name');
  const { privateKey } = generateKeyPairSync('ed25519');
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  const seed = der.subarray(der.length - 32);
  return { skey: formatSigningKey(name, seed), vkey: formatVerifierKey(name, rawPublicKey(seed)) };
}

export function formatSigningKey(name: string, seed: Uint8Array): string {
  const id = keyId(name, ALG_ED25519, rawPublicKey(seed));
  return `PRIVATE+KEY+${name}+${id.toString('hex')}+${Buffer.concat([Uint8Array.of(ALG_ED25519), seed]).toString('base64')}`;
}

export function formatVerifierKey(name: string, publicKey: Uint8Array, alg = ALG_ED25519): string {
  return `${name}+${keyId(name, alg, publicKey).toString('hex')}+${Buffer.concat([Uint8Array.of(alg), publicKey]).toString('base64')}`;
}

/** Splits on the first n-1 `+` only: base64 key material may itself contain `+`. */
function splitPlus(s: string, n: number): string[] {
  const out: string[] = [];
  let rest = s;
  while (out.length < n - 1) {
    const at = rest.indexOf('+');
    if (at < 0) break;
    out.push(rest.slice(0, at));
    rest = rest.slice(at + 1);
  }
  out.push(rest);
  return out;
}

function strictBase64(s: string): Buffer | undefined {
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s)) return undefined;
  const b = Buffer.from(s, 'base64');
  return b.toString('base64') === s ? b : undefined;
}

/** Parses a PRIVATE+KEY+name+hash+base64(0x01 || seed) string; refuses anything else. */
export function parseSigningKey(skey: string): Signer {
  const parts = splitPlus(skey, 5);
  if (parts.length !== 5 || parts[0] !== 'PRIVATE' || parts[1] !== 'KEY') throw new NoteError('malformed signing key (want PRIVATE+KEY+name+hash+key)');
  const [, , name, hash, b64] = parts as [string, string, string, string, string];
  const key = strictBase64(b64);
  if (!isValidKeyName(name) || !/^[0-9a-f]{8}$/.test(hash) || !key || key.length !== 33 || key[0] !== ALG_ED25519) throw new NoteError('malformed signing key');
  const seed = key.subarray(1);
  const publicKey = rawPublicKey(seed);
  const id = keyId(name, ALG_ED25519, publicKey);
  if (id.toString('hex') !== hash) throw new NoteError('signing key hash does not match the key');
  const priv = privateKeyObject(seed);
  return {
    name,
    keyId: id,
    vkey: formatVerifierKey(name, publicKey),
    sign: (message) => edSign(null, message, priv),
  };
}

/**
 * Parses a verifier key `name+hash+base64(alg || key)`: Ed25519 note keys (0x01) and Ed25519
 * cosignature/v1 keys (0x04). A cosignature/v1 verifier checks the timestamped signature over
 * "cosignature/v1\ntime <t>\n" || note text. @see C2SP tlog-cosignature "Ed25519 signed message"
 */
export function parseVerifierKey(vkey: string): Verifier {
  const parts = splitPlus(vkey, 3);
  if (parts.length !== 3) throw new NoteError('malformed verifier key (want name+hash+key)');
  const [name, hash, b64] = parts as [string, string, string];
  const key = strictBase64(b64);
  if (!isValidKeyName(name) || !/^[0-9a-f]{8}$/.test(hash) || !key || key.length !== 33) throw new NoteError('malformed verifier key');
  const alg = key[0]!;
  if (alg !== ALG_ED25519 && alg !== ALG_COSIGNATURE_V1) throw new NoteError(`unsupported verifier key type 0x${alg.toString(16).padStart(2, '0')}`);
  const publicKey = Buffer.from(key.subarray(1));
  const id = keyId(name, alg, publicKey);
  if (id.toString('hex') !== hash) throw new NoteError('verifier key hash does not match the key');
  const pub = publicKeyObject(publicKey);
  const verify = alg === ALG_ED25519
    ? (text: string, sig: Uint8Array) => sig.length === 64 && edVerify(null, Buffer.from(text, 'utf8'), pub, sig)
    : (text: string, sig: Uint8Array) => {
      if (sig.length !== 72) return false;
      const time = Buffer.from(sig.subarray(0, 8)).readBigUInt64BE();
      if (time > 2n ** 63n - 1n) return false;
      const message = Buffer.from(`cosignature/v1\ntime ${time}\n${text}`, 'utf8');
      return edVerify(null, message, pub, sig.subarray(8));
    };
  return { name, keyId: id, alg, publicKey, verify };
}

export interface NoteSignature {
  readonly name: string;
  readonly keyId: Buffer;
  /** The signature bytes after the key ID. */
  readonly signature: Buffer;
  /** The whole line, without its newline. */
  readonly line: string;
}

export interface Note {
  /** The signed text, ending with a newline. */
  readonly text: string;
  readonly signatures: readonly NoteSignature[];
}

/** Note text rules: UTF-8 (a JS string), ends with a newline, no control characters but newline. */
function checkText(text: string): void {
  if (!text.endsWith('\n')) throw new NoteError('note text must end with a newline');
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x09\x0b-\x1f\x7f]/.test(text)) throw new NoteError('note text has a control character');
  if (/[\uD800-\uDFFF]/.test(text.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, ''))) throw new NoteError('note text is not valid UTF-8');
}

/** Parses one signature line `— name base64(keyid || sig)`. */
export function parseSignatureLine(line: string): NoteSignature {
  if (!line.startsWith(SIG_PREFIX)) throw new NoteError('malformed signature line');
  const rest = line.slice(SIG_PREFIX.length);
  const sp = rest.indexOf(' ');
  if (sp <= 0) throw new NoteError('malformed signature line');
  const name = rest.slice(0, sp);
  const bytes = strictBase64(rest.slice(sp + 1));
  if (!isValidKeyName(name) || !bytes || bytes.length < 5) throw new NoteError('malformed signature line');
  return { name, keyId: bytes.subarray(0, 4), signature: bytes.subarray(4), line };
}

/** Splits a signed note into its text and signature lines (not verified). */
export function parseNote(message: string): Note {
  const split = message.lastIndexOf('\n\n');
  if (split < 0) throw new NoteError('malformed note: no blank line before the signatures');
  const text = message.slice(0, split + 1);
  checkText(text);
  const block = message.slice(split + 2);
  if (!block.endsWith('\n')) throw new NoteError('malformed note: the signatures must end with a newline');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) throw new NoteError('too many signatures');
  return { text, signatures: lines.map(parseSignatureLine) };
}

/** Signs text with each signer: the text, a blank line and one signature line per signer. */
export function signNote(text: string, ...signers: Signer[]): string {
  checkText(text);
  if (signers.length === 0) throw new NoteError('no signer');
  const lines = signers.map((s) => `${SIG_PREFIX}${s.name} ${Buffer.concat([s.keyId, s.sign(Buffer.from(text, 'utf8'))]).toString('base64')}\n`);
  return `${text}\n${lines.join('')}`;
}

export interface VerifiedNote extends Note {
  /** The names of the known keys whose signatures verified. */
  readonly verifiedBy: readonly string[];
}

/**
 * Opens a signed note: parses it, and checks the signatures of known keys (by name and key ID).
 * Refuses a note with no verified signature from a known key, and a note where a known key's
 * signature is invalid; signatures by unknown keys are ignored (kept in `signatures`).
 * @see C2SP signed-note "Verification"
 */
export function openNote(message: string, verifiers: readonly Verifier[]): VerifiedNote {
  const note = parseNote(message);
  const verifiedBy: string[] = [];
  for (const sig of note.signatures) {
    const v = verifiers.find((k) => k.name === sig.name && k.keyId.equals(sig.keyId));
    if (!v) continue;
    if (!v.verify(note.text, sig.signature)) throw new NoteError(`invalid signature by ${sig.name}`);
    if (!verifiedBy.includes(v.name)) verifiedBy.push(v.name);
  }
  if (verifiedBy.length === 0) throw new NoteError('no signature by a known key');
  return { ...note, verifiedBy };
}

/** A note's text with its signature lines, as served (used to add witness cosignature lines). */
export function formatNote(text: string, signatureLines: readonly string[]): string {
  checkText(text);
  return `${text}\n${signatureLines.map((l) => `${l}\n`).join('')}`;
}
