/**
 * A grouped horizontal bar chart in inline SVG: one group per row label (a carrier), one bar per
 * series (a category) in the series' colour, each bar labelled with its value. Horizontal bars keep
 * long labels readable and fit a 375 px screen. The chart is an image to assistive technology
 * (role="img", named by `labelledBy`); the exact figures are in the table the page puts beside it.
 */
import { niceTicks } from './scale.ts';
import { useWidth } from './use-width.ts';

export interface BarSeries {
  key: string;
  label: string;
  color: string;
}

export interface BarGroup {
  key: string;
  label: string;
  /** One value per series, in the order of `series`. */
  values: number[];
}

interface BarChartProps {
  series: BarSeries[];
  groups: BarGroup[];
  formatNumber(n: number): string;
  /** Ids of the elements that name and describe the chart. */
  labelledBy: string;
  describedBy?: string;
  testId?: string;
}

const BAR = 13;
const BAR_GAP = 3;
const GROUP_LABEL = 24;
const GROUP_GAP = 14;
const TOP = 22;
const CHAR = 7.2; // average width of a 12 px digit or separator

export function BarChart({ series, groups, formatNumber, labelledBy, describedBy, testId }: BarChartProps) {
  const [ref, width] = useWidth<HTMLDivElement>();
  const max = Math.max(0, ...groups.flatMap((g) => g.values));
  const ticks = niceTicks(max, width < 480 ? 3 : 5);
  const labelSpace = Math.max(...groups.flatMap((g) => g.values.map((v) => formatNumber(v).length)), 1) * CHAR + 10;
  const left = 2;
  const plot = Math.max(60, width - left - labelSpace - 4);
  const x = (v: number) => left + (v / ticks.max) * plot;
  const groupHeight = GROUP_LABEL + series.length * (BAR + BAR_GAP) - BAR_GAP;
  const height = TOP + groups.length * (groupHeight + GROUP_GAP);

  return (
    <div ref={ref} className="chart" data-testid={testId}>
      <svg
        width={width}
        height={height}
        role="img"
        aria-labelledby={labelledBy}
        aria-describedby={describedBy}
        className="chart-svg"
      >
        <g aria-hidden="true">
          {ticks.values.map((v) => (
            <g key={v}>
              <line x1={x(v)} x2={x(v)} y1={TOP - 4} y2={height - GROUP_GAP} className="grid" />
              <text x={x(v)} y={TOP - 8} textAnchor={v === 0 ? 'start' : 'middle'} className="tick">
                {formatNumber(v)}
              </text>
            </g>
          ))}
          {groups.map((group, gi) => {
            const y0 = TOP + gi * (groupHeight + GROUP_GAP);
            return (
              <g key={group.key}>
                <text x={left} y={y0 + 16} className="group-label">
                  {group.label}
                </text>
                {series.map((s, si) => {
                  const value = group.values[si] ?? 0;
                  const y = y0 + GROUP_LABEL + si * (BAR + BAR_GAP);
                  const w = Math.max(value > 0 ? 2 : 0, x(value) - left);
                  return (
                    <g key={s.key}>
                      <title>{`${group.label} · ${s.label}: ${formatNumber(value)}`}</title>
                      <rect x={left} y={y} width={w} height={BAR} fill={s.color} rx={2} />
                      <text x={left + w + 5} y={y + BAR - 2} className="value">
                        {formatNumber(value)}
                      </text>
                    </g>
                  );
                })}
              </g>
            );
          })}
        </g>
      </svg>
    </div>
  );
}
