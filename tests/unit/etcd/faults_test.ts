import { describe, it } from "node:test";
import { EtcdTransport } from "../../../transports/etcd/mod.ts";
import { etcdSkipReason, startEtcd } from "../../_support/etcd_server.ts";
import { envSkip } from "../../_support/skips.ts";
import { serverFor } from "../../_support/server_hooks.ts";
import {
  givesBackWhatSilentHeld,
  restartTests,
  storeConnector,
} from "../../_support/store_faults.ts";

const skip = envSkip(import.meta.url, etcdSkipReason());

describe("etcd faults", () => {
  const etcd = serverFor(skip, startEtcd);
  const connect = storeConnector(() => `etcd://127.0.0.1:${etcd().port}`, EtcdTransport);

  restartTests("etcd", skip, connect, () => etcd().restart());

  it(
    "gives back what a consumer that went silent held, after the visibility timeout",
    skip.options(),
    () =>
      givesBackWhatSilentHeld(
        connect,
        {
          // Neither acknowledge, renew nor give back: every request fails from the cut on.
          transportOptions: (isCut) => ({
            visibilityTimeout: 1000,
            fetch: (request: Request) =>
              isCut() ? Promise.reject(new TypeError("network cut")) : fetch(request),
          }),
        },
        { visibilityTimeout: 1000 },
        "nothing ready while the records are fresh",
      ),
  );
});
