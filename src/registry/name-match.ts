/**
 * Name comparison for reconciliation (issue 2, HOLDER_DATA_MISMATCH): Unicode normalisation, case
 * folding, collapsed spaces, and Vietnamese letters reduced to their base Latin letters, so that
 * "NGUYEN VAN AN" matches "Nguyễn Văn An" while "Nguyễn Văn Anh" does not.
 */
const COMBINING_MARKS = /\p{M}+/gu;

// Full names repeat a great deal in a national registry (a few family names cover most people),
// and Unicode normalisation is a tenth of an import worker's time per row: a bounded memo of each
// pure function pays. Emptied when full, so memory stays bounded whatever the input.
const MEMO_LIMIT = 100_000;
function memoised(f: (s: string) => string): (s: string) => string {
  const memo = new Map<string, string>();
  return (s) => {
    let out = memo.get(s);
    if (out === undefined) {
      out = f(s);
      if (memo.size >= MEMO_LIMIT) memo.clear();
      memo.set(s, out);
    }
    return out;
  };
}

export const nameMatchKey: (name: string) => string = memoised((name) => name
    .normalize('NFD')
    .replace(COMBINING_MARKS, '')
    .replace(/[đĐ]/g, 'd')
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .trim());

/** A stored name: NFC, single spaces. */
export const canonicalName: (name: string) => string = memoised((name) => name.normalize('NFC').replace(/\s+/g, ' ').trim());

/** Letters (any script), combining marks, spaces, apostrophes, hyphens and dots; 1-200 chars. */
export function isPlausibleName(name: string): boolean {
  return name.length >= 1 && name.length <= 200 && /^[\p{L}\p{M}][\p{L}\p{M} '.-]*$/u.test(name);
}
