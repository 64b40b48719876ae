/**
 * The carriers' mobile prefixes, for the synthetic generator ONLY (issue 2: "mobile numbers in the
 * carriers' real prefixes, from a prefix table kept for the generator only"). The hub itself never
 * guesses a carrier from a prefix: numbers are ported, and the carrier of a number is the one whose
 * file holds it (issue 2, Rules).
 *
 * Prefixes are the national (trunk 0) prefixes after the 2018 conversion of 11-digit numbers to
 * 10 digits. Market shares are rough subscriber shares (Viettel about 54 %, VinaPhone 25 %,
 * MobiFone 18 %, Vietnamobile 3 %).
 *
 * Not every number in these ranges is a MOBILE number in libphonenumber's metadata (for example
 * only 0896-0899 of MobiFone's 089 are), and the hub accepts only what `normaliseVietnameseMobile`
 * accepts. So each carrier's usable 4-digit national sub-prefixes (0 + 3 digits of the national
 * significant number, leaving 6 free digits) are computed once, by testing sample numbers of each
 * with that very function; a sub-prefix is kept only when every sample passes.
 */
import { normaliseVietnameseMobile } from '../phone-number.ts';

export const CARRIER_SLUGS = ['viettel', 'vinaphone', 'mobifone', 'vietnamobile'] as const;
export type CarrierSlug = (typeof CARRIER_SLUGS)[number];

export interface CarrierPrefixes {
  readonly slug: CarrierSlug;
  /** Approximate share of subscriptions. */
  readonly share: number;
  /** Trunk prefixes as dialled in Vietnam, e.g. `096`. */
  readonly prefixes: readonly string[];
}

export const CARRIERS: readonly CarrierPrefixes[] = [
  {
    slug: 'viettel',
    share: 0.54,
    prefixes: ['086', '096', '097', '098', '032', '033', '034', '035', '036', '037', '038', '039'],
  },
  { slug: 'vinaphone', share: 0.25, prefixes: ['088', '091', '094', '081', '082', '083', '084', '085'] },
  { slug: 'mobifone', share: 0.18, prefixes: ['089', '090', '093', '070', '076', '077', '078', '079'] },
  { slug: 'vietnamobile', share: 0.03, prefixes: ['092', '056', '058'] },
];

/** Six-digit tails tried for each sub-prefix: the ends of the range and a spread in between. */
const SAMPLE_TAILS = ['000000', '999999', '123456', '500000', '987654', '010101', '777777', '246802', '314159', '865309'];

/**
 * The usable sub-prefixes of one carrier: 3-digit national significant prefixes (`896` for
 * 0896xxxxxx), sorted, each followed by any 6 digits making a number the hub accepts.
 */
function usableSubPrefixes(carrier: CarrierPrefixes): string[] {
  const out: string[] = [];
  for (const prefix of carrier.prefixes) {
    for (let digit = 0; digit <= 9; digit++) {
      const sub = `${prefix.slice(1)}${digit}`;
      if (SAMPLE_TAILS.every((tail) => normaliseVietnameseMobile(`0${sub}${tail}`) === `+84${sub}${tail}`)) out.push(sub);
    }
  }
  return out.sort();
}

let cache: Readonly<Record<CarrierSlug, readonly string[]>> | undefined;

/** Computed on first use (about 3,000 libphonenumber checks), then kept. */
export function carrierSubPrefixes(): Readonly<Record<CarrierSlug, readonly string[]>> {
  if (!cache) {
    const table = {} as Record<CarrierSlug, readonly string[]>;
    for (const carrier of CARRIERS) {
      const subs = usableSubPrefixes(carrier);
      if (subs.length === 0) throw new Error(`no usable mobile prefix for ${carrier.slug}`);
      table[carrier.slug] = Object.freeze(subs);
    }
    cache = Object.freeze(table);
  }
  return cache;
}

/** Numbers available to a carrier: usable sub-prefixes times 10^6. */
export function carrierNumberSpace(slug: CarrierSlug): number {
  return carrierSubPrefixes()[slug].length * 1_000_000;
}
