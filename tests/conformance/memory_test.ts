import { memoryCapabilities } from "../../transports/memory/mod.ts";
import { conformanceSuite } from "../../testing/conformance.ts";
import { skipReporter } from "../_support/skips.ts";

conformanceSuite({
  name: "memory",
  url: "memory://",
  capabilities: memoryCapabilities,
  onSkip: skipReporter(import.meta.url),
});
