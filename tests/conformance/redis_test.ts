import { conformanceSuite } from "../../testing/conformance.ts";
import { brokerSkipReason } from "../_support/brokers.ts";
import { redisCapabilities, redisTransport } from "../../transports/redis/mod.ts";

const skip = await brokerSkipReason("Redis", "127.0.0.1", 6379);

conformanceSuite({
  name: "redis (native RESP client)",
  url: "redis://127.0.0.1:6379/0",
  capabilities: redisCapabilities,
  skip,
  options: {
    transport: redisTransport,
    ssl: false,
    transportOptions: { globalKeyprefix: `wk-conf-${crypto.randomUUID().slice(0, 8)}:` },
  },
});
