/**
 * Axis arithmetic shared by the SVG charts: a "nice" upper bound and evenly spaced ticks at
 * 1, 2 or 5 times a power of ten, so axis labels read as round numbers.
 */

export interface Ticks {
  max: number;
  values: number[];
}

/** Ticks from 0 to at least `max`, about `count` intervals; a 0..1 axis when everything is 0. */
export function niceTicks(max: number, count = 4): Ticks {
  if (!(max > 0)) return { max: 1, values: [0, 1] };
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const wholeStep = Math.max(1, step); // counts are integers
  const top = Math.ceil(max / wholeStep) * wholeStep;
  const values: number[] = [];
  for (let v = 0; v <= top + wholeStep / 2; v += wholeStep) values.push(v);
  return { max: top, values };
}
