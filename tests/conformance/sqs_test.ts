import { after, before } from "node:test";
import { conformanceSuite } from "../../testing/conformance.ts";
import { sqsInspector } from "../_support/inspect.ts";
import { type Emulator, emulatorSkipReason, startFauxqs } from "../_support/emulators.ts";
import { sqsCapabilities, SqsTransport } from "../../transports/sqs/mod.ts";
import { skipReporter } from "../_support/skips.ts";

const skip = await emulatorSkipReason("fauxqs");
let sqs: Emulator | undefined;
// The suite connects in its own `before`; the emulator must be up first, and its URL is only
// known then, so the suite reads it through the option object filled in here.
const options = {
  transport: SqsTransport,
  transportOptions: {
    waitTimeSeconds: 1,
    pollingInterval: 50,
    accessKeyId: "test",
    secretAccessKey: "test",
  } as Record<string, unknown>,
};
const target = { url: "sqs://" };

before(async () => {
  if (skip) return;
  sqs = await startFauxqs();
  options.transportOptions.endpoint = sqs.url;
});
after(async () => {
  await sqs?.stop();
});

conformanceSuite({
  onSkip: skipReporter(import.meta.url),
  name: "sqs (fauxqs)",
  get url() {
    return target.url;
  },
  capabilities: sqsCapabilities,
  options,
  inspect: sqsInspector(() => String(options.transportOptions.endpoint)),
  skip,
});
