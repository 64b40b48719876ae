/**
 * The verification SMS text within one GSM-7 part (issue 3 "SMS gateway"; GSM 03.38 = 3GPP TS
 * 23.038 section 6.2.1): for the default template, over thousands of provider names that the
 * provider validation accepts (ASCII, Vietnamese with every tone mark, other scripts,
 * compatibility letters and digits, 60-character names), the text is at most 160 characters of
 * the GSM-7 basic set and holds the code once, as its only run of 6 or more digits.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_SMS_TEMPLATE } from '../../kernel/config/config.ts';
import { codeText, DEFAULT_NAME_BUDGET, gsm7PlatformName, smsTemplateWarning } from './sms-text.ts';

// The GSM 03.38 default alphabet written out from the table of TS 23.038 section 6.2.1, column by
// column (0x00-0x0F, 0x10-0x1F without 0x1B ESC, 0x20-0x7F), independently of sms-text.ts.
const GSM7 = new Set([
  ...'@£$¥èéùìòÇ\nØø\rÅå',
  ...'Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ',
  ...' !"#¤%&\'()*+,-./0123456789:;<=>?',
  ...'¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà',
]);

// The provider validation (providers/provider-service.ts `checkName`): the names to cover.
const NAME = /^[\p{L}\p{N}][\p{L}\p{N} .&'+_-]{0,59}$/u;
const accepted = (name: string) => NAME.test(name) && !/\d{6}/.test(name);

/** Every precomposed Vietnamese letter: 12 vowels x 6 tones, both cases, and đ/Đ. */
const VIETNAMESE = (() => {
  const out: string[] = ['đ', 'Đ'];
  for (const base of ['a', 'ă', 'â', 'e', 'ê', 'i', 'o', 'ô', 'ơ', 'u', 'ư', 'y']) {
    for (const tone of ['', '\u0300', '\u0301', '\u0309', '\u0303', '\u0323']) {
      const letter = (base + tone).normalize('NFC');
      out.push(letter, letter.toUpperCase());
    }
  }
  return out;
})();

