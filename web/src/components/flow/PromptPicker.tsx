import {
  ActionIcon,
  Button,
  FileButton,
  Group,
  Select,
  Stack,
  Text,
  Textarea,
  Tooltip,
} from "@mantine/core";
import { notifications } from "@mantine/notifications";
import {
  IconMicrophone,
  IconPlayerStop,
  IconRobot,
  IconTrash,
  IconUpload,
} from "@tabler/icons-react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { ApiError, errorMessage } from "../../lib/errors";
import type { Prompt } from "../../lib/flow";
import { flowApi, usePrompts, type PromptInfo } from "../../lib/flowApi";
import { useI18n } from "../../lib/i18n";

function failure(t: ReturnType<typeof useI18n>["t"], e: unknown): string {
  if (e instanceof ApiError && e.errorId === "audio_invalid") {
    const reason = (e.details as { reason?: string } | undefined)?.reason;
    return t("flow.prompt.invalid", { reason: reason ?? e.message });
  }
  return errorMessage(e);
}

/** Records from the microphone with MediaRecorder; gives the recording as a Blob. */
function Recorder({ onDone }: { onDone: (blob: Blob) => void }) {
  const { t } = useI18n();
  const [rec, setRec] = useState<MediaRecorder | null>(null);
  const chunks = useRef<Blob[]>([]);
  useEffect(() => () => rec?.stream.getTracks().forEach((tr) => tr.stop()), [rec]);
  const supported = typeof window !== "undefined" && "MediaRecorder" in window && !!navigator.mediaDevices;
  const start = async () => {
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      const r = new MediaRecorder(stream);
      chunks.current = [];
      r.ondataavailable = (ev) => ev.data.size && chunks.current.push(ev.data);
      r.onstop = () => {
        stream.getTracks().forEach((tr) => tr.stop());
        onDone(new Blob(chunks.current, { type: r.mimeType || "audio/webm" }));
        setRec(null);
      };
      r.start();
      setRec(r);
    } catch (e) {
      notifications.show({ color: "red", message: t("flow.prompt.noMic", { error: errorMessage(e) }) });
    }
  };
  if (!supported) return null;
  return rec ? (
    <Button size="xs" color="red" leftSection={<IconPlayerStop size={14} />} onClick={() => rec.stop()}>
      {t("flow.prompt.stop")}
    </Button>
  ) : (
    <Button size="xs" variant="light" leftSection={<IconMicrophone size={14} />} onClick={start}>
      {t("flow.prompt.record")}
    </Button>
  );
}

/**
 * Chooses a prompt from /prompts (with an inline player), uploads a file, records one from
 * the microphone, or makes one by text-to-speech. With ``withText`` the node's own text (read
 * by text-to-speech at call time when no audio is chosen) can be typed too.
 */
export function PromptPicker({
  label,
  value,
  onChange,
  withText = true,
  testId,
}: {
  label: string;
  value: Prompt;
  onChange: (p: Prompt) => void;
  withText?: boolean;
  testId?: string;
}) {
  const { t, lang } = useI18n();
  const qc = useQueryClient();
  const prompts = usePrompts();
  const [ttsText, setTtsText] = useState("");
  const list: PromptInfo[] = prompts.data ?? [];
  const chosen = value.audio ? list.find((p) => String(p.id) === value.audio) : undefined;
  const created = (p: PromptInfo) => {
    qc.invalidateQueries({ queryKey: ["prompts"] });
    onChange({ ...value, audio: String(p.id) });
    notifications.show({ color: "green", message: t("flow.prompt.added", { name: p.name }) });
  };
  const upload = useMutation({
    mutationFn: ({ blob, name, filename, recorded }: { blob: Blob; name: string; filename: string; recorded?: boolean }) =>
      flowApi.uploadPrompt(name, blob, filename, recorded ? "recorded" : "upload"),
    onSuccess: created,
    onError: (e) => notifications.show({ color: "red", message: failure(t, e) }),
  });
  const speak = useMutation({
    mutationFn: (text: string) => flowApi.speakPrompt(text.slice(0, 60), text, lang),
    onSuccess: (p) => {
      setTtsText("");
      created(p);
    },
    onError: (e) => notifications.show({ color: "red", message: failure(t, e) }),
  });
  const stamp = () => new Date().toISOString().slice(0, 16).replace("T", " ");
  return (
    <Stack gap={6} data-testid={testId}>
      <Group gap={6} align="flex-end" wrap="nowrap">
        <Select
          style={{ flex: 1 }}
          label={label}
          placeholder={t("flow.prompt.choose")}
          searchable
          clearable
          data={list.map((p) => ({ value: String(p.id), label: p.name }))}
          value={value.audio ?? null}
          onChange={(v) => onChange({ ...value, audio: v })}
          nothingFoundMessage={t("flow.prompt.none")}
          data-testid={testId ? `${testId}-select` : undefined}
        />
        {value.audio && (
          <Tooltip label={t("flow.prompt.clear")}>
            <ActionIcon variant="subtle" color="gray" mb={4} onClick={() => onChange({ ...value, audio: null })}>
              <IconTrash size={16} />
            </ActionIcon>
          </Tooltip>
        )}
      </Group>
      {value.audio && (
        <audio
          controls
          preload="none"
          src={flowApi.promptAudioUrl(value.audio)}
          style={{ width: "100%", height: 32 }}
          aria-label={chosen?.name ?? value.audio}
        />
      )}
      <Group gap={6}>
        <FileButton
          accept="audio/*"
          onChange={(file) =>
            file && upload.mutate({ blob: file, name: file.name.replace(/\.[^.]+$/, ""), filename: file.name })
          }
        >
          {(props) => (
            <Button size="xs" variant="light" leftSection={<IconUpload size={14} />} loading={upload.isPending} {...props}>
              {t("flow.prompt.upload")}
            </Button>
          )}
        </FileButton>
        <Recorder
          onDone={(blob) =>
            upload.mutate({
              blob,
              name: t("flow.prompt.recordingName", { at: stamp() }),
              filename: blob.type.includes("mp4") ? "recording.m4a" : blob.type.includes("ogg") ? "recording.ogg" : "recording.webm",
              recorded: true,
            })
          }
        />
      </Group>
      <Group gap={6} align="flex-end" wrap="nowrap">
        <Textarea
          style={{ flex: 1 }}
          autosize
          minRows={1}
          size="xs"
          label={t("flow.prompt.tts")}
          value={ttsText}
          onChange={(e) => setTtsText(e.currentTarget.value)}
        />
        <Button
          size="xs"
          variant="light"
          leftSection={<IconRobot size={14} />}
          disabled={!ttsText.trim()}
          loading={speak.isPending}
          onClick={() => speak.mutate(ttsText.trim())}
        >
          {t("flow.prompt.speak")}
        </Button>
      </Group>
      {withText && (
        <Textarea
          autosize
          minRows={1}
          size="xs"
          label={t("flow.prompt.text")}
          description={t("flow.prompt.textHint")}
          value={value.text ?? ""}
          onChange={(e) => onChange({ ...value, text: e.currentTarget.value || null })}
          data-testid={testId ? `${testId}-text` : undefined}
        />
      )}
      {prompts.error && (
        <Text size="xs" c="red">
          {errorMessage(prompts.error)}
        </Text>
      )}
    </Stack>
  );
}
