import { conformanceSuite } from "../../testing/conformance.ts";
import { brokerSkipReason } from "../_support/brokers.ts";
import { redisInspector } from "../_support/inspect.ts";
import { redisCapabilities } from "../../transports/redis/mod.ts";
import { dropPrefix, randomPrefix, rawRedis } from "../unit/redis/_helpers.ts";
import { skipReporter } from "../_support/skips.ts";

const skip = await brokerSkipReason("Redis", "127.0.0.1", 6379);
const prefix = randomPrefix();

conformanceSuite({
  onSkip: skipReporter(import.meta.url),
  name: "redis (ioredis driver)",
  url: "redis://127.0.0.1:6379/0",
  capabilities: redisCapabilities,
  skip,
  inspect: redisInspector(prefix),
  options: {
    transportOptions: { driver: "ioredis", globalKeyprefix: prefix },
  },
  teardown: async () => {
    const raw = await rawRedis();
    await dropPrefix(raw, prefix);
    await raw.close();
  },
});
