import { after, before } from "node:test";
import { conformanceSuite } from "../../testing/conformance.ts";
import { etcdInspector } from "../_support/inspect.ts";
import { type EtcdServer, etcdSkipReason, startEtcd } from "../_support/etcd_server.ts";
import { etcdCapabilities, EtcdTransport } from "../../transports/etcd/mod.ts";
import { skipReporter } from "../_support/skips.ts";

const skip = etcdSkipReason();
let etcd: EtcdServer | undefined;
// The suite connects in its own `before`; etcd must be up first, and its port is only known
// then, so the suite reads the URL through the getter below.
const target = { url: "etcd://127.0.0.1:1" };

before(async () => {
  if (skip) return;
  etcd = await startEtcd();
  target.url = `etcd://127.0.0.1:${etcd.port}`;
});
after(async () => {
  await etcd?.stop();
});

conformanceSuite({
  onSkip: skipReporter(import.meta.url),
  name: "etcd",
  get url() {
    return target.url;
  },
  capabilities: etcdCapabilities,
  options: { transport: EtcdTransport, transportOptions: { pollingInterval: 50 } },
  inspect: etcdInspector(() => target.url.replace("etcd:", "http:")),
  skip,
});
