/**
 * A stand-in for SQS's JSON protocol behind an injected `fetch`: it records every call and
 * answers from a script, falling back to plain successful answers. For retry and error tests
 * that need exact failures (throttling, 503, lost answers) no emulator can be told to produce.
 */
import { createHash } from "node:crypto";

/** One recorded call. */
export interface FakeCall {
  action: string;
  input: Record<string, unknown>;
}

/** Answers a call, or `undefined` for the default answer; may throw to simulate a network loss. */
export type Script = (call: FakeCall, index: number) => Response | undefined;

const JSON_TYPE = { "content-type": "application/x-amz-json-1.0" };

/** An SQS error answer in the JSON protocol. */
export function sqsErrorResponse(status: number, code: string, message = code): Response {
  return new Response(JSON.stringify({ __type: `com.amazonaws.sqs#${code}`, message }), {
    status,
    headers: {
      ...JSON_TYPE,
      "x-amzn-query-error": `${code};Sender`,
      "x-amzn-requestid": "req-1234",
    },
  });
}

/** Hex MD5 of a text, as SQS reports `MD5OfBody`. */
export function md5(text: string): string {
  return createHash("md5").update(text).digest("hex");
}

function defaultAnswer(call: FakeCall): Response {
  const input = call.input;
  let out: unknown = {};
  switch (call.action) {
    case "GetQueueUrl":
    case "CreateQueue":
      out = { QueueUrl: `http://sqs.test/000000000000/${input.QueueName}` };
      break;
    case "SendMessage":
      out = { MessageId: crypto.randomUUID(), MD5OfMessageBody: md5(String(input.MessageBody)) };
      break;
    case "SendMessageBatch":
      out = {
        Successful: (input.Entries as { Id: string; MessageBody: string }[]).map((e) => ({
          Id: e.Id,
          MessageId: crypto.randomUUID(),
          MD5OfMessageBody: md5(e.MessageBody),
        })),
        Failed: [],
      };
      break;
    case "DeleteMessageBatch":
    case "ChangeMessageVisibilityBatch":
      out = {
        Successful: (input.Entries as { Id: string }[]).map((e) => ({ Id: e.Id })),
        Failed: [],
      };
      break;
    case "ReceiveMessage":
      out = {};
      break;
  }
  return new Response(JSON.stringify(out), { status: 200, headers: JSON_TYPE });
}

/** A fake SQS: its `fetch` and the calls it saw. */
export function fakeSqs(script: Script = () => undefined): {
  fetch: (request: Request) => Promise<Response>;
  calls: FakeCall[];
  count(action: string): number;
} {
  const calls: FakeCall[] = [];
  return {
    calls,
    count: (action) => calls.filter((c) => c.action === action).length,
    async fetch(request: Request): Promise<Response> {
      const target = request.headers.get("x-amz-target") ?? "";
      const call: FakeCall = {
        action: target.replace("AmazonSQS.", ""),
        input: JSON.parse(await request.text() || "{}"),
      };
      calls.push(call);
      return script(call, calls.length - 1) ?? defaultAnswer(call);
    },
  };
}
