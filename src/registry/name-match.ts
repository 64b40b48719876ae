/**
 * Name comparison for reconciliation (issue 2, HOLDER_DATA_MISMATCH): Unicode normalisation, case
 * folding, collapsed spaces, and Vietnamese letters reduced to their base Latin letters, so that
 * "NGUYEN VAN AN" matches "Nguyễn Văn An" while "Nguyễn Văn Anh" does not.
 */
const COMBINING_MARKS = /\p{M}+/gu;

export function nameMatchKey(name: string): string {
  return name
    .normalize('NFD')
    .replace(COMBINING_MARKS, '')
    .replace(/[đĐ]/g, 'd')
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .trim();
}

/** A stored name: NFC, single spaces. */
export function canonicalName(name: string): string {
  return name.normalize('NFC').replace(/\s+/g, ' ').trim();
}

/** Letters (any script), combining marks, spaces, apostrophes, hyphens and dots; 1-200 chars. */
export function isPlausibleName(name: string): boolean {
  return name.length >= 1 && name.length <= 200 && /^[\p{L}\p{M}][\p{L}\p{M} '.-]*$/u.test(name);
}
