import { Text } from "@mantine/core";
import { modals } from "@mantine/modals";
import type { ReactNode } from "react";

/** Asks before a destructive action; resolves nothing, calls onConfirm when agreed. */
export function confirmDanger(opts: {
  title: string;
  message: ReactNode;
  confirm: string;
  cancel: string;
  onConfirm: () => void;
}): void {
  modals.openConfirmModal({
    title: opts.title,
    centered: true,
    children: <Text size="sm">{opts.message}</Text>,
    labels: { confirm: opts.confirm, cancel: opts.cancel },
    confirmProps: { color: "red", "data-testid": "confirm-yes" } as Record<string, string>,
    onConfirm: opts.onConfirm,
  });
}
