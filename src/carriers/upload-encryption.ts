/**
 * Carriers' uploads are sealed on the way to disk (DESIGN.md invariant 2: files the hub keeps
 * never hold personal values in clear). A registry upload holds holder ID numbers, names and
 * birth dates, and it waits under `<data dir>/uploads/` until its job has run; the data directory
 * also holds the embedded database, so a stolen directory must reveal nobody.
 *
 * Format: [0] format version 1, [1..2] data-key version, [3..14] 96-bit nonce, then AES-256-GCM
 * ciphertext of the whole body, then its 16-byte tag. The file key is HMAC-SHA256 of the data key
 * and the job id, so no key is stored and a file moved to another job fails to open. Reading
 * decrypts as a stream (the import reads in constant memory); the tag is checked at the end, and
 * a tampered file fails the job before it completes.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { closeSync, createReadStream, openSync, readSync, statSync } from 'node:fs';
import { pipeline, type Readable } from 'node:stream';
import { dataKeyFor, type KeyRing } from '../kernel/crypto/key-ring.ts';

const FORMAT = 1;
const HEADER = 15;
const TAG = 16;

function fileKey(dataKey: Buffer, jobId: string): Buffer {
  return createHmac('sha256', dataKey).update('idbind carrier upload v1\u0000').update(jobId).digest();
}

export interface UploadSealer {
  /** The bytes to write first. */
  header: Buffer;
  update(chunk: Buffer): Buffer;
  /** The last bytes of the ciphertext and the tag. */
  final(): Buffer;
}

export function uploadSealer(ring: KeyRing, jobId: string): UploadSealer {
  const nonce = randomBytes(12);
  const header = Buffer.alloc(HEADER);
  header[0] = FORMAT;
  header.writeUInt16BE(ring.currentData.version, 1);
  nonce.copy(header, 3);
  const cipher = createCipheriv('aes-256-gcm', fileKey(ring.currentData.key, jobId), nonce);
  return {
    header,
    update: (chunk) => cipher.update(chunk),
    final: () => Buffer.concat([cipher.final(), cipher.getAuthTag()]),
  };
}

export class SealedUploadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SealedUploadError';
  }
}

/** The plaintext of a sealed upload, as a stream; errors if the file is not this job's or was altered. */
export function openSealedUpload(path: string, ring: KeyRing, jobId: string): Readable {
  const size = statSync(path).size;
  if (size < HEADER + TAG) throw new SealedUploadError('the upload file is truncated');
  const fd = openSync(path, 'r');
  const header = Buffer.alloc(HEADER);
  const tag = Buffer.alloc(TAG);
  try {
    readSync(fd, header, 0, HEADER, 0);
    readSync(fd, tag, 0, TAG, size - TAG);
  } finally {
    closeSync(fd);
  }
  if (header[0] !== FORMAT) throw new SealedUploadError('the upload file has an unknown format');
  const decipher = createDecipheriv('aes-256-gcm', fileKey(dataKeyFor(ring, header.readUInt16BE(1)), jobId), header.subarray(3, HEADER));
  decipher.setAuthTag(tag);
  const body = size - TAG - 1 >= HEADER ? createReadStream(path, { start: HEADER, end: size - TAG - 1, highWaterMark: 256 * 1024 }) : createReadStream(path, { start: 0, end: -1 });
  return pipeline(body, decipher, () => undefined);
}
