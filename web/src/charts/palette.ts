/**
 * Colours and point markers of the five reconciliation categories, the same in every chart. The
 * colours are the Okabe–Ito palette, told apart with the common colour-vision deficiencies; the
 * line chart adds a distinct marker shape per category so colour is never the only cue.
 */
import type { Category } from '../api/types.ts';

export type MarkerShape = 'circle' | 'square' | 'triangle' | 'diamond' | 'cross';

export const categoryStyle: Record<Category, { color: string; marker: MarkerShape }> = {
  NO_HOLDER: { color: '#0072B2', marker: 'circle' },
  HOLDER_NOT_FOUND: { color: '#E69F00', marker: 'square' },
  HOLDER_DECEASED: { color: '#009E73', marker: 'triangle' },
  HOLDER_DATA_MISMATCH: { color: '#CC79A7', marker: 'diamond' },
  ONLINE_BEYOND_LIMIT: { color: '#D55E00', marker: 'cross' },
};
