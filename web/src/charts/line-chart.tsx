/**
 * A line chart in inline SVG: one line per series (a category) over evenly spaced points (the
 * runs, oldest on the left), each series with its colour and its own marker shape. Runs are spaced
 * evenly rather than by time so that runs minutes apart stay apart. X labels are thinned to fit
 * the width, counting back from the latest run, which is always labelled. An image to assistive technology (role="img"); the figures are in the page's table.
 */
import type { MarkerShape } from './palette.ts';
import { Marker } from './marker.tsx';
import { niceTicks } from './scale.ts';
import { useWidth } from './use-width.ts';

export interface LineSeries {
  key: string;
  label: string;
  color: string;
  marker: MarkerShape;
  /** One value per point, in the order of `points`. */
  values: number[];
}

interface LineChartProps {
  /** The x labels, one per point. */
  points: string[];
  series: LineSeries[];
  formatNumber(n: number): string;
  labelledBy: string;
  describedBy?: string;
  testId?: string;
}

const HEIGHT = 280;
const TOP = 16;
const BOTTOM = 46;
const CHAR = 7.2;

export function LineChart({ points, series, formatNumber, labelledBy, describedBy, testId }: LineChartProps) {
  const [ref, width] = useWidth<HTMLDivElement>();
  const max = Math.max(0, ...series.flatMap((s) => s.values));
  const ticks = niceTicks(max, 4);
  // Each x label is about 11 characters ("dd/mm hh:mm"); the margins leave room for half of one.
  const labelWidth = 11 * CHAR + 8;
  const left = Math.max(Math.max(...ticks.values.map((v) => formatNumber(v).length)) * CHAR + 12, labelWidth / 2 + 2);
  const right = labelWidth / 2 + 2;
  const plotWidth = Math.max(40, width - left - right);
  const plotHeight = HEIGHT - TOP - BOTTOM;
  const n = points.length;
  const x = (i: number) => (n <= 1 ? left + plotWidth / 2 : left + (i / (n - 1)) * plotWidth);
  const y = (v: number) => TOP + plotHeight - (v / ticks.max) * plotHeight;
  // Show every k-th x label so that they do not overlap.
  const every = n <= 1 ? 1 : Math.max(1, Math.ceil(labelWidth / (plotWidth / (n - 1))));

  return (
    <div ref={ref} className="chart" data-testid={testId}>
      <svg
        width={width}
        height={HEIGHT}
        role="img"
        aria-labelledby={labelledBy}
        aria-describedby={describedBy}
        className="chart-svg"
      >
        <g aria-hidden="true">
          {ticks.values.map((v) => (
            <g key={v}>
              <line x1={left} x2={left + plotWidth} y1={y(v)} y2={y(v)} className="grid" />
              <text x={left - 8} y={y(v) + 4} textAnchor="end" className="tick">
                {formatNumber(v)}
              </text>
            </g>
          ))}
          <line x1={left} x2={left + plotWidth} y1={y(0)} y2={y(0)} className="axis" />
          {points.map((label, i) =>
            (n - 1 - i) % every === 0 ? (
              <text key={i} x={x(i)} y={HEIGHT - BOTTOM + 18} textAnchor="middle" className="tick">
                {label}
              </text>
            ) : null,
          )}
          {series.map((s) => (
            <g key={s.key}>
              {n > 1 ? (
                <polyline
                  points={s.values.map((v, i) => `${x(i)},${y(v)}`).join(' ')}
                  fill="none"
                  stroke={s.color}
                  strokeWidth={2.5}
                  strokeLinejoin="round"
                />
              ) : null}
              {s.values.map((v, i) => (
                <g key={i}>
                  <title>{`${points[i] ?? ''} · ${s.label}: ${formatNumber(v)}`}</title>
                  <Marker shape={s.marker} x={x(i)} y={y(v)} color={s.color} size={n > 24 ? 3 : 5} />
                </g>
              ))}
            </g>
          ))}
        </g>
      </svg>
    </div>
  );
}
