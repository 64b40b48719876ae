/**
 * The legend of the five categories: an HTML list (it wraps on a phone, and a screen reader can
 * reads it as a named list), each entry with the category's colour and, for the line chart, its
 * marker shape. The swatches themselves are decorative.
 */
import { CATEGORIES } from '../../api/types.ts';
import { Marker } from '../../charts/marker.tsx';
import { categoryStyle } from '../../charts/palette.ts';
import { useI18n } from '../../i18n/i18n.tsx';

export function CategoryLegend({ markers }: { markers: boolean }) {
  const { t } = useI18n();
  return (
    <ul className="legend" aria-label={t.legendTitle}>
      {CATEGORIES.map((category) => {
        const style = categoryStyle[category];
        return (
          <li key={category}>
            <svg width="22" height="14" aria-hidden="true" focusable="false">
              {markers ? (
                <>
                  <line x1="0" x2="22" y1="7" y2="7" stroke={style.color} strokeWidth="2.5" />
                  <Marker shape={style.marker} x={11} y={7} size={4} color={style.color} />
                </>
              ) : (
                <rect x="2" y="1" width="18" height="12" rx="2" fill={style.color} />
              )}
            </svg>
            <span>{t.category[category]}</span>
          </li>
        );
      })}
    </ul>
  );
}
