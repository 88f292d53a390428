// The one table of every page: typed columns, one look, and always an accessible name. A long
// scrolling table ("both") draws only the rows in view, so 5 000 pods cost what 40 do.
import { useState, type ReactNode, type UIEvent } from "react";

export interface Column<T> {
  /** The column header; also the key of the column, so unique within a table. */
  header: string;
  cell: (row: T, index: number) => ReactNode;
  /** Right-aligned with digits of equal width, so the numbers of a column line up. */
  numeric?: boolean;
  /** Extra classes of this column's cells, e.g. a colour that depends on the row. */
  className?: string | ((row: T) => string);
}

/** A table's accessible name: the id of the heading above it, or a caption read only by screen
 * readers (where the page shows no heading for it). */
type Name = { labelledBy: string; caption?: never } | { caption: string; labelledBy?: never };

type TableProps<T> = Name & {
  columns: Column<T>[];
  rows: readonly T[];
  rowKey: (row: T, index: number) => string;
  /** "x" (default): scrolls sideways when too wide. "both": also at most 24rem high, the header
   * staying in view; the scrolling box can be focused, so it can be scrolled from the keyboard.
   * Over WINDOW_FROM rows it draws only those in view (aria-rowcount and aria-rowindex say
   * where they are). */
  scroll?: "x" | "both";
};

/** Above this many rows a scrolling table draws only a window of them. */
export const WINDOW_FROM = 100;
/** A row's height in px (text-sm, py-1, a 1px border), the scrolling box's (max-h-96), and the
 * rows drawn beyond the box on each side. */
const ROW_PX = 29;
const BOX_PX = 384;
const OVERSCAN = 10;

/** The rows `[from, to)` a box `box` px high scrolled to `top` shows, with `overscan` more on
 * each side (pure). */
export function rowWindow(top: number, box: number, count: number, rowPx = ROW_PX, overscan = OVERSCAN): { from: number; to: number } {
  const first = Math.floor(Math.max(0, top) / rowPx);
  const shown = Math.ceil((box > 0 ? box : BOX_PX) / rowPx) + 1;
  const from = Math.max(0, Math.min(count, first - overscan));
  return { from, to: Math.min(count, first + shown + overscan) };
}

const classes = (...names: (string | false | undefined)[]) => names.filter(Boolean).join(" ");

const cellClass = <T,>(column: Column<T>, row: T) =>
  classes("py-1 pr-3", column.numeric && "text-right tabular-nums", typeof column.className === "function" ? column.className(row) : column.className);

export function Table<T>({ columns, rows, rowKey, scroll = "x", labelledBy, caption }: TableProps<T>) {
  const both = scroll === "both";
  const windowed = both && rows.length > WINDOW_FROM;
  const [view, setView] = useState({ top: 0, box: BOX_PX });
  const onScroll = (e: UIEvent<HTMLDivElement>) => setView({ top: e.currentTarget.scrollTop, box: e.currentTarget.clientHeight });
  const { from, to } = windowed ? rowWindow(view.top, view.box, rows.length) : { from: 0, to: rows.length };
  const spacer = (n: number, key: string) =>
    n > 0 && (
      <tr key={key} aria-hidden="true" style={{ height: n * ROW_PX }}>
        <td colSpan={columns.length} />
      </tr>
    );
  return (
    <div
      className={both ? "max-h-96 overflow-auto" : "overflow-x-auto"}
      {...(both ? { tabIndex: 0, role: "region", "aria-labelledby": labelledBy, "aria-label": caption } : {})}
      {...(windowed ? { onScroll } : {})}
    >
      <table aria-labelledby={labelledBy} className="w-full text-sm" {...(windowed ? { "aria-rowcount": rows.length + 1 } : {})}>
        {caption && <caption className="sr-only">{caption}</caption>}
        <thead className={classes("text-left text-slate-400", both && "sticky top-0 bg-slate-900")}>
          <tr>
            {columns.map((c) => (
              <th key={c.header} scope="col" className={classes("py-1 pr-3 font-normal", c.numeric && "text-right")}>
                {c.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {spacer(from, "before")}
          {rows.slice(from, to).map((row, k) => {
            const i = from + k;
            return (
              <tr key={rowKey(row, i)} className="border-t border-slate-800" {...(windowed ? { "aria-rowindex": i + 2 } : {})}>
                {columns.map((c) => (
                  <td key={c.header} className={cellClass(c, row)}>
                    {c.cell(row, i)}
                  </td>
                ))}
              </tr>
            );
          })}
          {spacer(rows.length - to, "after")}
        </tbody>
      </table>
    </div>
  );
}
