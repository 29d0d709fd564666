/** Shared queries for the directory (employees, departments, devices). */
import { useQuery } from "@tanstack/react-query";
import { api, call, type Department, type Device, type Employee } from "../api/client";

export const ALL = 500; // the API's largest page

export function useAllDepartments(enabled = true) {
  return useQuery({
    queryKey: ["departments", "all"],
    queryFn: () =>
      call(api.GET("/api/v1/departments", { params: { query: { limit: ALL, sort: "name" } } })),
    enabled,
    select: (p) => p.items as Department[],
  });
}

export function useAllEmployees(enabled = true) {
  return useQuery({
    queryKey: ["employees", "all"],
    queryFn: () =>
      call(api.GET("/api/v1/employees", { params: { query: { limit: ALL } } })),
    enabled,
    select: (p) => p.items as Employee[],
  });
}

export function useAllDevices(refetchInterval: number | false = false) {
  return useQuery({
    queryKey: ["devices", "all"],
    queryFn: () => call(api.GET("/api/v1/devices", { params: { query: { limit: ALL } } })),
    refetchInterval,
    select: (p) => p.items as Device[],
  });
}

/** Where phones should register: the server's SIP address, with a wildcard host replaced. */
export function sipServer(address: string | undefined, pageHost: string): string {
  if (!address) return pageHost;
  const m = /^(.*):(\d+)$/.exec(address);
  const host = m ? m[1] : address;
  const port = m ? m[2] : "5060";
  const usable = host && host !== "0.0.0.0" && host !== "::" && host !== "[::]" ? host : pageHost;
  return port === "5060" ? usable : `${usable}:${port}`;
}

export function useHealth(refetchInterval: number | false = false) {
  return useQuery({
    queryKey: ["health"],
    queryFn: async () => {
      const r = await fetch("/api/v1/health");
      return (await r.json()) as {
        status: string;
        sip?: {
          ok?: boolean;
          status?: string;
          address?: string;
          public_address?: string;
          active_calls?: number;
        };
      };
    },
    refetchInterval,
    staleTime: 30_000,
  });
}
