/**
 * A `Date` that keeps Python's microseconds, so a `datetime` from Kombu (`isoformat()` writes six
 * fractional digits) goes back out as it came in.
 *
 * @module
 */

/**
 * A `Date` with Python's `microsecond` (0 to 999999): its time is the whole milliseconds, and
 * `microsecond % 1000` the rest. Decoding a Kombu `datetime` with sub-millisecond digits gives
 * one; the `json-tagged` serializer, `toJSON` and {@link MicrosecondDate.toPythonIso} write all
 * six digits.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MicrosecondDate } from "@wakame/wakame";
 * const d = new MicrosecondDate(Date.UTC(2024, 0, 1), 123456);
 * assert.equal(d.getUTCMilliseconds(), 123);
 * assert.equal(d.toPythonIso(), "2024-01-01T00:00:00.123456+00:00");
 * ```
 */
export class MicrosecondDate extends Date {
  /** Microseconds within the second, as Python's `datetime.microsecond`. */
  readonly microsecond: number;

  /**
   * Makes the second that holds `time`, `microsecond` microseconds into it.
   *
   * @param time ms since the epoch; its milliseconds are replaced by `microsecond`'s
   * @param microsecond 0 to 999999
   * @throws {RangeError} when `microsecond` is not an integer from 0 to 999999
   */
  constructor(time: number, microsecond: number) {
    if (!Number.isInteger(microsecond) || microsecond < 0 || microsecond > 999_999) {
      throw new RangeError(
        `Cannot make a date with microsecond ${microsecond}: expected 0..999999`,
      );
    }
    const second = Math.floor(time / 1000) * 1000;
    super(second + Math.floor(microsecond / 1000));
    this.microsecond = microsecond;
  }

  /**
   * Python's `datetime.isoformat()` in UTC: six fractional digits (none when 0), `+00:00`.
   *
   * @returns e.g. `2024-01-01T00:00:00.123456+00:00`
   */
  toPythonIso(): string {
    const base = this.toISOString().slice(0, 19);
    const fraction = this.microsecond === 0 ? "" : `.${String(this.microsecond).padStart(6, "0")}`;
    return `${base}${fraction}+00:00`;
  }

  /**
   * What `JSON.stringify` writes: Kombu 5.2's plain JSON form of a UTC `datetime`
   * (`isoformat()` with `Z` for `+00:00`).
   *
   * @returns e.g. `2024-01-01T00:00:00.123456Z`
   */
  override toJSON(): string {
    return this.toPythonIso().replace(/\+00:00$/, "Z");
  }
}
