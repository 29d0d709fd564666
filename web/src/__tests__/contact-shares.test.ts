import { describe, expect, it } from "vitest";
import { shareTarget } from "../components/ContactShares";

describe("contact sharing", () => {
  it("turns the picked option into the API's body", () => {
    expect(shareTarget("dept:3")).toEqual({ department_id: 3 });
    expect(shareTarget("emp:12")).toEqual({ employee_id: 12 });
  });
});
