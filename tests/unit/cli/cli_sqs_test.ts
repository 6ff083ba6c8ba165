import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Connection } from "../../../src/connection.ts";
import { Queue } from "../../../src/entity.ts";
import { uuid } from "../../../src/utils/uuid.ts";
import { type Emulator, emulatorSkipReason, startFauxqs } from "../../_support/emulators.ts";
import { envSkip } from "../../_support/skips.ts";
import { wakame } from "./_cli.ts";

const skip = envSkip(import.meta.url, await emulatorSkipReason("fauxqs"));

describe("wakame inspect on sqs:// (fauxqs)", () => {
  let sqs: Emulator | undefined;
  let url = "";
  before(async () => {
    if (skip.reason) return;
    sqs = await startFauxqs();
    url = `sqs://unit:s3cret@127.0.0.1:${sqs.port}`;
  });
  after(async () => {
    if (skip.reason) return;
    await sqs?.stop();
  });

  it("shows every queue attribute; a missing queue is exit code 4", skip.options(), async () => {
    const name = `cli-sqs-${uuid().slice(0, 8)}`;
    {
      await using conn = new Connection(url);
      const queue = new Queue(name);
      await conn.producer().publish({ a: 1 }, { routingKey: name, declare: [queue] });
      await conn.producer().publish({ a: 2 }, { routingKey: name });
    }
    const run = await wakame(["inspect", url, name]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`^  ${name} +2 +0 +-`, "m"));
    assert.match(run.stdout, /^ {2}ApproximateNumberOfMessages +2$/m);
    assert.match(run.stdout, /^ {2}VisibilityTimeout +\d+$/m);
    const json = JSON.parse((await wakame(["inspect", url, name, "--json"])).stdout);
    assert.equal(json.queues[0].attributes.ApproximateNumberOfMessages, "2");
    const missing = await wakame(["inspect", url, `${name}-nope`]);
    assert.equal(missing.code, 4);
    assert.match(missing.stderr, /queue not found/);
    assert.doesNotMatch(run.stdout + run.stderr + missing.stderr, /s3cret/);
  });
});
