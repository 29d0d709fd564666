import { MantineProvider } from "@mantine/core";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";
import { I18nProvider } from "../lib/i18n";
import { SignUpPage } from "../pages/SignUp";

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe("sign-up form", () => {
  it("shows each field's API error next to the field", async () => {
    const body = {
      error_id: "validation.failed",
      message: "some fields are invalid: email, password",
      details: {
        fields: {
          email: "value is not a valid email address",
          password: "String should have at least 8 characters",
        },
      },
    };
    vi.stubGlobal(
      "fetch",
      vi.fn(async () =>
        new Response(JSON.stringify(body), {
          status: 422,
          headers: { "content-type": "application/json" },
        }),
      ),
    );
    render(
      <MantineProvider>
        <QueryClientProvider client={new QueryClient()}>
          <I18nProvider lang="en">
            <MemoryRouter>
              <SignUpPage />
            </MemoryRouter>
          </I18nProvider>
        </QueryClientProvider>
      </MantineProvider>,
    );
    fireEvent.change(screen.getByLabelText(/Company name/), { target: { value: "Acme" } });
    fireEvent.click(screen.getByRole("button", { name: "Create an account" }));
    await waitFor(() =>
      expect(screen.getByText("value is not a valid email address")).toBeTruthy(),
    );
    expect(screen.getByText("String should have at least 8 characters")).toBeTruthy();
    const email = screen.getByLabelText(/E-mail/);
    expect(email.getAttribute("aria-invalid")).toBe("true");
  });
});
