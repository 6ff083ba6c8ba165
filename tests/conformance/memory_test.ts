import { memoryCapabilities } from "../../transports/memory/mod.ts";
import { conformanceSuite } from "../../testing/conformance.ts";

conformanceSuite({ name: "memory", url: "memory://", capabilities: memoryCapabilities });
