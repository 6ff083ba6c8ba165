/**
 * The values of the Redis serialization protocol (RESP2 and RESP3) as wakame sees them.
 *
 * @module
 */

/** An error reply of the server (`-ERR ...`, `!` blob error): data, never thrown by the parser. */
export class RespErrorReply {
  /** The text the server sent, such as `WRONGTYPE Operation against a key ...`. */
  readonly message: string;
  /**
   * Wraps the text of an error reply.
   *
   * @param message the text of the error reply
   */
  constructor(message: string) {
    this.message = message;
  }
  /** The first word of the message (`ERR`, `WRONGTYPE`, `NOSCRIPT`, `MOVED`...). */
  get code(): string {
    const space = this.message.indexOf(" ");
    return space < 0 ? this.message : this.message.slice(0, space);
  }
}

/** A RESP3 out-of-band push (`>`): pub/sub messages, client-side caching invalidations. */
export class RespPush {
  /** The elements of the push; the first names its kind (`message`, `invalidate`...). */
  readonly data: RespValue[];
  /**
   * Wraps the elements of a push.
   *
   * @param data the elements of the push
   */
  constructor(data: RespValue[]) {
    this.data = data;
  }
}

/**
 * One reply value. Bulk strings are bytes ({@link Uint8Array}); simple strings and verbatim
 * strings are text; integers are numbers (bigint past 2^53); RESP3 maps are `Map`s whose bulk keys
 * are decoded as UTF-8 text; sets are arrays; nulls of both protocol versions are `null`.
 */
export type RespValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | RespErrorReply
  | RespPush
  | RespValue[]
  | Map<RespValue, RespValue>;

/** An argument of a command: bytes, text (sent as UTF-8) or a number (sent as its decimal text). */
export type RespArg = string | Uint8Array | number;
