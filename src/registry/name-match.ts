/**
 * Name comparison for reconciliation (issue 2, HOLDER_DATA_MISMATCH): Unicode normalisation, case
 * folding, collapsed spaces, and Vietnamese letters reduced to their base Latin letters, so that
 * "NGUYEN VAN AN" matches "Nguyễn Văn An" while "Nguyễn Văn Anh" does not.
 *
 * Two rules exist, because the match index of a name is a blind index (DESIGN.md invariant 2) and
 * every row of one blind-index key version must be folded by the same rule, or a person and a
 * subscription written at different times would stop matching. Each blind-index key version
 * records its rule (`key_versions.name_rule`, migration 0030); a new version takes the latest, and
 * a rotation (`idbind keys rotate --blind-index`) re-indexes every row under it (docs/keys.md).
 *
 * - Rule 1: NFD, marks removed, đ/Đ as d, lower case, single spaces, trimmed.
 * - Rule 2: rule 1 with compatibility decomposition (NFKD: full-width "ＮＧＵＹＥＮ" and other
 *   compatibility forms are their plain letters) and Ð/ð (U+00D0/U+00F0, the Icelandic eth, which
 *   looks exactly like Đ and which legacy code-page conversions and some keyboards write for it)
 *   as d. Under rule 1 such a holder never matched the registry's "Đ" and was reported as
 *   HOLDER_DATA_MISMATCH: a junk SIM for a real, correctly registered person.
 * - Rule 3 (CURRENT_NAME_RULE): rule 2 with ʼ (U+02BC, the modifier letter apostrophe) as ', and
 *   default-ignorable code points (zero-width space U+200B, soft hyphen U+00AD, word joiner U+2060,
 *   bidirectional marks...) removed before spaces are collapsed. Names of the Central Highlands
 *   hold an apostrophe ("H'Hen Niê"), and Unicode recommends ʼ for one that is part of a word, so
 *   a registry or a carrier system may write either; and an invisible character copied from a web
 *   page or a word processor stays in a carrier's name (the population file refuses such names, a
 *   carrier's are taken as written). Under rules 1 and 2 either made a correctly registered
 *   holder HOLDER_DATA_MISMATCH, the same harm as above. Removing default-ignorables is what
 *   Unicode's caseless matching of identifiers does (NFKC_Casefold, UAX #31 / Unicode 3.13), so
 *   it is the issue's "Unicode normalisation, case folding". Stored names keep both as typed
 *   (canonicalName): only the match index folds them.
 */
import { CURRENT_NAME_RULE, type NameRule } from '../kernel/crypto/key-ring.ts';

export { CURRENT_NAME_RULE, type NameRule };

const COMBINING_MARKS = /\p{M}+/gu;
const DEFAULT_IGNORABLES = /\p{Default_Ignorable_Code_Point}+/gu;

/** What each rule folds that the rule before it did not, as `idbind keys status` tells an operator. */
const NAME_RULE_ADDITIONS: Readonly<Record<Exclude<NameRule, 1>, readonly string[]>> = {
  2: ['Ð', 'full-width letters'],
  3: ["ʼ as '", 'invisible characters ignored'],
};

/** What moving from rule `from` (older) to CURRENT_NAME_RULE folds in addition, in words ("ʼ as ' and invisible characters ignored"). */
function nameRuleAdditions(from: number): string {
  const items: string[] = [];
  for (let r = from + 1; r <= CURRENT_NAME_RULE; r++) items.push(...NAME_RULE_ADDITIONS[r as Exclude<NameRule, 1>]);
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)!}`;
}

/**
 * What `idbind keys status` and `idbind serve` tell an operator whose current blind-index key
 * version folds names by an older rule than CURRENT_NAME_RULE (a database upgraded from it keeps
 * its rule until a blind-index rotation: docs/keys.md "Name rules"); undefined when it is the latest
 * (or a rule this code does not know, which the key ring refuses with its own error).
 */
export function nameRuleUpgradeNotice(current: number): string | undefined {
  if (!(current >= 1 && current < CURRENT_NAME_RULE)) return undefined;
  return `names are matched by rule ${current}; \`idbind keys rotate --blind-index\` applies rule ${CURRENT_NAME_RULE} (${nameRuleAdditions(current)}; docs/keys.md "Name rules")`;
}

