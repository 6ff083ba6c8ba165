/**
 * Runs a Standard Schema validator on a payload, synchronously when the validator is.
 *
 * @module
 */

import { ValidationError } from "../errors.ts";
import type {
  StandardSchemaIssue,
  StandardSchemaResult,
  StandardSchemaV1,
} from "./standard_schema.ts";

function pathText(issue: StandardSchemaIssue): string {
  if (!issue.path || issue.path.length === 0) return "";
  const keys = issue.path.map((p) => typeof p === "object" && p !== null ? p.key : p);
  return keys.map(String).join(".") + ": ";
}

/**
 * Formats a validator's issues as one line each (`path: message`).
 *
 * @param issues the issues
 * @returns the lines joined with `; `
 */
export function formatIssues(issues: ReadonlyArray<StandardSchemaIssue>): string {
  return issues.map((issue) => pathText(issue) + issue.message).join("; ");
}

function settle<T>(result: StandardSchemaResult<T>, what: string, vendor: string): T {
  if (result.issues !== undefined) {
    throw new ValidationError(
      `${what} failed ${vendor} validation: ${formatIssues(result.issues)}`,
      result.issues,
    );
  }
  return result.value;
}

/**
 * Validates a payload.
 *
 * @param schema any Standard Schema (zod, valibot, arktype ...)
 * @param value the payload
 * @param what what is validated, for the error (`Message 3`, `Publish to "media"`)
 * @returns the validator's output (transforms applied), or a promise of it for async schemas
 * @throws {ValidationError} with the validator's issues
 */
export function validate<T>(
  schema: StandardSchemaV1<unknown, T>,
  value: unknown,
  what: string,
): T | Promise<T> {
  const standard = schema["~standard"];
  const result = standard.validate(value);
  if (result instanceof Promise) return result.then((r) => settle(r, what, standard.vendor));
  return settle(result, what, standard.vendor);
}
