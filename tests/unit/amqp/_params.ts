/** Connection parameters for the AMQP tests. */
import type { ConnectionParams } from "../../../src/transport.ts";

/** Parameters for guest@127.0.0.1, with overrides. */
export function params(overrides: Partial<ConnectionParams> = {}): ConnectionParams {
  return {
    transport: "amqp",
    hostname: "127.0.0.1",
    port: 5672,
    userid: "guest",
    password: "guest",
    virtualHost: "/",
    url: "amqp://guest:guest@127.0.0.1:5672//",
    ssl: false,
    heartbeat: 0,
    connectTimeout: 5000,
    transportOptions: {},
    ...overrides,
  };
}
