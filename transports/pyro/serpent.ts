/**
 * Serpent, Pyro4's default serializer (`serpent.py`): Python literal text behind the header line
 * `# serpent utf-8 python3.2`, read by Python's `ast.literal_eval`. This codec covers what Pyro
 * and Kombu's broker exchange: text, numbers, `True`/`False`/`None`, tuples, lists, sets, dicts,
 * and bytes (serpent writes them as `{'data': <base64>, 'encoding': 'base64'}`).
 *
 * JavaScript to serpent: a string is a `str`; a safe integer or a bigint an `int`, any other
 * number a `float` (infinities as `1e30000`, NaN as serpent's `{'__class__': 'float', 'value':
 * 'nan'}`); an array a list, a {@link PyTuple} a tuple, a `Uint8Array` bytes, a plain object a
 * dict. Serpent to JavaScript: tuples, lists and sets are arrays, dicts plain objects (keys as
 * text), ints beyond 2^53 bigints.
 *
 * @module
 */

import { decodeBase64, encodeBase64 } from "../../src/_base64.ts";

/** The header line serpent writes before the literal. */
export const SERPENT_HEADER = "# serpent utf-8 python3.2\n";

/** A value serpent carries, as JavaScript holds it. */
export type SerpentValue =
  | string
  | number
  | bigint
  | boolean
  | null
  | Uint8Array
  | PyTuple
  | SerpentValue[]
  | { [key: string]: SerpentValue };

/** A Python tuple to write (decoded tuples are plain arrays). */
export class PyTuple {
  /** The items. */
  readonly items: readonly SerpentValue[];
  /**
   * Wraps the items of a tuple.
   *
   * @param items the items
   */
  constructor(items: readonly SerpentValue[]) {
    this.items = items;
  }
}

/** Text that is not serpent (or not the subset this codec reads). */
export class SerpentError extends Error {
  /**
   * Makes the error.
   *
   * @param message what is wrong and where
   */
  constructor(message: string) {
    super(message);
    this.name = "SerpentError";
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

function pyString(text: string): string {
  let out = "'";
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const ch = text[i];
    if (ch === "\\") out += "\\\\";
    else if (ch === "'") out += "\\'";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, "0")}`;
    else if (c >= 0xd800 && c <= 0xdfff) {
      const next = text.charCodeAt(i + 1);
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        out += ch + text[i + 1];
        i++;
      } else out += `\\u${c.toString(16).padStart(4, "0")}`;
    } else out += ch;
  }
  return out + "'";
}

function pyFloat(n: number): string {
  if (Number.isNaN(n)) return "{'__class__':'float','value':'nan'}";
  if (n === Infinity) return "1e30000";
  if (n === -Infinity) return "-1e30000";
  if (Object.is(n, -0)) return "-0.0";
  const text = String(n);
  return /[.e]/.test(text) ? text : `${text}.0`;
}

function write(value: SerpentValue, depth: number): string {
  if (depth > 500) throw new SerpentError("serpent: value nested too deep");
  if (value === null) return "None";
  switch (typeof value) {
    case "string":
      return pyString(value);
    case "boolean":
      return value ? "True" : "False";
    case "bigint":
      return value.toString();
    case "number":
      return Number.isSafeInteger(value) && !Object.is(value, -0) ? String(value) : pyFloat(value);
  }
  if (value instanceof Uint8Array) {
    return `{'data':${pyString(encodeBase64(value))},'encoding':'base64'}`;
  }
  if (value instanceof PyTuple) {
    const items = value.items.map((v) => write(v, depth + 1));
    return items.length === 1 ? `(${items[0]},)` : `(${items.join(",")})`;
  }
  if (Array.isArray(value)) return `[${value.map((v) => write(v, depth + 1)).join(",")}]`;
  if (typeof value === "object") {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    return `{${entries.map(([k, v]) => `${pyString(k)}:${write(v, depth + 1)}`).join(",")}}`;
  }
  throw new SerpentError(`serpent: cannot write a ${typeof value}`);
}

/**
 * Writes a value as serpent (header line and literal, UTF-8).
 *
 * @param value the value
 * @returns the bytes
 * @throws {SerpentError} for a value serpent cannot carry (a function, a symbol)
 */
export function serpentDumps(value: SerpentValue): Uint8Array {
  return encoder.encode(SERPENT_HEADER + write(value, 0));
}

const ESCAPES: Record<string, string> = {
  "\\": "\\",
  "'": "'",
  '"': '"',
  n: "\n",
  r: "\r",
  t: "\t",
  a: "\x07",
  b: "\b",
  f: "\f",
  v: "\v",
  "\n": "",
};

/** A recursive-descent reader of the Python literals serpent writes. */
class Reader {
  readonly #text: string;
  #at = 0;

  constructor(text: string) {
    this.#text = text;
  }

  #fail(what: string): never {
    const near = this.#text.slice(this.#at, this.#at + 20);
    throw new SerpentError(`serpent: ${what} at offset ${this.#at} (near ${JSON.stringify(near)})`);
  }

