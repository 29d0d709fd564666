/** Translated names of node types, outputs and problem codes (unknown ones fall back). */
import { en, type Key } from "../../lib/i18n-dict";
import type { Problem } from "../../lib/flow";

type T = (key: Key, vars?: Record<string, string | number>) => string;

function known(key: string): key is Key {
  return key in en;
}

export function typeName(t: T, type: string): string {
  const key = `flow.type.${type}`;
  return known(key) ? t(key) : type;
}

/** A fixed output's name ("No answer"); an IVR choice output is shown as it is named. */
export function outputName(t: T, output: string): string {
  const key = `flow.out.${output}`;
  return known(key) ? t(key) : output;
}

export function problemText(t: T, p: Problem): string {
  // The messages name the output in quotes: "output 'no_answer' of ring_group 'x' leads nowhere".
  const output = p.code === "missing_branch" ? /output '([^']*)'/.exec(p.message)?.[1] : undefined;
  if (output !== undefined) return t("flow.problem.missing_branch_named", { output: outputName(t, output) });
  const key = `flow.problem.${p.code}`;
  return known(key) ? t(key) : p.message;
}
