import { MantineProvider } from "@mantine/core";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import type { ReactNode } from "react";
import { MemoryRouter } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";
import { I18nProvider } from "../lib/i18n";
import { ForgotPasswordPage, ResetPasswordPage, tokenFromHash } from "../pages/PasswordReset";

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  window.location.hash = "";
});

function wrap(children: ReactNode) {
  return render(
    <MantineProvider>
      <QueryClientProvider client={new QueryClient()}>
        <I18nProvider lang="en">
          <MemoryRouter>{children}</MemoryRouter>
        </I18nProvider>
      </QueryClientProvider>
    </MantineProvider>,
  );
}

function answer(status: number, body?: unknown) {
  const fetch = vi.fn(
    async (_request: Request) =>
      new Response(body === undefined ? null : JSON.stringify(body), {
        status,
        headers: { "content-type": "application/json" },
      }),
  );
  vi.stubGlobal("fetch", fetch);
  return fetch;
}

describe("password reset", () => {
  it("reads the token from the link's fragment", () => {
    expect(tokenFromHash("#token=abcDEF_123-xyz")).toBe("abcDEF_123-xyz");
    expect(tokenFromHash("token=abcDEF_123-xyz")).toBe("abcDEF_123-xyz");
    expect(tokenFromHash("")).toBeNull();
    expect(tokenFromHash("#token=short")).toBeNull();
    expect(tokenFromHash("#token=<script>alert(1)</script>")).toBeNull();
  });

  it("says the link is on its way (the same for every address)", async () => {
    const fetch = answer(202, { message: "ok" });
    wrap(<ForgotPasswordPage />);
    fireEvent.change(screen.getByTestId("reset-email"), { target: { value: "a@example.com" } });
    fireEvent.click(screen.getByTestId("reset-send"));
    expect(await screen.findByTestId("reset-sent")).toHaveProperty(
      "textContent",
      expect.stringContaining("a@example.com"),
    );
    const req = fetch.mock.calls[0][0];
    expect(new URL(req.url).pathname).toBe("/api/v1/auth/password-reset");
  });

  it("shows the API's error for a used or expired link", async () => {
    window.location.hash = "#token=abcdefghijklmnop";
    answer(400, {
      error_id: "auth.reset_invalid",
      message: "this password-reset link is invalid, used or expired; request a new one",
      details: {},
    });
    wrap(<ResetPasswordPage />);
    fireEvent.change(screen.getByTestId("reset-password"), { target: { value: "new-pass-123" } });
    fireEvent.change(screen.getByTestId("reset-repeat"), { target: { value: "new-pass-123" } });
    fireEvent.click(screen.getByTestId("reset-save"));
    await waitFor(() =>
      expect(screen.getByTestId("form-error").textContent).toMatch(/invalid, used or expired/),
    );
  });

  it("checks the repeated password before asking the server", async () => {
    window.location.hash = "#token=abcdefghijklmnop";
    const fetch = answer(204);
    wrap(<ResetPasswordPage />);
    fireEvent.change(screen.getByTestId("reset-password"), { target: { value: "new-pass-123" } });
    fireEvent.change(screen.getByTestId("reset-repeat"), { target: { value: "new-pass-124" } });
    fireEvent.click(screen.getByTestId("reset-save"));
    expect(await screen.findByText("The passwords differ")).toBeTruthy();
    expect(fetch).not.toHaveBeenCalled();
  });

  it("explains a link without a token", () => {
    wrap(<ResetPasswordPage />);
    expect(screen.getByTestId("form-error").textContent).toMatch(/incomplete/);
  });
});
