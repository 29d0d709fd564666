import { useQuery } from "@tanstack/react-query";
import { api, call, type Me } from "../api/client";

export function useMe() {
  return useQuery<Me>({
    queryKey: ["me"],
    queryFn: () => call(api.GET("/api/v1/me")),
    staleTime: 60_000,
  });
}

export function isAdmin(me: Me | undefined): boolean {
  const role = me?.user.role ?? "";
  return role === "tenant_owner" || role === "tenant_admin" || role === "operator_admin";
}
