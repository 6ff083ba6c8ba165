import { after, before } from "node:test";
import { conformanceSuite } from "../../testing/conformance.ts";
import { zookeeperInspector } from "../_support/inspect.ts";
import {
  startZooKeeper,
  type ZooKeeperServer,
  zookeeperSkipReason,
} from "../_support/zookeeper_server.ts";
import { zookeeperCapabilities, ZooKeeperTransport } from "../../transports/zookeeper/mod.ts";
import { skipReporter } from "../_support/skips.ts";

const skip = zookeeperSkipReason();
let zookeeper: ZooKeeperServer | undefined;
// The suite connects in its own `before`; the server must be up first, and its port is only
// known then, so the suite reads the URL through the getter below.
const target = { url: "zookeeper://127.0.0.1:1/" };

before(async () => {
  if (skip) return;
  zookeeper = await startZooKeeper();
  target.url = `zookeeper://127.0.0.1:${zookeeper.port}/`;
});
after(async () => {
  await zookeeper?.stop();
});

conformanceSuite({
  onSkip: skipReporter(import.meta.url),
  name: "zookeeper",
  get url() {
    return target.url;
  },
  capabilities: zookeeperCapabilities,
  options: { transport: ZooKeeperTransport, transportOptions: { pollingInterval: 50 } },
  inspect: zookeeperInspector(() => zookeeper!.port),
  skip,
});
