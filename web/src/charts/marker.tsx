/**
 * A point marker of a given shape, centred on (x, y), for the line chart and the legend.
 */
import type { MarkerShape } from './palette.ts';

interface MarkerProps {
  shape: MarkerShape;
  x: number;
  y: number;
  size?: number;
  color: string;
}

export function Marker({ shape, x, y, size = 5, color }: MarkerProps) {
  const s = size;
  switch (shape) {
    case 'circle':
      return <circle cx={x} cy={y} r={s} fill={color} stroke="#fff" strokeWidth={1.5} />;
    case 'square':
      return <rect x={x - s} y={y - s} width={2 * s} height={2 * s} fill={color} stroke="#fff" strokeWidth={1.5} />;
    case 'triangle':
      return (
        <polygon
          points={`${x},${y - s * 1.2} ${x + s * 1.1},${y + s * 0.9} ${x - s * 1.1},${y + s * 0.9}`}
          fill={color}
          stroke="#fff"
          strokeWidth={1.5}
        />
      );
    case 'diamond':
      return (
        <polygon
          points={`${x},${y - s * 1.3} ${x + s * 1.1},${y} ${x},${y + s * 1.3} ${x - s * 1.1},${y}`}
          fill={color}
          stroke="#fff"
          strokeWidth={1.5}
        />
      );
    case 'cross':
      return (
        <path
          d={`M${x - s},${y - s}L${x + s},${y + s}M${x - s},${y + s}L${x + s},${y - s}`}
          stroke={color}
          strokeWidth={3}
          strokeLinecap="round"
        />
      );
  }
}
