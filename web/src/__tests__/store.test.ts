import { describe, expect, it } from "vitest";
import { translate, type Key } from "../lib/i18n-dict";
import {
  formatMoney,
  kindLabel,
  notificationText,
  requestSubject,
  stateColor,
  storeQuery,
  unreadBadge,
} from "../lib/store";

const en = (key: Key, vars?: Record<string, string | number>) => translate("en", key, vars);
const ru = (key: Key, vars?: Record<string, string | number>) => translate("ru", key, vars);

describe("store helpers", () => {
  it("formats integer minor units as money", () => {
    expect(formatMoney(150000, "RUB", "ru").replace(/\s/g, " ")).toBe("1 500 ₽");
    expect(formatMoney(1999, "GBP", "en")).toBe("£19.99");
    expect(formatMoney(0, "EUR", "en")).toBe("€0");
    expect(formatMoney(1000, "XXX-bad", "en")).toBe("10.00 XXX-bad");
  });

  it("builds the catalogue query from the filters", () => {
    expect(storeQuery({ country: " ru", city: " Moscow ", type: "local", offset: 20, limit: 20 })).toEqual({
      country: "RU",
      city: "Moscow",
      number_type: "local",
      offset: 20,
      limit: 20,
    });
    // half-typed country codes and empty filters are left out
    expect(storeQuery({ country: "r", city: "", type: null, offset: 0, limit: 20 })).toEqual({
      offset: 0,
      limit: 20,
    });
  });

  it("names requests and their states", () => {
    expect(kindLabel("sms_package", ru)).toBe("Пакет SMS");
    expect(kindLabel("temporary_number", en)).toBe("Temporary number");
    expect(kindLabel("mystery", en)).toBe("mystery");
    expect(stateColor("approved")).toBe("green");
    expect(stateColor("weird")).toBe("gray");
    expect(requestSubject({ kind: "number", number_e164: "+74951110001", details: {} })).toBe("+74951110001");
    expect(requestSubject({ kind: "sms_package", details: { package: "SMS 1000" } })).toBe("SMS 1000");
    expect(requestSubject({ kind: "tariff", details: { days: 3 } })).toBe("");
  });

  it("shows the unread badge", () => {
    expect(unreadBadge(0)).toBeNull();
    expect(unreadBadge(7)).toBe("7");
    expect(unreadBadge(120)).toBe("99+");
  });

  it("words notifications in the user's language", () => {
    const approved = { kind: "store.approved", title: "x", data: { number: "+74951110001", request_kind: "number" } };
    expect(notificationText(approved, ru)).toBe("Номер +74951110001 теперь ваш");
    expect(notificationText(approved, en)).toBe("Number +74951110001 is yours");
    const pkg = { kind: "store.rejected", title: "x", data: { request_kind: "sms_package" } };
    expect(notificationText(pkg, ru)).toBe("Заявка «Пакет SMS» отклонена");
    const expired = { kind: "number.expired", title: "x", data: { number: "+442071234567" } };
    expect(notificationText(expired, en)).toBe("Temporary number +442071234567 has expired");
    const expiring = {
      kind: "number.expiring",
      title: "x",
      data: { number: "+442071234567", expires_at: new Date(2027, 2, 5, 12).toISOString() },
    };
    expect(notificationText(expiring, en)).toBe("Temporary number +442071234567 expires on 05/03/2027");
    expect(notificationText(expiring, ru)).toBe("Срок временного номера +442071234567 истекает 05/03/2027");
    const order = { kind: "store.requested", title: "x", data: { customer: "Acme", number: "+74951110001" } };
    expect(notificationText(order, en)).toBe("New order from Acme: number +74951110001");
    const pkgOrder = { kind: "store.requested", title: "x", data: { customer: "Acme", request_kind: "sms_package" } };
    expect(notificationText(pkgOrder, ru)).toBe("Новая заявка от Acme: Пакет SMS");
    const bday = { kind: "contact.birthday", title: "x", data: { name: "Mom", age: 67, contact_id: 1 } };
    expect(notificationText(bday, en)).toBe("Mom turns 67 today");
    expect(notificationText(bday, ru)).toBe("Контакту Mom сегодня исполняется 67");
    const noAge = { kind: "contact.birthday", title: "x", data: { name: "Ann", age: null } };
    expect(notificationText(noAge, en)).toBe("Ann has a birthday today");
    expect(notificationText({ kind: "other", title: "API title", data: {} }, en)).toBe("API title");
  });
});
