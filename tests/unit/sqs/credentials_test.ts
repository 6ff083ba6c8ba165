/**
 * A `credentials` function on SQS: kept until 5 minutes before its expiration, asked again then
 * and after an `ExpiredToken` answer; every request signs with the credentials of its moment
 * (read back from the SigV4 `Authorization` header a fake fetch sees).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { Connection } from "../../../src/connection.ts";
import { ConfigurationError } from "../../../src/errors.ts";
import type { ConnectionParams } from "../../../src/transport.ts";
import type { StoredMessage } from "../../../src/virtual/backend.ts";
import {
  readSqsSettings,
  SqsBackend,
  SqsTransport,
  type SqsTransportOptions,
} from "../../../transports/sqs/mod.ts";
import { type Emulator, emulatorSkipReason, startFauxqs } from "../../_support/emulators.ts";
import { envSkip } from "../../_support/skips.ts";
import type { AwsCredentials } from "../../../transports/sqs/client.ts";
import {
  REFRESH_BEFORE_EXPIRY_MS,
  RefreshingCredentials,
} from "../../../transports/sqs/credentials.ts";
import { type FakeCall, fakeSqs, type Script, sqsErrorResponse } from "./_fake_sqs.ts";

function params(options: SqsTransportOptions): ConnectionParams {
  return {
    transport: "sqs",
    hostname: "localhost",
    port: undefined,
    userid: undefined,
    password: undefined,
    virtualHost: "",
    url: "sqs://",
    ssl: false,
    heartbeat: 0,
    connectTimeout: 1000,
    transportOptions: options as Record<string, unknown>,
  };
}

function message(): StoredMessage {
  return {
    body: new TextEncoder().encode('"payload"'),
    properties: { contentType: "application/json", contentEncoding: "utf-8" },
    exchange: "",
    routingKey: "q",
    tag: crypto.randomUUID(),
    redelivered: false,
  };
}

/** A fake SQS that records, per call, the key id and session token the request was signed with. */
function signedBackend(
  credentials: () => Promise<AwsCredentials>,
  script: (call: FakeCall, keyId: string) => Response | undefined = () => undefined,
) {
  const signers: { action: string; keyId: string; token: string | null }[] = [];
  let keyId = "";
  const scripted: Script = (call) => script(call, keyId);
  const fake = fakeSqs(scripted);
  const store = new SqsBackend(
    readSqsSettings(params({
      endpoint: "http://sqs.test",
      credentials,
      retryBaseDelay: 0,
      maxRetryDelay: 0,
      fetch: (request) => {
        const auth = request.headers.get("authorization") ?? "";
        keyId = /Credential=([^/]+)\//.exec(auth)?.[1] ?? "(unsigned)";
        signers.push({
          action: (request.headers.get("x-amz-target") ?? "").replace("AmazonSQS.", ""),
          keyId,
          token: request.headers.get("x-amz-security-token"),
        });
        return fake.fetch(request);
      },
    })),
    { warn: () => {} },
  );
  return { store, signers, fake };
}

/** A credentials function that hands out AKID1, AKID2, ... each valid for `lifetime` ms. */
function issuer(lifetime: number) {
  let issued = 0;
  const fn = () => {
    issued++;
    return Promise.resolve({
      accessKeyId: `AKID${issued}`,
      secretAccessKey: `secret-${issued}`,
      sessionToken: `token-${issued}`,
      expiration: new Date(Date.now() + lifetime),
    });
  };
  return { fn, issued: () => issued };
}

