import { after, before } from "node:test";
import { conformanceSuite } from "../../testing/conformance.ts";
import { type PyroServer, pyroSkipReason, startPyro } from "../_support/pyro_server.ts";
import { pyroCapabilities, PyroTransport } from "../../transports/pyro/mod.ts";
import { skipReporter } from "../_support/skips.ts";

const skip = pyroSkipReason();
let pyro: PyroServer | undefined;
// The name server's port is only known once it runs; the suite reads the URL through the getter.
const target = { url: "pyro://127.0.0.1:1/kombu.broker" };

before(async () => {
  if (skip) return;
  pyro = await startPyro();
  target.url = pyro.url;
});
after(async () => {
  await pyro?.stop();
});

conformanceSuite({
  onSkip: skipReporter(import.meta.url),
  name: "pyro",
  get url() {
    return target.url;
  },
  capabilities: pyroCapabilities,
  options: { transport: PyroTransport, transportOptions: { pollingInterval: 50 } },
  skip,
});
