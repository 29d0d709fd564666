/** The cabinet's "Call back": POST /api/v1/calls/callback with a notification either way. */
import { notifications } from "@mantine/notifications";
import { useMutation } from "@tanstack/react-query";
import { api, call, type Me } from "../api/client";
import { callbackFailure } from "./callback";
import { useI18n } from "./i18n";

/** Call-back is for a company's employees (individuals have no extension to ring first). */
export function canCallBack(me: Me | undefined): boolean {
  return !!me?.tenant && me.tenant.kind !== "individual";
}

export function useCallBack() {
  const { t } = useI18n();
  return useMutation({
    mutationFn: (number: string) =>
      call(api.POST("/api/v1/calls/callback", { body: { number: number.trim() } })),
    onSuccess: (data) =>
      notifications.show({
        color: "green",
        title: t("callback.ringing"),
        message: t("callback.ringingDetail", { number: data.number }),
      }),
    onError: (err) => {
      const f = callbackFailure(err);
      notifications.show({ color: "red", title: t(f.title, f.vars), message: f.message });
    },
  });
}