/** The definitions of the rules above. */
export function nameMatchKeySlow(name: string, rule: NameRule): string {
  if (rule === 1) {
    return name
      .normalize('NFD')
      .replace(COMBINING_MARKS, '')
      .replace(/[đĐ]/g, 'd')
      .toLowerCase()
      .replace(/\s+/g, ' ')
      .trim();
  }
  const decomposed = name.normalize('NFKD');
  // Rule 3: removed before spaces are collapsed, so that "An\u200b " ends as "an", not "an ".
  return (rule === 2 ? decomposed : decomposed.replace(DEFAULT_IGNORABLES, '').replace(/\u02bc/g, "'"))
    .replace(COMBINING_MARKS, '')
    .replace(/[đĐðÐ]/g, 'd')
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * Apostrophes as typed: ’ (U+2019) and ‘ (U+2018), which word processors and spreadsheets put for
 * ' as it is typed. Names of the Central Highlands hold one ("H'Hen Niê"): a population row typed
 * so was rejected (NAME_INVALID), and a carrier's ’ against the registry's ' was a
 * HOLDER_DATA_MISMATCH. Stored as ', so both sides' match indexes agree under any name rule.
 *
 * Not ʼ (U+02BC): Unicode counts it a letter, so names holding it were taken and stored as typed,
 * their match indexes with it; storing it as ' now would make every such person's match index
 * differ from their carriers' until both files were imported again (junk-SIM flags for correctly
 * registered people meanwhile). It matches ' from name rule 3 on, in the match index only (a new
 * rule, adopted by a blind-index rotation that re-indexes everything: docs/keys.md).
 */
const TYPED_APOSTROPHES = /[\u2018\u2019]/g;

/** The definition: NFC, typed apostrophes as ', single spaces, trimmed. */
export function canonicalNameSlow(name: string): string {
  return name.normalize('NFC').replace(TYPED_APOSTROPHES, "'").replace(/\s+/g, ' ').trim();
}

// Unicode normalisation was a tenth of an import worker's time per row (issue 2 benchmark). A name
// made only of ASCII letters, precomposed Latin letters (Vietnamese ones included) and plain
// spaces needs none of it: decomposition, mark removal and case folding act on each such letter
// alone, and such a string is already NFC. So each letter's result is computed once, here, from
// the definitions above, and any other character (a combining mark, a tab, another script) sends
// the whole name through the definitions. Equivalence is tested in name-match.test.ts.
const FOLDS = { 1: new Map<number, string>(), 2: new Map<number, string>(), 3: new Map<number, string>() } satisfies Record<NameRule, Map<number, string>>;
const NFC_STABLE = new Set<number>();
for (const [from, to] of [[0x41, 0x5a], [0x61, 0x7a], [0xc0, 0x24f], [0x1e00, 0x1eff]] as const) {
  for (let cp = from; cp <= to; cp++) {
    const ch = String.fromCodePoint(cp);
    if (ch.normalize('NFC') === ch) NFC_STABLE.add(cp);
    for (const rule of [1, 2, 3] as const) {
      const folded = nameMatchKeySlow(ch, rule);
      if (/^[a-z]$/.test(folded) && ch.normalize('NFC') === ch) FOLDS[rule].set(cp, folded);
    }
  }
}

/** A name as the match index of a blind-index key version folds it, by that version's rule. */
export function nameMatchKey(name: string, rule: NameRule): string {
  const FOLD = FOLDS[rule];
  if (!FOLD) throw new RangeError(`unknown name rule ${String(rule)}`);
  let out = '';
  let space = false;
  for (let i = 0; i < name.length; i++) {
    const cp = name.charCodeAt(i);
    if (cp === 0x20) {
      space = out !== '';
      continue;
    }
    const f = FOLD.get(cp);
    if (f === undefined) return nameMatchKeySlow(name, rule);
    if (space) out += ' ';
    space = false;
    out += f;
  }
  return out;
}

/** A stored name: NFC, typed apostrophes as ', single spaces. */
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
