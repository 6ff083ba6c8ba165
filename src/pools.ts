/**
 * Resource pools (Kombu's `kombu.resource` and `kombu.pools`): a generic {@link ResourcePool},
 * pools of connections, channels and producers, and the global `connections` and `producers`
 * groups keyed by URL.
 *
 * @module
 */

export {
  type AcquireOptions,
  type PoolLease,
  ResourcePool,
  type ResourcePoolOptions,
  type SetLimitOptions,
} from "./pools/resource.ts";
export {
  type ChannelLease,
  ChannelPool,
  ConnectionPool,
  type PoolOptions,
} from "./pools/connection_pool.ts";
export { ProducerPool, type ProducerPoolOptions } from "./pools/producer_pool.ts";
export { getLimit } from "./pools/limit.ts";
export {
  connections,
  PoolGroup,
  producers,
  registerGroup,
  reset,
  type Resizable,
  setLimit,
} from "./pools/groups.ts";
