/**
 * Vietnamese mobile numbers, normalised to E.164 with libphonenumber's full metadata
 * (`libphonenumber-js/max`, number type MOBILE). Accepted inputs: 0XXXXXXXXX, 84XXXXXXXXX and
 * +84XXXXXXXXX. The carrier is never guessed from the prefix: numbers are ported.
 *
 * libphonenumber's verdict is cached per 5-digit prefix of the 9-digit national number: in its
 * metadata for Vietnam the 9-digit number types are decided by at most the first 4 digits (a test
 * checks this holds for every prefix of the installed metadata), and a full parse costs about
 * 7 µs, a large share of importing a subscription.
 */
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';

const ACCEPTED_SHAPE = /^(?:\+84|84|0)(\d{9})$/;
const verdicts = new Map<string, boolean>();

/** libphonenumber's own verdict, uncached. */
export function isVietnameseMobileByLibphonenumber(national: string): boolean {
  const parsed = parsePhoneNumberFromString(`+84${national}`);
  return parsed !== undefined && parsed.country === 'VN' && parsed.isValid() && parsed.getType() === 'MOBILE';
}

/** The E.164 form (`+84XXXXXXXXX`) of a Vietnamese mobile number, or undefined. */
export function normaliseVietnameseMobile(input: string): string | undefined {
  const m = ACCEPTED_SHAPE.exec(input.trim());
  if (!m) return undefined;
  const national = m[1]!;
  const prefix = national.slice(0, 5);
  let mobile = verdicts.get(prefix);
  if (mobile === undefined) {
    mobile = isVietnameseMobileByLibphonenumber(national);
    verdicts.set(prefix, mobile);
  }
  return mobile ? `+84${national}` : undefined;
}
