/**
 * Junk-SIM categories (issue 2, "Reconciliation categories"; Directive 57-CT/TW). One per
 * non-terminated subscription, the first that applies, in this order, which is authoritative.
 */
export const CATEGORIES = ['NO_HOLDER', 'HOLDER_NOT_FOUND', 'HOLDER_DECEASED', 'HOLDER_DATA_MISMATCH', 'ONLINE_BEYOND_LIMIT'] as const;
export type Category = (typeof CATEGORIES)[number];

/** A carrier may register only a person's first three numbers online (Decree 163/2024 Art. 20). */
export const ONLINE_REGISTRATION_LIMIT = 3;

export type CategoryCounts = Record<Category, number>;

export function zeroCounts(): CategoryCounts {
  return { NO_HOLDER: 0, HOLDER_NOT_FOUND: 0, HOLDER_DECEASED: 0, HOLDER_DATA_MISMATCH: 0, ONLINE_BEYOND_LIMIT: 0 };
}
