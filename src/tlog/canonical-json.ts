/**
 * Canonical JSON for log entries and commitment records: RFC 8785 (JCS) for the subset idbind
 * uses, which is strings, safe integers, booleans, null, arrays and objects. Object keys are
 * sorted by UTF-16 code units (RFC 8785 3.2.3), strings are serialised as ECMAScript's
 * JSON.stringify does (RFC 8785 3.2.2.2), no whitespace. Anything else (fractions, NaN, dates,
 * bigints, functions, undefined in an array) is refused, so two implementations can never
 * disagree on the bytes. Object members whose value is undefined are left out, as in JSON.
 *
 * @see RFC 8785 3.2 (serialization)
 */
export class CanonicalJsonError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CanonicalJsonError';
  }
}

export function canonicalJson(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      if (/[\uD800-\uDFFF]/.test(value.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, ''))) throw new CanonicalJsonError('a string has a lone surrogate');
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isSafeInteger(value)) throw new CanonicalJsonError('only safe integers are allowed');
      return Object.is(value, -0) ? '0' : String(value);
    case 'object': {
      if (Array.isArray(value)) {
        return `[${value.map((v) => {
          if (v === undefined) throw new CanonicalJsonError('undefined in an array');
          return canonicalJson(v);
        }).join(',')}]`;
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) throw new CanonicalJsonError('only plain objects are allowed');
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
      return `{${keys.map((k) => `${canonicalJson(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
    }
    default:
      throw new CanonicalJsonError(`a ${typeof value} is not allowed`);
  }
}