describe("SQS credentials function", () => {
  it("signs every request with the kept credentials while they are far from expiry", async () => {
    const creds = issuer(60 * 60_000); // an hour
    const { store, signers } = signedBackend(creds.fn);
    await store.put("q", message());
    await store.put("q", message());
    assert.equal(creds.issued(), 1);
    assert.ok(signers.length >= 2);
    for (const s of signers) assert.deepEqual([s.keyId, s.token], ["AKID1", "token-1"]);
    await store.close();
  });

  it("asks again for credentials that expire within 5 minutes", async () => {
    const creds = issuer(60_000); // inside the refresh window from the start
    const { store, signers } = signedBackend(creds.fn);
    await store.put("q", message());
    await store.put("q", message());
    // The SDK may ask more than once per request: every request signs with a newer pair.
    const numbers = signers.map((s) => Number(s.keyId.slice(4)));
    assert.ok(numbers.length >= 3, String(numbers)); // GetQueueUrl or CreateQueue, two sends
    for (let i = 1; i < numbers.length; i++) {
      assert.ok(numbers[i] > numbers[i - 1], String(numbers));
    }
    await store.close();
  });

  it("drops the credentials after ExpiredToken and sends again, not flagged a duplicate", async () => {
    const creds = issuer(60 * 60_000);
    const { store, signers, fake } = signedBackend(
      creds.fn,
      (call, keyId) =>
        call.action === "SendMessage" && keyId === "AKID1"
          ? sqsErrorResponse(403, "ExpiredToken", "The security token included is expired")
          : undefined,
    );
    await store.put("q", message());
    const sends = signers.filter((s) => s.action === "SendMessage");
    assert.deepEqual(sends.map((s) => s.keyId), ["AKID1", "AKID2"]);
    const sent = fake.calls.filter((c) => c.action === "SendMessage");
    assert.equal(sent[1].input.MessageAttributes, undefined, "the refused send had no effect");
    assert.equal(creds.issued(), 2);
    await store.close();
  });

  it("a function that gives no key pair is a ConfigurationError", async () => {
    const { store } = signedBackend(() => Promise.resolve({} as AwsCredentials));
    await assert.rejects(store.put("q", message()), (e: unknown) => {
      const found = e instanceof ConfigurationError ||
        (e instanceof Error && e.cause instanceof ConfigurationError);
      assert.ok(found, String(e));
      return true;
    });
    await store.close();
  });
});

describe("RefreshingCredentials", () => {
  const pair = (n: number, expiration?: number): AwsCredentials => ({
    accessKeyId: `K${n}`,
    secretAccessKey: "s",
    ...(expiration === undefined ? {} : { expiration: new Date(expiration) }),
  });

  it("renews exactly when the clock enters the 5-minute window (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 3_600_000 }),
        fc.integer({ min: 0, max: 7_200_000 }),
        async (lifetime, later) => {
          let now = 1_000_000;
          let calls = 0;
          const c = new RefreshingCredentials(
            () => Promise.resolve(pair(++calls, 1_000_000 + lifetime)),
            { now: () => now },
          );
          await c.get();
          now += later;
          await c.get();
          const inWindow = (n: number) => 1_000_000 + lifetime - REFRESH_BEFORE_EXPIRY_MS <= n;
          const expected = 1 + (inWindow(1_000_000) ? 1 : inWindow(now) ? 1 : 0);
          assert.equal(calls, expected);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("keeps credentials without an expiration, shares one call, and drops on expire()", async () => {
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const c = new RefreshingCredentials(async () => {
      calls++;
      await gate;
      return pair(calls);
    });
    const both = Promise.all([c.get(), c.get()]);
    release();
    const [a, b] = await both;
    assert.equal(a, b);
    assert.equal(calls, 1);
    assert.equal((await c.get()).accessKeyId, "K1");
    c.expire();
    assert.equal((await c.get()).accessKeyId, "K2");
  });

  it("a failed call is not kept: the next one asks again", async () => {
    let calls = 0;
    const c = new RefreshingCredentials(() => {
      calls++;
      return calls === 1 ? Promise.reject(new Error("STS down")) : Promise.resolve(pair(calls));
    });
    await assert.rejects(c.get(), /STS down/);
    assert.equal((await c.get()).accessKeyId, "K2");
  });
});

const skipFauxqs = envSkip(import.meta.url, await emulatorSkipReason("fauxqs"));

describe("SQS credentials function on fauxqs", () => {
  let sqs: Emulator;
  before(async () => {
    if (skipFauxqs.reason) return;
    sqs = await startFauxqs();
  });
  after(async () => {
    if (skipFauxqs.reason) return;
    await sqs?.stop();
  });

  it("publishes and consumes with credentials from a function", skipFauxqs.options(), async () => {
    const creds = issuer(60 * 60_000);
    const keys = new Set<string>();
    await using conn = new Connection("sqs://", {
      transport: SqsTransport,
      transportOptions: {
        endpoint: sqs.url,
        credentials: creds.fn,
        waitTimeSeconds: 1,
        pollingInterval: 50,
        fetch: (request: Request) => {
          keys.add(/Credential=([^/]+)\//.exec(request.headers.get("authorization") ?? "")?.[1]!);
          return fetch(request);
        },
      },
    });
    const queue = `creds-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
    await using simple = conn.simpleQueue(queue);
    await simple.put({ signed: "by AKID1" });
    const got = await simple.get({ timeout: 10_000 });
    assert.deepEqual(got.payload, { signed: "by AKID1" });
    await got.ack();
    assert.equal(creds.issued(), 1);
    assert.deepEqual([...keys], ["AKID1"]);
  });
});
