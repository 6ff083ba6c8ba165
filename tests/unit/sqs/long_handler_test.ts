/**
 * kombu#337 on SQS: a handler that runs three visibility timeouts is not redelivered to another
 * consumer, because the virtual base renews the receipt's visibility (ChangeMessageVisibility)
 * while the handler runs; the message is deleted once, at the ack.
 */
import { after, before, describe, it } from "node:test";
import { Connection } from "../../../src/connection.ts";
import type { ConnectionParams } from "../../../src/transport.ts";
import { readSqsSettings, SqsBackend, SqsTransport } from "../../../transports/sqs/mod.ts";
import { type Emulator, emulatorSkipReason, startFauxqs } from "../../_support/emulators.ts";
import { expectLongHandlerSettledOnce } from "../../_support/long_handler.ts";
import { envSkip } from "../../_support/skips.ts";

const skip = envSkip(import.meta.url, await emulatorSkipReason("fauxqs"));

describe("SQS long handlers", () => {
  let sqs: Emulator;
  const transportOptions = (extra: Record<string, unknown> = {}) => ({
    endpoint: sqs.url,
    accessKeyId: "unit",
    secretAccessKey: "unit",
    waitTimeSeconds: 1,
    pollingInterval: 50,
    ...extra,
  });

  before(async () => {
    if (skip.reason) return;
    sqs = await startFauxqs();
  });
  after(async () => {
    if (skip.reason) return;
    await sqs?.stop();
  });

  it(
    "a handler of 3x the visibility timeout is not redelivered; the message is deleted once",
    skip.options(),
    () =>
      expectLongHandlerSettledOnce(
        () =>
          new Connection("sqs://", {
            transport: SqsTransport,
            transportOptions: transportOptions({ visibilityTimeout: 1000 }),
          }),
        () =>
          new SqsBackend(
            readSqsSettings({
              url: "sqs://",
              transportOptions: transportOptions(),
            } as unknown as ConnectionParams),
          ),
        1000,
      ),
  );
});
