import { Alert, Anchor, Button, PasswordInput, Stack, Text, TextInput } from "@mantine/core";
import { useForm } from "@mantine/form";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useLocation, useNavigate } from "react-router";
import { api, call } from "../api/client";
import { AuthFrame } from "../components/AuthFrame";
import { applyApiError } from "../lib/forms";
import { useI18n } from "../lib/i18n";
import { useAuthOptions } from "./PasswordReset";

export function SignInPage() {
  const { t } = useI18n();
  const navigate = useNavigate();
  const location = useLocation();
  const qc = useQueryClient();
  const [formError, setFormError] = useState("");
  const options = useAuthOptions();
  const notice = (location.state as { notice?: string } | null)?.notice;
  const form = useForm({ initialValues: { email: "", password: "" } });
  const signin = useMutation({
    mutationFn: (v: typeof form.values) => call(api.POST("/api/v1/auth/signin", { body: v })),
    onSuccess: (s) => {
      qc.setQueryData(["me"], { user: s.user, tenant: s.tenant });
      const from = (location.state as { from?: string } | null)?.from;
      navigate(from && from !== "/signin" ? from : "/status", { replace: true });
    },
    onError: (e) => setFormError(applyApiError(form, e)),
  });
  return (
    <AuthFrame title={t("auth.signin")}>
      <form
        onSubmit={form.onSubmit((v) => {
          setFormError("");
          signin.mutate(v);
        })}
      >
        <Stack>
          {notice === "reset.done" && !formError && (
            <Alert color="green" data-testid="form-notice">
              {t("reset.done")}
            </Alert>
          )}
          {formError && (
            <Alert color="red" role="alert" data-testid="form-error">
              {formError}
            </Alert>
          )}
          <TextInput
            label={t("auth.email")}
            type="email"
            autoComplete="username"
            required
            {...form.getInputProps("email")}
          />
          <PasswordInput
            label={t("auth.password")}
            autoComplete="current-password"
            required
            {...form.getInputProps("password")}
          />
          {options.data?.password_reset && (
            <Anchor component={Link} to="/forgot-password" size="sm" data-testid="forgot-link">
              {t("reset.forgot")}
            </Anchor>
          )}
          <Button type="submit" loading={signin.isPending} fullWidth>
            {t("auth.signin")}
          </Button>
          <Text size="sm" ta="center">
            {t("auth.noAccount")}{" "}
            <Anchor component={Link} to="/signup">
              {t("auth.createAccount")}
            </Anchor>
          </Text>
        </Stack>
      </form>
    </AuthFrame>
  );
}