  #skip(): void {
    while (/\s/.test(this.#text[this.#at] ?? "")) this.#at++;
  }

  #eat(ch: string): boolean {
    this.#skip();
    if (this.#text[this.#at] !== ch) return false;
    this.#at++;
    return true;
  }

  end(): void {
    this.#skip();
    if (this.#at !== this.#text.length) this.#fail("text after the value");
  }

  value(depth: number): SerpentValue {
    if (depth > 500) this.#fail("value nested too deep");
    this.#skip();
    const ch = this.#text[this.#at];
    if (ch === "'" || ch === '"') return this.#string();
    if (ch === "(") return this.#sequence(")", depth);
    if (ch === "[") return this.#sequence("]", depth);
    if (ch === "{") return this.#braces(depth);
    if (ch === "-" || ch === "+" || ch === "." || (ch >= "0" && ch <= "9")) return this.#number();
    for (const [word, value] of [["None", null], ["True", true], ["False", false]] as const) {
      if (this.#text.startsWith(word, this.#at)) {
        this.#at += word.length;
        return value;
      }
    }
    return this.#fail(ch === undefined ? "end of text" : "unexpected text");
  }

  #sequence(close: string, depth: number): SerpentValue[] {
    this.#at++;
    const items: SerpentValue[] = [];
    while (!this.#eat(close)) {
      items.push(this.value(depth + 1));
      if (!this.#eat(",")) {
        if (!this.#eat(close)) this.#fail(`expected , or ${close}`);
        break;
      }
    }
    return items;
  }

  #braces(depth: number): SerpentValue {
    this.#at++;
    const entries: [string, SerpentValue][] = [];
    const members: SerpentValue[] = [];
    while (!this.#eat("}")) {
      const key = this.value(depth + 1);
      if (this.#eat(":")) {
        if (members.length) this.#fail("a set and a dict mixed");
        entries.push([String(key), this.value(depth + 1)]);
      } else {
        if (entries.length) this.#fail("expected :");
        members.push(key);
      }
      if (!this.#eat(",")) {
        if (!this.#eat("}")) this.#fail("expected , or }");
        break;
      }
    }
    if (members.length) return members;
    const dict = Object.fromEntries(entries) as { [key: string]: SerpentValue };
    if (dict.__class__ === "float" && typeof dict.value === "string") {
      return Number(dict.value.replace(/^(-?)inf$/, "$1Infinity").replace("nan", "NaN"));
    }
    return dict;
  }

  #number(): number | bigint {
    const match = /^[-+]?(\d[\d_]*)?(\.\d*)?([eE][-+]?\d+)?/.exec(this.#text.slice(this.#at));
    const text = match?.[0] ?? "";
    if (!/\d/.test(text)) this.#fail("expected a number");
    this.#at += text.length;
    const clean = text.replaceAll("_", "");
    if (/[.eE]/.test(clean)) return Number(clean);
    const n = Number(clean);
    return Number.isSafeInteger(n) ? n : BigInt(clean);
  }

  #string(): string {
    const quote = this.#text[this.#at];
    const triple = this.#text.startsWith(quote.repeat(3), this.#at);
    const close = triple ? quote.repeat(3) : quote;
    this.#at += close.length;
    let out = "";
    for (;;) {
      if (this.#at >= this.#text.length) this.#fail("unterminated string");
      if (this.#text.startsWith(close, this.#at)) {
        this.#at += close.length;
        return out;
      }
      const ch = this.#text[this.#at++];
      if (ch !== "\\") {
        out += ch;
        continue;
      }
      const e = this.#text[this.#at++];
      if (e in ESCAPES) out += ESCAPES[e];
      else if (e === "x" || e === "u" || e === "U") {
        const width = e === "x" ? 2 : e === "u" ? 4 : 8;
        const hex = this.#text.slice(this.#at, this.#at + width);
        if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== width) this.#fail("bad escape");
        this.#at += width;
        out += String.fromCodePoint(parseInt(hex, 16));
      } else if (e >= "0" && e <= "7") {
        const oct = /^[0-7]{1,3}/.exec(this.#text.slice(this.#at - 1))![0];
        this.#at += oct.length - 1;
        out += String.fromCharCode(parseInt(oct, 8));
      } else out += `\\${e}`;
    }
  }
}

/**
 * Reads serpent bytes (the header line is optional).
 *
 * @param data UTF-8 serpent
 * @returns the value
 * @throws {SerpentError} for text that is not serpent's subset
 */
export function serpentLoads(data: Uint8Array): SerpentValue {
  let text: string;
  try {
    text = decoder.decode(data);
  } catch {
    throw new SerpentError("serpent: not UTF-8");
  }
  if (text.startsWith("#")) {
    const newline = text.indexOf("\n");
    text = newline < 0 ? "" : text.slice(newline + 1);
  }
  const reader = new Reader(text);
  const value = reader.value(0);
  reader.end();
  return value;
}

/**
 * The bytes of a decoded serpent bytes dict (`{'data': ..., 'encoding': 'base64'}`), or
 * `undefined` for any other value.
 *
 * @param value a decoded value
 * @returns the bytes, or undefined
 */
export function serpentBytes(value: SerpentValue): Uint8Array | undefined {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
  if (value instanceof Uint8Array || value instanceof PyTuple) return undefined;
  if (value.encoding !== "base64" || typeof value.data !== "string") return undefined;
  return decodeBase64(value.data);
}
