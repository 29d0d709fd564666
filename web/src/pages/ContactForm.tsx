import {
  ActionIcon,
  Alert,
  Autocomplete,
  Button,
  Checkbox,
  Group,
  Modal,
  SimpleGrid,
  Stack,
  Text,
  TextInput,
  Textarea,
} from "@mantine/core";
import { useForm } from "@mantine/form";
import { IconPlus, IconTrash } from "@tabler/icons-react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { api, call, type Contact } from "../api/client";
import { MAX_NUMBERS } from "../lib/contact-io";
import { applyApiError } from "../lib/forms";
import { useI18n } from "../lib/i18n";

export function ContactFormModal({
  opened,
  contact,
  groups,
  canShare,
  onClose,
}: {
  opened: boolean;
  contact: Contact | null;
  groups: string[];
  canShare: boolean;
  onClose: () => void;
}) {
  const { t } = useI18n();
  const qc = useQueryClient();
  const [formError, setFormError] = useState("");
  const form = useForm({
    initialValues: {
      name: "",
      company: "",
      group: "",
      favorite: false,
      shared: false,
      notes: "",
      birthday: "",
      numbers: [{ number: "", label: "" }],
    },
  });
  useEffect(() => {
    if (!opened) return;
    setFormError("");
    form.clearErrors();
    form.setValues({
      name: contact?.name ?? "",
      company: contact?.company ?? "",
      group: contact?.group ?? "",
      favorite: contact?.favorite ?? false,
      shared: contact?.shared ?? false,
      notes: contact?.notes ?? "",
      birthday: contact?.birthday ?? "",
      numbers: contact?.numbers.length
        ? contact.numbers.map((n) => ({ number: n.number, label: n.label }))
        : [{ number: "", label: "" }],
    });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [opened, contact]);

  const save = useMutation({
    mutationFn: (v: typeof form.values) => {
      const numbers = v.numbers.filter((n) => n.number.trim() !== "");
      const body = {
        name: v.name,
        company: v.company,
        group: v.group,
        favorite: v.favorite,
        notes: v.notes,
        birthday: v.birthday || null,
        numbers,
      };
      return contact
        ? call(
            api.PATCH("/api/v1/contacts/{contact_id}", {
              params: { path: { contact_id: contact.id } },
              body,
            }),
          )
        : call(api.POST("/api/v1/contacts", { body: { ...body, shared: v.shared } }));
    },
    onSuccess: () => {
      qc.invalidateQueries({ queryKey: ["contacts"] });
      onClose();
    },
    onError: (e) => setFormError(applyApiError(form, e)),
  });

  return (
    <Modal
      opened={opened}
      onClose={onClose}
      title={contact ? t("contacts.edit") : t("contacts.new")}
      size="lg"
      centered
    >
      <form
        noValidate
        onSubmit={form.onSubmit((v) => {
          setFormError("");
          save.mutate(v);
        })}
      >
        <Stack>
          {formError && (
            <Alert color="red" role="alert" data-testid="form-error">
              {formError}
            </Alert>
          )}
          <SimpleGrid cols={{ base: 1, xs: 2 }}>
            <TextInput
              label={t("contacts.name")}
              required
              data-autofocus
              {...form.getInputProps("name")}
              data-testid="contact-name"
            />
            <TextInput label={t("contacts.company")} {...form.getInputProps("company")} />
            <Autocomplete
              label={t("contacts.group")}
              data={groups}
              {...form.getInputProps("group")}
            />
            <Stack justify="flex-end" gap="xs">
              <Checkbox
                label={t("contacts.favorite")}
                {...form.getInputProps("favorite", { type: "checkbox" })}
              />
            </Stack>
          </SimpleGrid>
          <Stack gap={6}>
            <Text size="sm" fw={500}>
              {t("contacts.numbers")}
            </Text>
            {form.values.numbers.map((_, i) => (
              <Group key={i} gap="xs" align="flex-start" wrap="nowrap">
                <TextInput
                  style={{ flex: 2 }}
                  placeholder="+7 999 123-45-67"
                  aria-label={`${t("contacts.number")} ${i + 1}`}
                  inputMode="tel"
                  {...form.getInputProps(`numbers.${i}.number`)}
                  data-testid="contact-number"
                />
                <TextInput
                  style={{ flex: 1 }}
                  placeholder={t("contacts.numberLabel")}
                  aria-label={`${t("contacts.numberLabel")} ${i + 1}`}
                  {...form.getInputProps(`numbers.${i}.label`)}
                />
                <ActionIcon
                  variant="subtle"
                  color="red"
                  mt={6}
                  aria-label={t("common.delete")}
                  onClick={() => form.removeListItem("numbers", i)}
                  disabled={form.values.numbers.length === 1}
                >
                  <IconTrash size={16} />
                </ActionIcon>
              </Group>
            ))}
            {typeof form.errors.numbers === "string" && (
              <Text size="xs" c="red">
                {form.errors.numbers}
              </Text>
            )}
            <Group>
              <Button
                size="xs"
                variant="light"
                leftSection={<IconPlus size={14} />}
                disabled={form.values.numbers.length >= MAX_NUMBERS}
                onClick={() => form.insertListItem("numbers", { number: "", label: "" })}
              >
                {t("contacts.addNumber")}
              </Button>
            </Group>
          </Stack>
          <TextInput
            type="date"
            label={t("contacts.birthday")}
            description={t("contacts.birthdayHint")}
            data-testid="contact-birthday"
            {...form.getInputProps("birthday")}
          />
          <Textarea label={t("contacts.notes")} autosize minRows={2} {...form.getInputProps("notes")} />
          {!contact && canShare && (
            <Checkbox
              label={t("contacts.shared")}
              {...form.getInputProps("shared", { type: "checkbox" })}
            />
          )}
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              {t("common.cancel")}
            </Button>
            <Button type="submit" loading={save.isPending} data-testid="contact-save">
              {t("common.save")}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
