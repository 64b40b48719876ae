/**
 * Vietnamese mobile numbers, normalised to E.164 with libphonenumber's full metadata
 * (`libphonenumber-js/max`, number type MOBILE). Accepted inputs: 0XXXXXXXXX, 84XXXXXXXXX and
 * +84XXXXXXXXX. The carrier is never guessed from the prefix: numbers are ported.
 */
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';

const ACCEPTED_SHAPE = /^(?:\+84|84|0)(\d{9})$/;

/** The E.164 form (`+84XXXXXXXXX`) of a Vietnamese mobile number, or undefined. */
export function normaliseVietnameseMobile(input: string): string | undefined {
  const m = ACCEPTED_SHAPE.exec(input.trim());
  if (!m) return undefined;
  const parsed = parsePhoneNumberFromString(`+84${m[1]}`);
  if (!parsed || parsed.country !== 'VN' || !parsed.isValid() || parsed.getType() !== 'MOBILE') return undefined;
  return parsed.number;
}
