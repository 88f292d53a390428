// The one table of every page: typed columns, one look, and always an accessible name.
import type { ReactNode } from "react";

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
   * staying in view; the scrolling box can be focused, so it can be scrolled from the keyboard. */
  scroll?: "x" | "both";
};

const classes = (...names: (string | false | undefined)[]) => names.filter(Boolean).join(" ");

const cellClass = <T,>(column: Column<T>, row: T) =>
  classes("py-1 pr-3", column.numeric && "text-right tabular-nums", typeof column.className === "function" ? column.className(row) : column.className);

export function Table<T>({ columns, rows, rowKey, scroll = "x", labelledBy, caption }: TableProps<T>) {
  const both = scroll === "both";
  return (
    <div
      className={both ? "max-h-96 overflow-auto" : "overflow-x-auto"}
      {...(both ? { tabIndex: 0, role: "region", "aria-labelledby": labelledBy, "aria-label": caption } : {})}
    >
      <table aria-labelledby={labelledBy} className="w-full text-sm">
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
          {rows.map((row, i) => (
            <tr key={rowKey(row, i)} className="border-t border-slate-800">
              {columns.map((c) => (
                <td key={c.header} className={cellClass(c, row)}>
                  {c.cell(row, i)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
