import type { UseFormReturnType } from "@mantine/form";
import { errorMessage, fieldErrors } from "./errors";

/**
 * Puts an API failure on a form: each `details.fields` entry next to its input, and the
 * overall message (or field errors no input shows) in the returned form-level text.
 */
export function applyApiError<T>(form: UseFormReturnType<T>, err: unknown): string {
  const known = Object.keys(form.getValues() as object);
  const fields = fieldErrors(err, known);
  const { _form, ...perField } = fields;
  form.setErrors(perField);
  if (Object.keys(perField).length && !_form) return "";
  return _form ?? errorMessage(err);
}
