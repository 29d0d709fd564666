/** Small pieces the messages pages share: the delivery mark, the SMS part counter. */
import { Group, Text, Tooltip } from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import {
  IconBan,
  IconCheck,
  IconChecks,
  IconClock,
  IconHourglass,
  IconInbox,
  IconX,
} from "@tabler/icons-react";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useI18n, type Key } from "../../lib/i18n";
import { messagesApi, statusMark, type MarkIcon } from "../../lib/messages";

const ICONS: Record<MarkIcon, typeof IconCheck> = {
  check: IconCheck,
  checks: IconChecks,
  x: IconX,
  clock: IconClock,
  hourglass: IconHourglass,
  ban: IconBan,
  inbox: IconInbox,
};

/** ✓ sent, ✓✓ delivered, ✗ not delivered (the reason in the tooltip), 🕑 scheduled (its time). */
export function StatusMark({
  status,
  error,
  scheduledAt,
  withLabel = false,
}: {
  status: string;
  error?: string;
  scheduledAt?: string | null;
  withLabel?: boolean;
}) {
  const { t, dateTime } = useI18n();
  const mark = statusMark(status);
  const Icon = ICONS[mark.icon];
  let tip = t(mark.label as Key);
  if (status === "scheduled" && scheduledAt) tip = t("msg.scheduledFor", { time: dateTime(scheduledAt) });
  if (error) tip = `${tip}: ${error}`;
  return (
    <Tooltip label={tip} multiline maw={320} withArrow>
      <Group
        gap={2}
        wrap="nowrap"
        data-testid="message-status"
        data-status={status}
        aria-label={tip}
        c={`${mark.color}.7`}
        style={{ display: "inline-flex" }}
      >
        <Icon size={15} stroke={2} />
        {withLabel && (
          <Text span size="xs" inherit>
            {t(mark.label as Key)}
          </Text>
        )}
        {!withLabel && status === "scheduled" && scheduledAt && (
          <Text span size="xs" inherit>
            {dateTime(scheduledAt)}
          </Text>
        )}
      </Group>
    </Tooltip>
  );
}

/** The server's count of SMS parts for the text (debounced): "42 characters · 1 SMS · GSM-7". */
export function useSmsPreview(text: string, translit: boolean, enabled = true) {
  const [debounced] = useDebouncedValue({ text, translit }, 350);
  return useQuery({
    queryKey: ["sms-preview", debounced.text, debounced.translit],
    queryFn: () => messagesApi.preview(debounced.text, debounced.translit),
    enabled: enabled && debounced.text.length > 0,
    placeholderData: keepPreviousData,
    staleTime: Infinity,
  });
}

export function SmsCounter({ text, translit }: { text: string; translit: boolean }) {
  const { t } = useI18n();
  const preview = useSmsPreview(text, translit);
  if (!text || !preview.data) return null;
  const p = preview.data;
  return (
    <Text size="xs" c={p.parts > 1 ? "orange.8" : "dimmed"} data-testid="sms-counter" data-parts={p.parts}>
      {t("msg.counter", {
        chars: p.characters,
        parts: p.parts,
        encoding: p.encoding === "ucs2" ? "UCS-2" : "GSM-7",
      })}
    </Text>
  );
}
