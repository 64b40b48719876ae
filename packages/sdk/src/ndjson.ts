/**
 * Newline-delimited JSON in both directions, in constant memory: a request body produced from an
 * (async) iterable as the network takes it, and a response read line by line as it arrives.
 * Only WHATWG streams, so it runs on Node >= 20 and in browsers alike.
 *
 * @see https://github.com/ndjson/ndjson-spec (one JSON text per line, `\n` separated)
 */
import { IdbindError } from './errors.js';
import type { BulkLineError, BulkStatusLine } from './types.js';

/** Lines are gathered into chunks of this many before they are handed to the network. */
const LINES_PER_CHUNK = 1_000;

/**
 * A request body of one serialised line per item. Pull-based: the next items are read only when
 * the network has taken the previous chunk, so a generator over a huge file is never read ahead.
 */
export function ndjsonBody<T>(items: Iterable<T> | AsyncIterable<T>, serialise: (item: T) => string): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const iterator: AsyncIterator<T> | Iterator<T> =
    Symbol.asyncIterator in items ? (items as AsyncIterable<T>)[Symbol.asyncIterator]() : (items as Iterable<T>)[Symbol.iterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let text = '';
      for (let n = 0; n < LINES_PER_CHUNK; n++) {
        const next = await iterator.next();
        if (next.done) {
          if (text) controller.enqueue(encoder.encode(text));
          controller.close();
          return;
        }
        text += serialise(next.value) + '\n';
      }
      controller.enqueue(encoder.encode(text));
    },
    async cancel() {
      await iterator.return?.();
    },
  });
}

/**
 * The JSON values of an NDJSON response, one per non-empty line, as they arrive. Leaving the loop
 * early cancels the body, which closes the connection instead of reading the rest.
 */
export async function* readNdjson<T>(response: Response): AsyncGenerator<T, void, undefined> {
  if (!response.body) throw new IdbindError({ code: 'UNEXPECTED_RESPONSE', status: response.status, title: 'The answer has no body' });
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  let lineNo = 0;
  const parse = (line: string): T => {
    lineNo++;
    try {
      return JSON.parse(line) as T;
    } catch (cause) {
      throw new IdbindError({ code: 'UNEXPECTED_RESPONSE', status: response.status, title: 'An answer line is not JSON', detail: `line ${lineNo}`, cause });
    }
  };
  let finished = false;
  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (cause) {
        // The connection was cut mid-stream: a failure of the network, typed as every other.
        throw new IdbindError({ code: 'NETWORK_ERROR', status: 0, title: 'The connection was cut before the whole answer arrived', detail: `after line ${lineNo}`, cause });
      }
      const { done, value } = chunk;
      buffered += done ? decoder.decode() : decoder.decode(value, { stream: true });
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? ''; // the last piece may be a partial line
      for (const line of lines) {
        const text = line.trim();
        if (text) yield parse(text);
      }
      if (done) break;
    }
    const rest = buffered.trim();
    if (rest) yield parse(rest);
    finished = true;
  } finally {
    if (!finished) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}

/** True for a line the hub could not read, answered in that line's place. */
export function isBulkLineError(line: BulkStatusLine): line is BulkLineError {
  return !('account_ref' in line) && typeof (line as Partial<BulkLineError>).code === 'string';
}
