import {
  Alert,
  Button,
  Checkbox,
  Group,
  Modal,
  Select,
  SimpleGrid,
  Stack,
  TextInput,
} from "@mantine/core";
import { useForm } from "@mantine/form";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { api, call, type Department, type Employee, type Schemas } from "../api/client";
import { applyApiError } from "../lib/forms";
import { useI18n } from "../lib/i18n";

export function EmployeeFormModal({
  opened,
  employee,
  departments,
  onClose,
  onCreated,
}: {
  opened: boolean;
  employee: Employee | null;
  departments: Department[];
  onClose: () => void;
  onCreated: (created: Schemas["EmployeeCreated"]) => void;
}) {
  const { t } = useI18n();
  const qc = useQueryClient();
  const [formError, setFormError] = useState("");
  const form = useForm({
    initialValues: {
      full_name: "",
      email: "",
      position: "",
      extension: "",
      department_id: "" as string,
      role: "employee",
      create_device: true,
      device_label: "",
    },
  });
  useEffect(() => {
    if (!opened) return;
    setFormError("");
    form.clearErrors();
    form.setValues({
      full_name: employee?.full_name ?? "",
      email: employee?.email ?? "",
      position: employee?.position ?? "",
      extension: employee?.extension ?? "",
      department_id: employee?.department_id != null ? String(employee.department_id) : "",
      role: employee?.role === "tenant_admin" ? "tenant_admin" : "employee",
      create_device: true,
      device_label: "",
    });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [opened, employee]);

  const save = useMutation({
    mutationFn: async (v: typeof form.values) => {
      const dept = v.department_id ? Number(v.department_id) : null;
      if (employee) {
        const body: Schemas["EmployeePatch"] = {
          full_name: v.full_name,
          email: v.email,
          position: v.position,
          department_id: dept,
        };
        if (v.extension.trim()) body.extension = v.extension.trim();
        if (employee.role !== "tenant_owner") body.role = v.role;
        await call(
          api.PATCH("/api/v1/employees/{employee_id}", {
            params: { path: { employee_id: employee.id } },
            body,
          }),
        );
        return null;
      }
      return call(
        api.POST("/api/v1/employees", {
          body: {
            full_name: v.full_name,
            email: v.email,
            position: v.position,
            extension: v.extension.trim() || null,
            department_id: dept,
            role: v.role,
            create_device: v.create_device,
            device_label: v.device_label,
          },
        }),
      );
    },
    onSuccess: (created) => {
      qc.invalidateQueries({ queryKey: ["employees"] });
      qc.invalidateQueries({ queryKey: ["devices"] });
      qc.invalidateQueries({ queryKey: ["me"] });
      onClose();
      if (created) onCreated(created);
    },
    onError: (e) => setFormError(applyApiError(form, e)),
  });

  return (
    <Modal
      opened={opened}
      onClose={onClose}
      title={employee ? t("employees.edit") : t("employees.new")}
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
              label={t("employees.name")}
              required
              data-autofocus
              {...form.getInputProps("full_name")}
            />
            <TextInput
              label={t("employees.email")}
              type="email"
              required
              {...form.getInputProps("email")}
            />
            <TextInput label={t("employees.position")} {...form.getInputProps("position")} />
            <TextInput
              label={t("employees.extension")}
              placeholder={employee ? undefined : t("employees.extensionHint")}
              inputMode="numeric"
              {...form.getInputProps("extension")}
            />
            <Select
              label={t("employees.department")}
              clearable
              placeholder={t("employees.noDepartment")}
              data={departments.map((d) => ({ value: String(d.id), label: d.name }))}
              {...form.getInputProps("department_id")}
              onChange={(v) => form.setFieldValue("department_id", v ?? "")}
            />
            <Select
              label={t("employees.role")}
              disabled={employee?.role === "tenant_owner"}
              allowDeselect={false}
              data={[
                { value: "employee", label: t("employees.role.employee") },
                { value: "tenant_admin", label: t("employees.role.tenant_admin") },
              ]}
              {...form.getInputProps("role")}
            />
          </SimpleGrid>
          {!employee && (
            <>
              <Checkbox
                label={t("employees.createDevice")}
                {...form.getInputProps("create_device", { type: "checkbox" })}
              />
              {form.values.create_device && (
                <TextInput
                  label={t("employees.deviceLabel")}
                  placeholder="Softphone"
                  {...form.getInputProps("device_label")}
                />
              )}
            </>
          )}
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              {t("common.cancel")}
            </Button>
            <Button type="submit" loading={save.isPending} data-testid="employee-save">
              {t("common.save")}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
