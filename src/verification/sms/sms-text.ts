/**
 * The text of a verification SMS (issue 3 "SMS gateway": a text that names the platform, the code
 * its only 6-digit number), kept within one SMS part.
 *
 * Why one part: a long text is sent as several parts, each billed, while the budgets of issue 3
 * (SMS per day per provider) count codes; a text longer than one part multiplies the cost, and
 * what SMS pumping earns, without any budget seeing it. GSM 03.38 (3GPP TS 23.038 section 6.2.1)
 * fits 160 characters of its default alphabet in one part; a single character outside it (most
 * Vietnamese letters with diacritics: ệ, ơ, đ...) sends the whole text as UCS-2, 70 characters a
 * part (TS 23.040 section 9.2.3.24.1 for concatenation, 153 / 67 per part once split).
 *
 * So the default text is Vietnamese without diacritics (the usual form of Vietnamese OTP SMS)
 * with a short English part, and the platform name is put in it folded to the GSM-7 basic set and
 * cut to what the rest leaves of 160 characters. A template of the operator's own
 * (`IDBIND_SMS_TEMPLATE`) is never cut; the name is folded into it when the template itself is
 * GSM-7 (so that a provider's name does not turn it into UCS-2), and `smsTemplateWarning` says at
 * start when such a template cannot hold in one part.
 */
import { DEFAULT_SMS_TEMPLATE } from '../../kernel/config/config.ts';

/** Characters in one GSM-7 SMS part without a user data header (3GPP TS 23.038, TS 23.040). */
export const GSM7_PART = 160;
/** Characters in one UCS-2 SMS part. */
export const UCS2_PART = 70;

/**
 * The GSM 03.38 default alphabet (TS 23.038 section 6.2.1), every position but 0x1B (the escape to
 * the extension table). Each of these is one septet.
 */
const GSM7_BASIC = new Set(
  '@£$¥èéùìòÇ\nØø\rÅå' + 'Δ_ΦΓΛΩΠΨΣΘΞ' + 'ÆæßÉ' + ' !"#¤%&\'()*+,-./' + '0123456789:;<=>?' + '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§' + '¿abcdefghijklmnopqrstuvwxyzäöñüà',
);
/** The extension table (TS 23.038 section 6.2.1.1): two septets each (escape, then the character). */
const GSM7_EXTENSION = new Set('\f^{}\\[~]|€');

export function isGsm7Basic(text: string): boolean {
  for (const ch of text) if (!GSM7_BASIC.has(ch)) return false;
  return true;
}

/** Septets of `text` in GSM-7, or undefined when it needs UCS-2. */
function gsm7Length(text: string): number | undefined {
  let n = 0;
  for (const ch of text) {
    if (GSM7_BASIC.has(ch)) n += 1;
    else if (GSM7_EXTENSION.has(ch)) n += 2;
    else return undefined;
  }
  return n;
}

/** The longest provider name, in characters (providers/provider-service.ts, `NAME`). */
export const PLATFORM_NAME_MAX = 60;

