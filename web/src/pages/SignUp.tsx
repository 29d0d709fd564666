import {
  Alert,
  Anchor,
  Button,
  PasswordInput,
  SegmentedControl,
  Stack,
  Text,
  TextInput,
} from "@mantine/core";
import { useForm } from "@mantine/form";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useNavigate } from "react-router";
import { api, call } from "../api/client";
import { AuthFrame } from "../components/AuthFrame";
import { applyApiError } from "../lib/forms";
import { useI18n } from "../lib/i18n";

type Kind = "company" | "individual";

export function SignUpPage() {
  const { t } = useI18n();
  const navigate = useNavigate();
  const qc = useQueryClient();
  const [kind, setKind] = useState<Kind>("company");
  const [formError, setFormError] = useState("");
  const form = useForm({
    initialValues: {
      company_name: "",
      full_name: "",
      position: "",
      nickname: "",
      email: "",
      password: "",
    },
  });
  const signup = useMutation({
    mutationFn: (v: typeof form.values) =>
      kind === "company"
        ? call(
            api.POST("/api/v1/auth/signup/company", {
              body: {
                company_name: v.company_name,
                full_name: v.full_name,
                position: v.position,
                email: v.email,
                password: v.password,
              },
            }),
          )
        : call(
            api.POST("/api/v1/auth/signup/individual", {
              body: {
                nickname: v.nickname,
                full_name: v.full_name,
                email: v.email,
                password: v.password,
              },
            }),
          ),
    onSuccess: (s) => {
      qc.setQueryData(["me"], { user: s.user, tenant: s.tenant });
      navigate(kind === "company" ? "/employees" : "/profile", { replace: true });
    },
    onError: (e) => setFormError(applyApiError(form, e)),
  });
  return (
    <AuthFrame title={t("auth.signup")}>
      <form
        onSubmit={form.onSubmit((v) => {
          setFormError("");
          signup.mutate(v);
        })}
        noValidate
      >
        <Stack>
          <SegmentedControl
            fullWidth
            value={kind}
            onChange={(v) => {
              setKind(v as Kind);
              form.clearErrors();
              setFormError("");
            }}
            data={[
              { value: "company", label: t("auth.company") },
              { value: "individual", label: t("auth.individual") },
            ]}
            data-testid="signup-kind"
          />
          {formError && (
            <Alert color="red" role="alert" data-testid="form-error">
              {formError}
            </Alert>
          )}
          {kind === "company" ? (
            <>
              <TextInput
                label={t("auth.companyName")}
                required
                {...form.getInputProps("company_name")}
              />
              <TextInput
                label={t("auth.fullName")}
                autoComplete="name"
                {...form.getInputProps("full_name")}
              />
              <TextInput label={t("auth.position")} {...form.getInputProps("position")} />
            </>
          ) : (
            <>
              <TextInput label={t("auth.nickname")} required {...form.getInputProps("nickname")} />
              <TextInput
                label={t("auth.fullName")}
                autoComplete="name"
                {...form.getInputProps("full_name")}
              />
            </>
          )}
          <TextInput
            label={t("auth.email")}
            type="email"
            autoComplete="email"
            required
            {...form.getInputProps("email")}
          />
          <PasswordInput
            label={t("auth.password")}
            description={t("auth.passwordHint")}
            autoComplete="new-password"
            required
            {...form.getInputProps("password")}
          />
          <Button type="submit" loading={signup.isPending} fullWidth>
            {t("auth.createAccount")}
          </Button>
          <Text size="sm" ta="center">
            {t("auth.haveAccount")}{" "}
            <Anchor component={Link} to="/signin">
              {t("auth.signin")}
            </Anchor>
          </Text>
        </Stack>
      </form>
    </AuthFrame>
  );
}
