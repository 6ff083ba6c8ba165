/**
 * The global pool limit (Kombu's `kombu.pools.get_limit` / `set_limit`): what new pools get
 * when they name none.
 *
 * @module
 */

let globalLimit = 10;

/**
 * The limit of pools made by the global groups (Kombu's `kombu.pools.get_limit`; default 10).
 *
 * @returns the limit, 0 for none
 */
export function getLimit(): number {
  return globalLimit;
}

/**
 * Sets the global limit without resizing anything (`setLimit` in `groups.ts` resizes).
 *
 * @param limit the new limit, 0 for none
 */
export function setGlobalLimit(limit: number): void {
  globalLimit = checkLimit(limit);
}

/** Checks a pool limit: a whole number >= 0. */
export function checkLimit(limit: number): number {
  if (!Number.isInteger(limit) || limit < 0) {
    throw new RangeError(`Cannot set pool limit "${limit}": expected a whole number >= 0`);
  }
  return limit;
}