// What a provider name may hold besides letters and digits (provider-service.ts), and the ASCII
// letters and digits: all in the GSM-7 basic set, and all a handset shows the same way.
const KEPT = /^[A-Za-z0-9 .&'+_-]$/;
const MARKS = /\p{M}+/gu;

/**
 * A provider name as it goes into a GSM-7 text: compatibility decomposition (NFKD: "ﬁ" to "fi",
 * full-width and mathematical letters to ASCII) with the marks removed, so that Vietnamese
 * "Mạng Xã Hội Việt" reads "Mang Xa Hoi Viet"; đ/Đ, which do not decompose, as d/D (as
 * registry/name-match.ts folds them, keeping the case here). Any other character (another
 * script) becomes "?", one per run, so the text still shows that a name stood there. A run of 6
 * or more digits, which only a compatibility digit can make (the provider's validation refuses
 * 6 ASCII digits), is split by a space: the code stays the only 6-digit number.
 */
export function gsm7PlatformName(name: string): string {
  const folded = name.normalize('NFKD').replace(MARKS, '').replace(/[đð]/g, 'd').replace(/[ĐÐ]/g, 'D');
  let out = '';
  let other = false;
  for (const ch of folded) {
    if (KEPT.test(ch)) {
      if (other) out += '?';
      other = false;
      out += ch;
    } else other = true;
  }
  if (other) out += '?';
  out = out.replace(/ {2,}/g, ' ').trim().replace(/\d{6,}/g, (run) => run.match(/\d{1,5}/g)!.join(' '));
  return out === '' ? '?' : out;
}

/** The platform placeholders and the code's length in a template: what a name of `n` characters makes it. */
function shape(template: string): { fixed: string; names: number; codes: number } {
  const names = template.split('{platform}').length - 1;
  const codes = template.split('{code}').length - 1;
  return { fixed: template.replaceAll('{platform}', '').replaceAll('{code}', ''), names, codes };
}

const CODE_LENGTH = 6;

function nameBudget(template: string): number {
  const s = shape(template);
  return Math.floor((GSM7_PART - s.fixed.length - s.codes * CODE_LENGTH) / Math.max(1, s.names));
}

/** Characters left to the platform name in the default text. */
export const DEFAULT_NAME_BUDGET = nameBudget(DEFAULT_SMS_TEMPLATE);

/** `name` cut to `max` characters, "..." marking the cut. */
function cut(name: string, max: number): string {
  if (name.length <= max) return name;
  return `${name.slice(0, max - 3).trimEnd()}...`;
}

// One entry: a hub has one template, and this runs for every code sent.
let lastTemplate: string | undefined;
let lastTemplateIsGsm7 = false;

function templateIsGsm7(template: string): boolean {
  if (template !== lastTemplate) {
    lastTemplate = template;
    // The extension table is GSM-7 too (two septets a character, as smsTemplateWarning counts
    // them): a template with "[" or "€" must get the name folded, or the name makes it UCS-2.
    lastTemplateIsGsm7 = gsm7Length(shape(template).fixed) !== undefined;
  }
  return lastTemplateIsGsm7;
}

/**
 * The SMS text of a code: `template` with `{platform}` and `{code}` replaced in one pass (so
 * nothing in a name is read as a placeholder). The default template gets the name folded to
 * GSM-7 and cut to {@link DEFAULT_NAME_BUDGET}, which keeps the text within 160 GSM-7 characters
 * for every name; an operator's template is never cut (see the module comment).
 */
export function codeText(template: string, platform: string, code: string): string {
  let name: string;
  if (template === DEFAULT_SMS_TEMPLATE) name = cut(gsm7PlatformName(platform), DEFAULT_NAME_BUDGET);
  else name = templateIsGsm7(template) ? gsm7PlatformName(platform) : platform;
  return template.replace(/\{platform\}|\{code\}/g, (m: string, at: number) => {
    if (m === '{code}') return code;
    // A name that touches the code ("{code}{platform}") is kept apart from it by a space where
    // its edge is a digit: the code must stay the only 6-digit number (issue 3), not "1234567".
    let n = name;
    if (template.endsWith('{code}', at) && /^\p{Nd}/u.test(n)) n = ` ${n}`;
    if (template.startsWith('{code}', at + m.length) && /\p{Nd}$/u.test(n)) n = `${n} `;
    return n;
  });
}

/**
 * What to tell the operator at start about `IDBIND_SMS_TEMPLATE` (undefined for the default or a
 * template that always fits one part): a template outside GSM-7 goes as UCS-2, 70 characters a
 * part; a GSM-7 one may pass 160 characters with a long platform name. Mentions no name and no
 * number, only lengths.
 */
export function smsTemplateWarning(template: string): string | undefined {
  if (template === DEFAULT_SMS_TEMPLATE) return undefined;
  const s = shape(template);
  const septets = gsm7Length(s.fixed);
  const longest = (fixedLength: number) => fixedLength + s.codes * CODE_LENGTH + s.names * PLATFORM_NAME_MAX;
  if (septets === undefined) {
    const chars = longest(s.fixed.length); // UTF-16 code units, as UCS-2 counts them
    return `IDBIND_SMS_TEMPLATE has characters outside the GSM-7 alphabet, so every code is sent as UCS-2 (${UCS2_PART} characters a part): `
      + `up to ${chars} characters with a ${PLATFORM_NAME_MAX}-character platform name${chars > UCS2_PART ? `, more than one part (each part is billed; budgets count codes)` : ''}`;
  }
  const chars = longest(septets);
  if (chars <= GSM7_PART) return undefined;
  return `IDBIND_SMS_TEMPLATE can take more than one SMS part (${GSM7_PART} GSM-7 characters): up to ${chars} characters with a `
    + `${PLATFORM_NAME_MAX}-character platform name (each part is billed; budgets count codes)`;
}
