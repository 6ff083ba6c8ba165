/** The text of a caught error, for messages that wrap it. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message || error.name : String(error);
}