const POOLS: readonly (readonly string[])[] = [
  [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'],
  [...'0123456789'],
  VIETNAMESE,
  [...' .&\'+_-'],
  // Other scripts, and letters and digits that NFKD turns into ASCII (full-width, mathematical, ligatures).
  [...'微博中文网Яндекс', 'ΔΕΛΤΑλ', 'ÆæØøÅåßñü'],
  [...'ＡＢＣａｂｃ０１２３４５６７８９', 'ﬁ', 'ﬃ', '𝐀', '𝐳', '𝟎', '𝟗', 'ǅ', '²', '½'],
];

/** A small seeded generator (mulberry32), so a failure names a name that can be found again. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function names(count: number, seed: number): string[] {
  const next = random(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)]!;
  const out: string[] = [];
  while (out.length < count) {
    // A third at the longest length the validation allows; some mostly Vietnamese; some long digit runs.
    const length = next() < 0.35 ? 60 : 1 + Math.floor(next() * 60);
    const style = next();
    const chars: string[] = [];
    while (chars.length < length) {
      if (style < 0.1 && next() < 0.2) {
        for (let i = 0; i < 7 && chars.length < length; i++) chars.push(pick(next() < 0.5 ? [...'0123456789'] : [...'０１２３４５６７８９']));
        continue;
      }
      chars.push(pick(style < 0.4 ? (next() < 0.7 ? VIETNAMESE : POOLS[3]!) : pick(POOLS)));
    }
    const name = chars.join('');
    if (accepted(name)) out.push(name);
  }
  return out;
}

function code(next: () => number): string {
  return String(Math.floor(next() * 1_000_000)).padStart(6, '0');
}

describe('the default SMS text', () => {
  it('is GSM-7, names the platform once and holds the code once, leaving 44 characters to the name', () => {
    expect([...DEFAULT_SMS_TEMPLATE.replaceAll('{platform}', '').replaceAll('{code}', '')].every((c) => GSM7.has(c))).toBe(true);
    expect(DEFAULT_SMS_TEMPLATE.split('{code}')).toHaveLength(2);
    expect(DEFAULT_SMS_TEMPLATE.split('{platform}')).toHaveLength(2);
    expect(DEFAULT_NAME_BUDGET).toBe(44); // README.md and docs/platforms.md say 44
    expect(codeText(DEFAULT_SMS_TEMPLATE, 'Sen Social', '012345'))
      .toBe('012345 la ma xac minh Sen Social cua ban, het han sau 5 phut. Khong chia se ma nay. / Your code, valid 5 min. Do not share it.');
  });

  it('fits one GSM-7 part with the code as its only 6-digit run, for 5,000 accepted names', () => {
    const next = random(20_241_147);
    const all = names(5_000, 147);
    expect(all.filter((n) => [...n].length === 60).length).toBeGreaterThan(1_000);
    expect(all.filter((n) => /[đĐ]/.test(n)).length).toBeGreaterThan(100);
    expect(all.filter((n) => /\p{Script=Han}/u.test(n)).length).toBeGreaterThan(100);
    expect(all.filter((n) => /\d{6}/.test(n.normalize('NFKD'))).length).toBeGreaterThan(50); // runs only folding makes
    for (const name of all) {
      const c = code(next);
      const text = codeText(DEFAULT_SMS_TEMPLATE, name, c);
      const where = JSON.stringify(name);
      expect(text.length, where).toBeLessThanOrEqual(160);
      expect([...text].filter((ch) => !GSM7.has(ch)), where).toEqual([]);
      expect(text.match(/\d{6,}/g), where).toEqual([c]);
      expect(text.match(/\b\d{6}\b/g), where).toEqual([c]);
      expect(text.startsWith(`${c} la ma xac minh `), where).toBe(true);
    }
  });

  it('keeps an ASCII name as it is, within the budget', () => {
    for (const name of names(2_000, 7).filter((n) => /^[A-Za-z0-9 .&'+_-]+$/.test(n) && !/ {2}|^ | $/.test(n) && n.length <= DEFAULT_NAME_BUDGET)) {
      expect(codeText(DEFAULT_SMS_TEMPLATE, name, '000000')).toContain(` ${name} cua ban`);
    }
    expect(codeText(DEFAULT_SMS_TEMPLATE, "Tom & Jerry's Net+_-.", '123456')).toContain("minh Tom & Jerry's Net+_-. cua ban");
  });

  it('folds Vietnamese to unaccented letters (đ/Đ as d/D), other scripts to "?", and cuts a long name with "..."', () => {
    expect(gsm7PlatformName('Mạng Xã Hội Việt')).toBe('Mang Xa Hoi Viet');
    expect(gsm7PlatformName('Đường Đua Đỏ đẹp')).toBe('Duong Dua Do dep');
    expect(gsm7PlatformName('Ứng Dụng Ợ Ữ Ỷ')).toBe('Ung Dung O U Y');
    expect(gsm7PlatformName('微博')).toBe('?');
    expect(gsm7PlatformName('Zalo 中文 Pro')).toBe('Zalo ? Pro');
    expect(gsm7PlatformName('Яндекс Go')).toBe('? Go');
    expect(gsm7PlatformName('Ｓｈｏｐ ﬁ 𝐁𝐨𝐥𝐝')).toBe('Shop fi Bold');
    // Digits that only become a 6-digit run once folded: split, so the code stays the only one.
    expect(gsm7PlatformName('Shop １２３４５６７')).toBe('Shop 12345 67');
    expect(gsm7PlatformName('Net 12３４56')).toBe('Net 12345 6');

    const long = 'Mạng Xã Hội Đường Phố Ẩm Thực Hà Nội Sài Gòn Cần Thơ Huế Ý Ở';
    expect([accepted(long), [...long].length]).toEqual([true, 60]);
    const text = codeText(DEFAULT_SMS_TEMPLATE, long, '654321');
    expect(text).toContain('minh Mang Xa Hoi Duong Pho Am Thuc Ha Noi Sai... cua ban');
    expect(text.length).toBeLessThanOrEqual(160);
  });
});

describe("an operator's template (IDBIND_SMS_TEMPLATE)", () => {
  const long = 'Mạng Xã Hội Đường Phố Ẩm Thực Hà Nội Sài Gòn Cần Thơ Huế Ý Ở';

  it('is never cut; a GSM-7 template gets the name folded, a UCS-2 one the name as given', () => {
    const gsm = '{code} is the {platform} code. The staff of {platform} never ask for it.';
    expect(codeText(gsm, long, '111111')).toBe(`111111 is the ${gsm7PlatformName(long)} code. The staff of ${gsm7PlatformName(long)} never ask for it.`);
    expect(codeText(gsm, long, '111111').length).toBeGreaterThan(160);
    const ucs2 = '{code} là mã xác minh {platform} của bạn';
    expect(codeText(ucs2, long, '222222')).toBe(`222222 là mã xác minh ${long} của bạn`);
  });

  it('gets the name folded when the template is GSM-7 with extension characters ([, ], €, ...)', () => {
    // [ and ] are GSM-7 (the extension table, two septets each): the text must stay GSM-7, as
    // smsTemplateWarning (which counts them so) tells the operator it does.
    const template = '{code} [{platform}] code';
    expect(smsTemplateWarning(template)).toBeUndefined();
    const text = codeText(template, long, '444444');
    expect(text).toBe(`444444 [${gsm7PlatformName(long)}] code`);
    expect([...text].every((c) => GSM7.has(c) || '[]'.includes(c))).toBe(true);
  });

  it('keeps the code its own 6-digit run when the name touches it', () => {
    for (const [template, name] of [['{code}{platform}', '7 Net'], ['{platform}{code}', 'Net 7'], ['{platform}{code}{platform}', '１ Net ２'], ['{code}{platform}', '٣ Net']] as const) {
      const text = codeText(template, name, '555555');
      expect(text.match(/\d+/g)!.filter((run) => run.length >= 6), `${template} ${name}: ${text}`).toEqual(['555555']);
      expect(text, template).toMatch(/\b555555\b/);
    }
  });

  it('replaces the placeholders in one pass', () => {
    expect(codeText('{platform}: {code} – {code}', 'A{code}B', '333333')).toBe('A{code}B: 333333 – 333333');
  });

  it('is warned about at start when it can take more than one part, with lengths only', () => {
    expect(smsTemplateWarning(DEFAULT_SMS_TEMPLATE)).toBeUndefined();
    expect(smsTemplateWarning('{code} is your {platform} code')).toBeUndefined();
    const long = smsTemplateWarning(`{code} is your {platform} code. ${'Never share it with anyone. '.repeat(3)}`);
    expect(long).toMatch(/more than one SMS part \(160 GSM-7 characters\): up to \d+ characters with a 60-character platform name/);
    // Extension characters count twice: 60 of them are 120 septets, with 2 spaces, a code and a 60-character name 188.
    expect(smsTemplateWarning(`{code} {platform} ${'[]'.repeat(30)}`)).toMatch(/up to 188 characters/);
    const ucs2 = smsTemplateWarning('{code} là mã xác minh {platform}');
    expect(ucs2).toMatch(/outside the GSM-7 alphabet, so every code is sent as UCS-2 \(70 characters a part\): up to 8\d characters .* more than one part/);
    expect(ucs2).not.toContain('mã');
  });
});
