/**
 * How carriers are named on screen. The API identifies a carrier by its slug (from
 * `--carrier`); the known Vietnamese carriers get their brand spelling, any other slug is shown
 * as it is. Brand names are the same in both languages.
 */
const brands: Record<string, string> = {
  viettel: 'Viettel',
  vinaphone: 'VinaPhone',
  mobifone: 'MobiFone',
  vietnamobile: 'Vietnamobile',
  gmobile: 'Gmobile',
  itel: 'iTel',
  itelecom: 'iTel',
  reddi: 'Reddi',
  wintel: 'Wintel',
  local: 'Local',
};

export function carrierName(slug: string): string {
  return brands[slug.toLowerCase()] ?? slug;
}

/** Carriers in a stable order: by brand name, as the person reads them. */
export function sortCarriers(slugs: Iterable<string>): string[] {
  return [...slugs].sort((a, b) => carrierName(a).localeCompare(carrierName(b), 'vi'));
}
