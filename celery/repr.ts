/**
 * Python's `repr` of JSON values, as Celery's `saferepr` writes `argsrepr` / `kwargsrepr`
 * (cut at `maxsize` characters with `...`).
 *
 * @module
 */

function reprString(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (ch === "\\") out += "\\\\";
    else if (ch === quote) out += `\\${quote}`;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else out += ch;
  }
  return out + quote;
}

function reprNumber(value: number): string {
  if (Number.isNaN(value)) return "nan";
  if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
  return String(value);
}

/** Celery's `saferepr` text of a string value: single quotes, only `'` escaped. */
function celeryString(text: string): string {
  return `'${text.replaceAll("'", "\\'")}'`;
}

/**
 * Python's `repr` of a JSON-like value: `None`, `True`, `'text'`, `[1, 2]`, `{'a': 1}`.
 *
 * @param value the value
 * @param str how string values are written (keys are always Python's repr)
 * @returns the text Python would print
 */
export function pyRepr(value: unknown, str: (text: string) => string = reprString): string {
  const inner = (v: unknown) => pyRepr(v, str);
  if (value === null || value === undefined) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value === "number") return reprNumber(value);
  if (typeof value === "bigint") return String(value);
  if (typeof value === "string") return str(value);
  if (value instanceof Date) return str(value.toISOString());
  if (Array.isArray(value)) return `[${value.map(inner).join(", ")}]`;
  if (typeof value === "object") {
    const items = Object.entries(value).map(([k, v]) => `${reprString(k)}: ${inner(v)}`);
    return `{${items.join(", ")}}`;
  }
  return str(String(value));
}

/**
 * Celery's `saferepr(value, maxsize)`: Python's repr, except that strings are always in single
 * quotes with only `'` escaped (Celery's `_format_chars`), cut to `maxsize` characters.
 *
 * @param value the value
 * @param maxsize most characters (Celery's `argsrepr_maxsize`, 1024)
 * @returns the text
 */
export function saferepr(value: unknown, maxsize = 1024): string {
  const text = pyRepr(value, celeryString);
  return text.length > maxsize ? `${text.slice(0, maxsize - 3)}...` : text;
}
