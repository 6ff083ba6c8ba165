/**
 * YAML (`application/x-yaml`, `utf-8`) on the optional package `yaml`, loaded on first use.
 *
 * @module
 */

import type * as Yaml from "yaml";
import { decodeUtf8Strict, plainBytes } from "../body.ts";
import { DecodeError, EncodeError } from "../errors.ts";
import { type LazySerializer, lazySerializer } from "./lazy.ts";

function plainBytesReviver(_key: unknown, value: unknown): unknown {
  return value instanceof Uint8Array ? plainBytes(value) : value;
}

/**
 * YAML (`application/x-yaml`, `utf-8`) in YAML 1.1, the dialect of Python's PyYAML
 * (`yaml.safe_dump`/`safe_load`): timestamps decode to `Date`, `!!binary` to `Uint8Array`.
 * Tags it does not know (such as `!!python/object`) make decoding fail. Needs the npm package
 * `yaml` (loaded on first use).
 */
export const yamlSerializer: LazySerializer = lazySerializer<typeof Yaml>({
  name: "yaml",
  contentType: "application/x-yaml",
  contentEncoding: "utf-8",
  package: { name: "yaml", range: "^2", feature: "the yaml serializer" },
  make(module) {
    const { Document, isScalar, parseDocument, stringify, visit } = module;
    // A "<<" key is YAML 1.1's merge key: written as `!!str '<<'` it stays a string key, for
    // PyYAML's safe_load and for this parser (PyYAML's safe_dump quotes it).
    const quoteMergeKeys = (value: unknown): string => {
      const doc = new Document(value, { version: "1.1" });
      visit(doc, {
        Pair(_key, pair) {
          if (isScalar(pair.key) && pair.key.value === "<<") {
            pair.key.type = "QUOTE_SINGLE";
            pair.key.tag = "tag:yaml.org,2002:str";
          }
        },
      });
      return doc.toString();
    };
    const parse = (text: string): unknown => {
      const doc = parseDocument(text, { version: "1.1", logLevel: "silent" });
      const problem = doc.errors[0] ?? doc.warnings[0];
      if (problem !== undefined) {
        throw new DecodeError(`Cannot decode YAML: ${problem.message.split("\n")[0]}`, {
          cause: problem,
        });
      }
      return doc.toJS({ maxAliasCount: 100, reviver: plainBytesReviver });
    };
    return {
      encode(value) {
        let text = stringify(value, { version: "1.1" });
        if (text !== undefined && /(^|[\s{,-])<<:/m.test(text)) text = quoteMergeKeys(value);
        if (text === undefined) {
          throw new EncodeError(`Cannot serialize a value of type "${typeof value}" as YAML`);
        }
        return text;
      },
      decode: (body) => parse(decodeUtf8Strict(body)),
      decodeText: parse,
    };
  },
});
