import {
  ActionIcon,
  Alert,
  Anchor,
  Badge,
  Button,
  Card,
  Code,
  CopyButton,
  Group,
  Menu,
  Modal,
  NumberInput,
  Select,
  Stack,
  Switch,
  Text,
  Textarea,
  TextInput,
  Title,
  Tooltip,
} from "@mantine/core";
import { useForm } from "@mantine/form";
import { notifications } from "@mantine/notifications";
import {
  IconCheck,
  IconCopy,
  IconDots,
  IconExternalLink,
  IconKey,
  IconPencil,
  IconPlus,
  IconTrash,
} from "@tabler/icons-react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { api, call, type Schemas } from "../api/client";
import { EmptyState, ErrorState, LoadingState } from "../components/States";
import {
  parseOrigins,
  targetFields,
  targetValue,
  widgetSnippet,
  widgetTestUrl,
} from "../lib/callback";
import { confirmDanger } from "../lib/confirm";
import { useAllDepartments, useAllEmployees } from "../lib/directory";
import { errorMessage, fieldErrors } from "../lib/errors";
import { applyApiError } from "../lib/forms";
import { useI18n } from "../lib/i18n";

type Site = Schemas["SiteOut"];

interface SiteForm {
  name: string;
  allowed_origins: string;
  target: string | null;
  per_number_hourly: number | string;
  per_site_hourly: number | string;
  enabled: boolean;
}

function useTargets() {
  const { t } = useI18n();
  const employees = useAllEmployees();
  const departments = useAllDepartments();
  const data = useMemo(
    () => [
      {
        group: t("widget.employees"),
        items: (employees.data ?? []).map((e) => ({
          value: `employee:${e.id}`,
          label: e.extension ? `${e.full_name} (${e.extension})` : e.full_name,
        })),
      },
      {
        group: t("widget.departments"),
        items: (departments.data ?? []).map((d) => ({
          value: `department:${d.id}`,
          label: d.extension ? `${d.name} (${d.extension})` : d.name,
        })),
      },
    ],
    [employees.data, departments.data, t],
  );
  const label = (value: string | null) =>
    data.flatMap((g) => g.items).find((i) => i.value === value)?.label ?? value ?? "—";
  return { data, label };
}

