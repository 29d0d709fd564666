import { describe, expect, it } from "vitest";
import {
  callBackNumber,
  callbackErrorKey,
  callbackFailure,
  dialable,
  parseOrigins,
  retryMinutes,
  targetFields,
  targetValue,
  widgetSnippet,
  widgetTestUrl,
} from "../lib/callback";
import { ApiError } from "../lib/errors";
import { translate } from "../lib/i18n-dict";

const record = (
  direction: string,
  caller: string,
  callee: string,
  callerEmp: number | null = null,
  calleeEmp: number | null = null,
) => ({
  direction,
  caller,
  callee,
  caller_employee_id: callerEmp,
  callee_employee_id: calleeEmp,
});

describe("which number a call-log record calls back", () => {
  it("calls back the caller of an incoming call and the callee of an outgoing one", () => {
    expect(callBackNumber(record("incoming", "+79161234567", "101", null, 7), 7)).toBe("+79161234567");
    expect(callBackNumber(record("outgoing", "101", "+74950000002", 7, null), 7)).toBe("+74950000002");
    // whoever looks at it (an admin seeing a colleague's call) gets the same client
    expect(callBackNumber(record("incoming", "+79161234567", "101", null, 7), 9)).toBe("+79161234567");
  });

  it("calls back the other party of an internal call", () => {
    const call = record("internal", "102", "101", 8, 7);
    expect(callBackNumber(call, 7)).toBe("102"); // I was called: call the caller back
    expect(callBackNumber(call, 8)).toBe("101"); // I called: call the callee again
    expect(callBackNumber(call, null)).toBe("102"); // neither: the one who called
  });

  it("offers nothing for anonymous or empty parties", () => {
    expect(callBackNumber(record("incoming", "anonymous", "101"))).toBeNull();
    expect(callBackNumber(record("incoming", "", "101"))).toBeNull();
    expect(callBackNumber(record("outgoing", "101", "sip:bob@example.com"))).toBeNull();
    expect(callBackNumber(record("incoming", " +7 (916) 123-45-67 ", "101"))).toBe("+7 (916) 123-45-67");
  });

  it("knows a dialable number when it sees one", () => {
    expect(dialable("50")).toBe(true);
    expect(dialable("8 916 123-45-67")).toBe(true);
    expect(dialable("5")).toBe(false);
    expect(dialable("+")).toBe(false);
    expect(dialable("call me")).toBe(false);
    expect(dialable(null)).toBe(false);
  });
});

describe("call-back refusals", () => {
  it("names the reason by status", () => {
    const err = (status: number) => new ApiError(status, { error_id: "x", message: "server says" });
    expect(callbackErrorKey(err(503))).toBe("callback.unavailable");
    expect(callbackErrorKey(err(429))).toBe("callback.limited");
    expect(callbackErrorKey(err(422))).toBe("callback.badNumber");
    expect(callbackErrorKey(err(403))).toBe("callback.refused");
    expect(callbackErrorKey(err(500))).toBe("callback.failed");
    expect(callbackErrorKey(new Error("offline"))).toBe("callback.failed");
  });

  it("says when a limited call-back may be retried, and keeps the server's message", () => {
    const limited = new ApiError(429, {
      error_id: "callback_limited",
      message: "too many call-back requests; try again later",
      details: { retry_after: 61, limit: "user" },
    });
    expect(retryMinutes(limited)).toBe(2);
    const f = callbackFailure(limited);
    expect(translate("en", f.title, f.vars)).toBe("Too many call-backs; try again in 2 min");
    expect(translate("ru", f.title, f.vars)).toBe("Слишком много обратных звонков; попробуйте через 2 мин");
    expect(f.message).toBe("too many call-back requests; try again later");
    expect(retryMinutes(new ApiError(429, { details: {} }))).toBeNull();
    expect(retryMinutes(new ApiError(503, { details: { retry_after: 60 } }))).toBeNull();

    const nobody = callbackFailure(
      new ApiError(503, { error_id: "callback_unavailable", message: "nobody to ring" }),
    );
    expect(nobody.title).toBe("callback.unavailable");
    expect(nobody.message).toBe("nobody to ring");
  });
});

describe("the website widget", () => {
  it("builds the script tag from this server and the site's key", () => {
    expect(widgetSnippet("https://pbx.example.com/", "AbC-12_x", "ru")).toBe(
      '<script src="https://pbx.example.com/widget/clickphone-callback.js" ' +
        'data-site-key="AbC-12_x" data-lang="ru" async></script>',
    );
    // nothing a key could carry breaks out of the attribute
    expect(widgetSnippet("http://127.0.0.1:8080", 'a"><b', "en")).toContain('data-site-key="a&quot;&gt;&lt;b"');
  });

  it("links the test page with the key", () => {
    expect(widgetTestUrl("AbC-12_x")).toBe("/widget/test.html?key=AbC-12_x");
    expect(widgetTestUrl("a b&c", "en")).toBe("/widget/test.html?key=a+b%26c&lang=en");
  });

  it("reads allowed origins one per line or separated by commas", () => {
    expect(parseOrigins(" https://shop.example\n\nhttps://www.shop.example, https://shop.example ")).toEqual([
      "https://shop.example",
      "https://www.shop.example",
    ]);
    expect(parseOrigins("   ")).toEqual([]);
  });

  it("maps the ring-first choice to exactly one of employee_id and department_id", () => {
    expect(targetValue({ employee_id: 4, department_id: null })).toBe("employee:4");
    expect(targetValue({ employee_id: null, department_id: 2 })).toBe("department:2");
    expect(targetValue({})).toBeNull();
    expect(targetFields("employee:4")).toEqual({ employee_id: 4, department_id: null });
    expect(targetFields("department:2")).toEqual({ employee_id: null, department_id: 2 });
    expect(targetFields(null)).toEqual({ employee_id: null, department_id: null });
    expect(targetFields("team:1")).toEqual({ employee_id: null, department_id: null });
  });
});
