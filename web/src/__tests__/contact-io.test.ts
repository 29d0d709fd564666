import { describe, expect, it } from "vitest";
import {
  contactsToCsv,
  contactsToVcard,
  csvToContacts,
  parseContactsFile,
  parseCsvRows,
  vcardToContacts,
  type ContactData,
} from "../lib/contact-io";

const sample: ContactData[] = [
  {
    name: "Иван Петров",
    company: "ООО \"Ромашка\", отдел",
    group: "Клиенты",
    favorite: true,
    notes: "line one\nline two; with semicolon",
    numbers: [
      { number: "+7 999 123-45-67", label: "mobile" },
      { number: "+7 495 000-00-00", label: "work" },
    ],
  },
  { name: "Bob", company: "", group: "", favorite: false, notes: "", numbers: [] },
];

describe("CSV", () => {
  it("parses quoted fields with delimiters, quotes and newlines", () => {
    expect(parseCsvRows('a,"b,c","d ""e""","f\ng"\r\n1,2,3,4\n')).toEqual([
      ["a", "b,c", 'd "e"', "f\ng"],
      ["1", "2", "3", "4"],
    ]);
  });

  it("detects the semicolon delimiter of Russian spreadsheets", () => {
    expect(parseCsvRows("Имя;Телефон\nАня;+79990000000\n")).toEqual([
      ["Имя", "Телефон"],
      ["Аня", "+79990000000"],
    ]);
  });

  it("round-trips contacts", () => {
    expect(csvToContacts(contactsToCsv(sample))).toEqual(sample);
  });

  it("reads Russian headers, several numbers in one cell, and a BOM", () => {
    const text = "\uFEFFФИО;Компания;Группа;Избранное;Телефон;Мобильный\nАня;Acme;VIP;да;+1 555, +1 556;+7 900\n";
    expect(csvToContacts(text)).toEqual([
      {
        name: "Аня",
        company: "Acme",
        group: "VIP",
        favorite: true,
        notes: "",
        numbers: [
          { number: "+1 555", label: "" },
          { number: "+1 556", label: "" },
          { number: "+7 900", label: "мобильный" },
        ],
      },
    ]);
  });

  it("skips blank rows and names a nameless contact by its number", () => {
    const got = csvToContacts("name,phone\n,,\n,+100\n");
    expect(got).toHaveLength(1);
    expect(got[0].name).toBe("+100");
  });
});

describe("vCard", () => {
  it("round-trips contacts", () => {
    expect(vcardToContacts(contactsToVcard(sample))).toEqual(sample);
  });

  it("reads folded lines, N without FN, TYPE params, item prefixes and v2.1 QP", () => {
    const text = [
      "BEGIN:VCARD",
      "VERSION:2.1",
      "N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=D0=9F=D0=B5=D1=82=D1=80=D0=BE=D0=B2;=D0=98=D0=B2=D0=B0=D0=BD;;;",
      "TEL;CELL;VOICE:+79991112233",
      "item1.TEL;TYPE=WORK,VOICE:+74950001122",
      "NOTE:a long note that is",
      "  folded",
      "END:VCARD",
    ].join("\r\n");
    expect(vcardToContacts(text)).toEqual([
      {
        name: "Иван Петров",
        company: "",
        group: "",
        favorite: false,
        notes: "a long note that is folded",
        numbers: [
          { number: "+79991112233", label: "cell" },
          { number: "+74950001122", label: "work" },
        ],
      },
    ]);
  });

  it("is chosen by extension or content", () => {
    expect(parseContactsFile("x.txt", "BEGIN:VCARD\nFN:A\nEND:VCARD\n")[0].name).toBe("A");
    expect(parseContactsFile("x.csv", "name\nB\n")[0].name).toBe("B");
  });
});
