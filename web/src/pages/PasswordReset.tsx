import { Alert, Anchor, Button, PasswordInput, Stack, Text, TextInput } from "@mantine/core";
import { useForm } from "@mantine/form";
import { useMutation, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useNavigate } from "react-router";
import { api, call } from "../api/client";
import { AuthFrame } from "../components/AuthFrame";
import { applyApiError } from "../lib/forms";
import { useI18n } from "../lib/i18n";

/** Whether the server can e-mail reset links (SMTP configured). */
export function useAuthOptions() {
  return useQuery({
    queryKey: ["auth", "options"],
    queryFn: () => call(api.GET("/api/v1/auth/options")),
    staleTime: 5 * 60_000,
    retry: false,
  });
}

/** The token of a reset link: ``/reset-password#token=...`` (kept out of server logs). */
export function tokenFromHash(hash: string): string | null {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  const token = params.get("token");
  return token && /^[\w-]{10,200}$/.test(token) ? token : null;
}

export function ForgotPasswordPage() {
  const { t } = useI18n();
  const [sent, setSent] = useState(false);
  const [formError, setFormError] = useState("");
  const form = useForm({ initialValues: { email: "" } });
  const request = useMutation({
    mutationFn: (v: typeof form.values) =>
      call(api.POST("/api/v1/auth/password-reset", { body: v })),
    onSuccess: () => setSent(true),
    onError: (e) => setFormError(applyApiError(form, e)),
  });
  return (
    <AuthFrame title={t("reset.title")}>
      {sent ? (
        <Stack>
          <Alert color="green" data-testid="reset-sent">
            {t("reset.sent", { email: form.values.email })}
          </Alert>
          <Anchor component={Link} to="/signin" ta="center" size="sm">
            {t("reset.backToSignin")}
          </Anchor>
        </Stack>
      ) : (
        <form
          onSubmit={form.onSubmit((v) => {
            setFormError("");
            request.mutate(v);
          })}
        >
          <Stack>
            <Text size="sm" c="dimmed">
              {t("reset.intro")}
            </Text>
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
              data-testid="reset-email"
              {...form.getInputProps("email")}
            />
            <Button type="submit" loading={request.isPending} fullWidth data-testid="reset-send">
              {t("reset.send")}
            </Button>
            <Anchor component={Link} to="/signin" ta="center" size="sm">
              {t("reset.backToSignin")}
            </Anchor>
          </Stack>
        </form>
      )}
    </AuthFrame>
  );
}

export function ResetPasswordPage() {
  const { t } = useI18n();
  const navigate = useNavigate();
  const [token] = useState(() => tokenFromHash(window.location.hash));
  const [formError, setFormError] = useState("");
  const form = useForm({
    initialValues: { new_password: "", repeat: "" },
    validate: {
      repeat: (v, all) => (v === all.new_password ? null : t("reset.mismatch")),
    },
  });
  const confirm = useMutation({
    mutationFn: (v: typeof form.values) =>
      call(
        api.POST("/api/v1/auth/password-reset/confirm", {
          body: { token: token ?? "", new_password: v.new_password },
        }),
      ),
    onSuccess: () => navigate("/signin", { replace: true, state: { notice: "reset.done" } }),
    onError: (e) => setFormError(applyApiError(form, e)),
  });
  return (
    <AuthFrame title={t("reset.newTitle")}>
      {!token ? (
        <Stack>
          <Alert color="red" data-testid="form-error">
            {t("reset.badLink")}
          </Alert>
          <Anchor component={Link} to="/forgot-password" ta="center" size="sm">
            {t("reset.again")}
          </Anchor>
        </Stack>
      ) : (
        <form
          onSubmit={form.onSubmit((v) => {
            setFormError("");
            confirm.mutate(v);
          })}
        >
          <Stack>
            {formError && (
              <Alert color="red" role="alert" data-testid="form-error">
                {formError}{" "}
                <Anchor component={Link} to="/forgot-password" size="sm">
                  {t("reset.again")}
                </Anchor>
              </Alert>
            )}
            <PasswordInput
              label={t("reset.newPassword")}
              description={t("auth.passwordHint")}
              autoComplete="new-password"
              required
              data-testid="reset-password"
              {...form.getInputProps("new_password")}
            />
            <PasswordInput
              label={t("reset.repeat")}
              autoComplete="new-password"
              required
              data-testid="reset-repeat"
              {...form.getInputProps("repeat")}
            />
            <Button type="submit" loading={confirm.isPending} fullWidth data-testid="reset-save">
              {t("reset.save")}
            </Button>
          </Stack>
        </form>
      )}
    </AuthFrame>
  );
}