function SiteModal({ site, onClose }: { site: Site | null; onClose: () => void }) {
  const { t } = useI18n();
  const qc = useQueryClient();
  const targets = useTargets();
  const [formError, setFormError] = useState("");
  const form = useForm<SiteForm>({
    initialValues: {
      name: site?.name ?? "",
      allowed_origins: (site?.allowed_origins ?? []).join("\n"),
      target: site ? targetValue(site) : null,
      per_number_hourly: site?.per_number_hourly ?? 3,
      per_site_hourly: site?.per_site_hourly ?? 60,
      enabled: site?.enabled ?? true,
    },
  });
  const save = useMutation({
    mutationFn: (v: SiteForm) => {
      const body = {
        name: v.name,
        allowed_origins: parseOrigins(v.allowed_origins),
        ...targetFields(v.target),
        per_number_hourly: Number(v.per_number_hourly),
        per_site_hourly: Number(v.per_site_hourly),
        enabled: v.enabled,
      };
      return site
        ? call(
            api.PATCH("/api/v1/callback-sites/{site_id}", {
              params: { path: { site_id: site.id } },
              body: { ...body, rotate_key: false },
            }),
          )
        : call(api.POST("/api/v1/callback-sites", { body }));
    },
    onSuccess: () => {
      qc.invalidateQueries({ queryKey: ["callback-sites"] });
      notifications.show({ color: "green", message: site ? t("common.saved") : t("widget.created") });
      onClose();
    },
    onError: (e) => {
      // the target is one select for two API fields; origins are one text for a list
      const fields = fieldErrors(e);
      const targetError = fields.employee_id ?? fields.department_id;
      const originError = Object.entries(fields).find(([k]) => k.startsWith("allowed_origins"))?.[1];
      const msg = applyApiError(form, e);
      if (targetError) form.setFieldError("target", targetError);
      if (originError) form.setFieldError("allowed_origins", originError);
      setFormError(targetError || originError ? "" : msg);
    },
  });
  return (
    <Modal opened onClose={onClose} title={site ? t("widget.edit") : t("widget.add")} centered size="lg">
      <form
        noValidate
        onSubmit={form.onSubmit((v) => {
          setFormError("");
          save.mutate(v);
        })}
      >
        <Stack>
          {formError && (
            <Alert color="red" role="alert">
              {formError}
            </Alert>
          )}
          <TextInput
            label={t("widget.name")}
            placeholder={t("widget.namePh")}
            required
            data-autofocus
            {...form.getInputProps("name")}
            data-testid="site-name"
          />
          <Select
            label={t("widget.target")}
            placeholder={t("widget.targetPh")}
            required
            searchable
            data={targets.data}
            {...form.getInputProps("target")}
            data-testid="site-target"
          />
          <Textarea
            label={t("widget.origins")}
            description={t("widget.originsHint")}
            placeholder="https://shop.example"
            autosize
            minRows={2}
            {...form.getInputProps("allowed_origins")}
            data-testid="site-origins"
          />
          <Group grow align="flex-start">
            <NumberInput
              label={t("widget.perNumber")}
              min={1}
              max={100}
              allowDecimal={false}
              {...form.getInputProps("per_number_hourly")}
              data-testid="site-per-number"
            />
            <NumberInput
              label={t("widget.perSite")}
              min={1}
              max={10000}
              allowDecimal={false}
              {...form.getInputProps("per_site_hourly")}
              data-testid="site-per-site"
            />
          </Group>
          <Switch
            label={t("widget.enabled")}
            {...form.getInputProps("enabled", { type: "checkbox" })}
            data-testid="site-enabled"
          />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              {t("common.cancel")}
            </Button>
            <Button type="submit" loading={save.isPending} data-testid="site-save">
              {t("common.save")}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

function SiteCard({
  site,
  targetLabel,
  onEdit,
  onRotate,
  onDelete,
}: {
  site: Site;
  targetLabel: string;
  onEdit: () => void;
  onRotate: () => void;
  onDelete: () => void;
}) {
  const { t, lang } = useI18n();
  const snippet = widgetSnippet(window.location.origin, site.public_key, lang);
  return (
    <Card withBorder radius="md" data-testid="site-card" data-site={site.name} data-key={site.public_key}>
      <Group justify="space-between" wrap="nowrap" align="flex-start">
        <Stack gap={4} style={{ minWidth: 0 }}>
          <Group gap="xs">
            <Text fw={700}>{site.name}</Text>
            <Badge size="sm" variant="light" color={site.enabled ? "green" : "gray"}>
              {site.enabled ? t("widget.enabled") : t("widget.disabled")}
            </Badge>
          </Group>
          <Text size="sm">
            {t("widget.target")}: <b>{targetLabel}</b>
          </Text>
          <Text size="sm" c="dimmed">
            {t("widget.origins")}:{" "}
            {site.allowed_origins.length ? site.allowed_origins.join(", ") : t("widget.anyOrigin")}
          </Text>
          <Text size="sm" c="dimmed" data-testid="site-limits">
            {t("widget.limits", { perNumber: site.per_number_hourly, perSite: site.per_site_hourly })}
          </Text>
        </Stack>
        <Menu position="bottom-end" withinPortal>
          <Menu.Target>
            <ActionIcon variant="subtle" aria-label={`${site.name} menu`} data-testid="site-menu">
              <IconDots size={16} />
            </ActionIcon>
          </Menu.Target>
          <Menu.Dropdown>
            <Menu.Item leftSection={<IconPencil size={14} />} onClick={onEdit} data-testid="site-edit">
              {t("common.edit")}
            </Menu.Item>
            <Menu.Item leftSection={<IconKey size={14} />} onClick={onRotate} data-testid="site-rotate">
              {t("widget.rotate")}
            </Menu.Item>
            <Menu.Item
              leftSection={<IconTrash size={14} />}
              color="red"
              onClick={onDelete}
              data-testid="site-delete"
            >
              {t("common.delete")}
            </Menu.Item>
          </Menu.Dropdown>
        </Menu>
      </Group>
      <Text size="sm" mt="sm" mb={4}>
        {t("widget.snippet")}
      </Text>
      <Group gap="xs" wrap="nowrap" align="flex-start">
        <Code block style={{ flex: 1, whiteSpace: "pre-wrap", wordBreak: "break-all" }} data-testid="site-snippet">
          {snippet}
        </Code>
        <CopyButton value={snippet}>
          {({ copied, copy }) => (
            <Tooltip label={copied ? t("common.copied") : t("common.copy")}>
              <ActionIcon
                variant="light"
                color={copied ? "teal" : "blue"}
                onClick={copy}
                aria-label={t("common.copy")}
                data-testid="site-copy"
              >
                {copied ? <IconCheck size={16} /> : <IconCopy size={16} />}
              </ActionIcon>
            </Tooltip>
          )}
        </CopyButton>
      </Group>
      <Anchor
        href={widgetTestUrl(site.public_key, lang)}
        target="_blank"
        rel="noopener"
        size="sm"
        mt="xs"
        data-testid="site-test-link"
      >
        <Group gap={4} component="span">
          <IconExternalLink size={14} />
          {t("widget.testPage")}
        </Group>
      </Anchor>
    </Card>
  );
}

export function WidgetSitesPage() {
  const { t } = useI18n();
  const qc = useQueryClient();
  const targets = useTargets();
  const [modal, setModal] = useState<{ site: Site | null } | null>(null);
  const sites = useQuery({
    queryKey: ["callback-sites"],
    queryFn: () => call(api.GET("/api/v1/callback-sites")),
  });
  const fail = (e: unknown) => notifications.show({ color: "red", message: errorMessage(e) });
  const rotate = useMutation({
    mutationFn: (site: Site) =>
      call(
        api.PATCH("/api/v1/callback-sites/{site_id}", {
          params: { path: { site_id: site.id } },
          body: { rotate_key: true },
        }),
      ),
    onSuccess: () => {
      qc.invalidateQueries({ queryKey: ["callback-sites"] });
      notifications.show({ color: "green", message: t("widget.rotated") });
    },
    onError: fail,
  });
  const remove = useMutation({
    mutationFn: (site: Site) =>
      call(api.DELETE("/api/v1/callback-sites/{site_id}", { params: { path: { site_id: site.id } } })),
    onSuccess: () => {
      qc.invalidateQueries({ queryKey: ["callback-sites"] });
      notifications.show({ color: "green", message: t("common.deleted") });
    },
    onError: fail,
  });

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>{t("widget.title")}</Title>
        <Button leftSection={<IconPlus size={16} />} onClick={() => setModal({ site: null })} data-testid="site-add">
          {t("widget.add")}
        </Button>
      </Group>
      <Text size="sm" c="dimmed" maw={760}>
        {t("widget.intro")}
      </Text>
      {sites.isPending ? (
        <LoadingState />
      ) : sites.error ? (
        <ErrorState error={sites.error} onRetry={() => sites.refetch()} />
      ) : sites.data.length === 0 ? (
        <EmptyState
          action={
            <Button variant="light" onClick={() => setModal({ site: null })}>
              {t("widget.add")}
            </Button>
          }
        >
          {t("widget.empty")}
        </EmptyState>
      ) : (
        <Stack data-testid="sites-list">
          {sites.data.map((site) => (
            <SiteCard
              key={site.id}
              site={site}
              targetLabel={targets.label(targetValue(site))}
              onEdit={() => setModal({ site })}
              onRotate={() =>
                confirmDanger({
                  title: t("common.confirmTitle"),
                  message: t("widget.rotateConfirm", { name: site.name }),
                  confirm: t("widget.rotate"),
                  cancel: t("common.cancel"),
                  onConfirm: () => rotate.mutate(site),
                })
              }
              onDelete={() =>
                confirmDanger({
                  title: t("common.confirmTitle"),
                  message: t("widget.deleteConfirm", { name: site.name }),
                  confirm: t("common.delete"),
                  cancel: t("common.cancel"),
                  onConfirm: () => remove.mutate(site),
                })
              }
            />
          ))}
        </Stack>
      )}
      {modal && <SiteModal site={modal.site} onClose={() => setModal(null)} />}
    </Stack>
  );
}

export default WidgetSitesPage;
