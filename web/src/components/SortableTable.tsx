/** A table whose columns sort on a click of their header (ascending, then descending). */
import { Table, Text, UnstyledButton } from "@mantine/core";
import { IconArrowDown, IconArrowUp, IconArrowsSort } from "@tabler/icons-react";
import { useState, type ReactNode } from "react";

export interface Column<T> {
  key: string;
  label: string;
  /** The value sorted on (numbers numerically, text in the page's language order). */
  value: (row: T) => number | string | null;
  render?: (row: T) => ReactNode;
  numeric?: boolean;
}

export interface Sort {
  key: string;
  desc: boolean;
}

/** The rows in the order of the column; nulls last whatever the direction. */
export function sortRows<T>(rows: readonly T[], columns: readonly Column<T>[], sort: Sort | null): T[] {
  const out = [...rows];
  const col = sort ? columns.find((c) => c.key === sort.key) : undefined;
  if (!sort || !col) return out;
  const sign = sort.desc ? -1 : 1;
  return out
    .map((row, i) => ({ row, i, v: col.value(row) }))
    .sort((a, b) => {
      if (a.v === null || a.v === "") return b.v === null || b.v === "" ? a.i - b.i : 1;
      if (b.v === null || b.v === "") return -1;
      const cmp =
        typeof a.v === "number" && typeof b.v === "number"
          ? a.v - b.v
          : String(a.v).localeCompare(String(b.v), undefined, { numeric: true });
      return cmp === 0 ? a.i - b.i : sign * cmp;
    })
    .map((x) => x.row);
}

/** The next sort after a click on a header: a new column sorts descending for numbers. */
export function nextSort<T>(current: Sort | null, col: Column<T>): Sort {
  if (current?.key === col.key) return { key: col.key, desc: !current.desc };
  return { key: col.key, desc: !!col.numeric };
}

export function SortableTable<T>({
  rows,
  columns,
  rowKey,
  initialSort = null,
  testId,
  empty,
}: {
  rows: readonly T[];
  columns: readonly Column<T>[];
  rowKey: (row: T) => string | number;
  initialSort?: Sort | null;
  testId?: string;
  empty?: ReactNode;
}) {
  const [sort, setSort] = useState<Sort | null>(initialSort);
  const sorted = sortRows(rows, columns, sort);
  return (
    <Table.ScrollContainer minWidth={420}>
      <Table striped highlightOnHover data-testid={testId} fz="sm">
        <Table.Thead>
          <Table.Tr>
            {columns.map((c) => {
              const active = sort?.key === c.key;
              const Icon = !active ? IconArrowsSort : sort.desc ? IconArrowDown : IconArrowUp;
              return (
                <Table.Th
                  key={c.key}
                  ta={c.numeric ? "right" : undefined}
                  aria-sort={active ? (sort.desc ? "descending" : "ascending") : "none"}
                >
                  <UnstyledButton
                    onClick={() => setSort(nextSort(sort, c))}
                    data-testid={testId ? `${testId}-sort-${c.key}` : undefined}
                    style={{ display: "inline-flex", alignItems: "center", gap: 4 }}
                  >
                    <Text fw={600} size="sm">
                      {c.label}
                    </Text>
                    <Icon size={14} opacity={active ? 1 : 0.4} />
                  </UnstyledButton>
                </Table.Th>
              );
            })}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {sorted.length === 0 && empty ? (
            <Table.Tr>
              <Table.Td colSpan={columns.length}>
                <Text c="dimmed" size="sm" ta="center">
                  {empty}
                </Text>
              </Table.Td>
            </Table.Tr>
          ) : (
            sorted.map((row) => (
              <Table.Tr key={rowKey(row)}>
                {columns.map((c) => (
                  <Table.Td key={c.key} ta={c.numeric ? "right" : undefined}>
                    {c.render ? c.render(row) : (c.value(row) ?? "—")}
                  </Table.Td>
                ))}
              </Table.Tr>
            ))
          )}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}
