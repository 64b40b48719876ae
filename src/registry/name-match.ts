/**
 * Name comparison for reconciliation (issue 2, HOLDER_DATA_MISMATCH): Unicode normalisation, case
 * folding, collapsed spaces, and Vietnamese letters reduced to their base Latin letters, so that
 * "NGUYEN VAN AN" matches "Nguyễn Văn An" while "Nguyễn Văn Anh" does not.
 */
const COMBINING_MARKS = /\p{M}+/gu;

/** The definition: NFD, marks removed, đ as d, lower case, single spaces, trimmed. */
export function nameMatchKeySlow(name: string): string {
  return name
    .normalize('NFD')
    .replace(COMBINING_MARKS, '')
    .replace(/[đĐ]/g, 'd')
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .trim();
}

/** The definition: NFC, single spaces, trimmed. */
export function canonicalNameSlow(name: string): string {
  return name.normalize('NFC').replace(/\s+/g, ' ').trim();
}

// Unicode normalisation was a tenth of an import worker's time per row (issue 2 benchmark). A name
// made only of ASCII letters, precomposed Latin letters (Vietnamese ones included) and plain
// spaces needs none of it: decomposition, mark removal and case folding act on each such letter
// alone, and such a string is already NFC. So each letter's result is computed once, here, from
// the definitions above, and any other character (a combining mark, a tab, another script) sends
// the whole name through the definitions. Equivalence is tested in name-match.test.ts.
const FOLD = new Map<number, string>();
const NFC_STABLE = new Set<number>();
for (const [from, to] of [[0x41, 0x5a], [0x61, 0x7a], [0xc0, 0x24f], [0x1e00, 0x1eff]] as const) {
  for (let cp = from; cp <= to; cp++) {
    const ch = String.fromCodePoint(cp);
    if (ch.normalize('NFC') === ch) NFC_STABLE.add(cp);
    const folded = nameMatchKeySlow(ch);
    if (/^[a-z]$/.test(folded) && ch.normalize('NFC') === ch) FOLD.set(cp, folded);
  }
}

export function nameMatchKey(name: string): string {
  let out = '';
  let space = false;
  for (let i = 0; i < name.length; i++) {
    const cp = name.charCodeAt(i);
    if (cp === 0x20) {
      space = out !== '';
      continue;
    }
    const f = FOLD.get(cp);
    if (f === undefined) return nameMatchKeySlow(name);
    if (space) out += ' ';
    space = false;
    out += f;
  }
  return out;
}

/** A stored name: NFC, single spaces. */
export function canonicalName(name: string): string {
  for (let i = 0; i < name.length; i++) {
    const cp = name.charCodeAt(i);
    if (cp !== 0x20 && !NFC_STABLE.has(cp)) return canonicalNameSlow(name);
  }
  return name.includes('  ') || name.startsWith(' ') || name.endsWith(' ') ? name.replace(/ +/g, ' ').trim() : name;
}

/** Letters (any script), combining marks, spaces, apostrophes, hyphens and dots; 1-200 chars. */
export function isPlausibleName(name: string): boolean {
  return name.length >= 1 && name.length <= 200 && /^[\p{L}\p{M}][\p{L}\p{M} '.-]*$/u.test(name);
}
