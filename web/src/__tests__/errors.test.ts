import { describe, expect, it } from "vitest";
import { ApiError, errorMessage, fieldErrors } from "../lib/errors";
import { readCookie } from "../api/client";
import { sipServer } from "../lib/directory";
import { linphoneConfig, sipQrPayload } from "../lib/provisioning";

const validation = new ApiError(422, {
  error_id: "validation.failed",
  message: "some fields are invalid: email, numbers.0.number, tenant_id",
  details: {
    fields: {
      email: "value is not a valid email address",
      "numbers.0.number": "String should have at least 1 character",
      tenant_id: "operator staff must name the tenant",
    },
  },
});

describe("API errors", () => {
  it("maps details.fields to form paths", () => {
    expect(fieldErrors(validation)["numbers.0.number"]).toMatch(/at least 1/);
    expect(fieldErrors(validation).email).toMatch(/valid email/);
  });

  it("reports errors for fields the form lacks under _form", () => {
    const f = fieldErrors(validation, ["email", "numbers"]);
    expect(f._form).toBe("tenant_id: operator staff must name the tenant");
    expect(f.email).toBeDefined();
  });

  it("uses the server's message, or a fallback", () => {
    expect(errorMessage(new ApiError(401, { message: "wrong e-mail or password" }))).toBe(
      "wrong e-mail or password",
    );
    expect(new ApiError(502, undefined).message).toBe("HTTP 502");
    expect(fieldErrors(new Error("x"))).toEqual({});
  });
});

describe("helpers", () => {
  it("reads the CSRF cookie", () => {
    expect(readCookie("clickphone_csrf", "a=1; clickphone_csrf=ab%3Dc; z=2")).toBe("ab=c");
    expect(readCookie("missing", "a=1")).toBeNull();
  });

  it("gives phones a usable SIP server address", () => {
    expect(sipServer("0.0.0.0:5060", "pbx.example.com")).toBe("pbx.example.com");
    expect(sipServer("10.0.0.5:15060", "x")).toBe("10.0.0.5:15060");
    expect(sipServer(undefined, "host")).toBe("host");
  });

  it("encodes credentials for the QR code and Linphone", () => {
    const c = { username: "u100", password: "p@ss:w/rd", realm: "clickphone", server: "h:5070" };
    expect(sipQrPayload(c)).toBe("sip:u100:p%40ss%3Aw%2Frd@h:5070");
    const xml = linphoneConfig({ ...c, password: "<&>" });
    expect(xml).toContain("<entry name=\"passwd\">&#60;&#38;&#62;</entry>");
    expect(xml).toContain("&lt;sip:u100@h:5070&gt;");
  });
});
