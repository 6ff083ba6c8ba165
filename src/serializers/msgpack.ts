/**
 * MessagePack (`application/x-msgpack`, `binary`) on the optional package `msgpackr`, loaded on
 * first use.
 *
 * @module
 */

import type * as Msgpackr from "msgpackr";
import { plainBytes } from "../body.ts";
import { type LazySerializer, lazySerializer } from "./lazy.ts";

/**
 * MessagePack (`application/x-msgpack`, `binary`), interoperable with Python's
 * `msgpack.packb(use_bin_type=True)`: maps decode to plain objects, `bin` to `Uint8Array`, 64-bit
 * integers beyond 2^53 to `bigint`. A map key `__proto__` arrives as `__proto_` (msgpackr's guard
 * against prototype pollution). Needs the npm package `msgpackr` (loaded on first use).
 */
export const msgpackSerializer: LazySerializer = lazySerializer<typeof Msgpackr>({
  name: "msgpack",
  contentType: "application/x-msgpack",
  contentEncoding: "binary",
  package: { name: "msgpackr", range: "^2", feature: "the msgpack serializer" },
  make(module) {
    const { Packr } = module;
    const packr = new Packr({
      useRecords: false,
      mapsAsObjects: true,
      moreTypes: false,
      structuredClone: false,
      encodeUndefinedAsNil: true,
      // "auto" (number within 2^53, bigint beyond) is implemented but missing from the typings.
      int64AsType: "auto" as unknown as "bigint",
    });
    return {
      encode: (value) => plainBytes(packr.pack(value)),
      // A plain Uint8Array in gives plain Uint8Arrays out for `bin` (a Buffer in gives Buffers).
      decode: (body) => packr.unpack(plainBytes(body)),
    };
  },
});
