/** Shared Key and SAS authorization with Web Crypto, checked by hand and by Azurite. */
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { HttpError } from "../../../src/errors.ts";
import type { ConnectionParams } from "../../../src/transport.ts";
import {
  authorize,
  hmacSha256Base64,
  sharedKeyStringToSign,
} from "../../../transports/azure_storage_queues/auth.ts";
import {
  AzureQueueClient,
  readAzureSettings,
} from "../../../transports/azure_storage_queues/mod.ts";
import {
  AZURITE_KEY,
  type Emulator,
  emulatorSkipReason,
  startAzurite,
} from "../../_support/emulators.ts";
import { envSkip } from "../../_support/skips.ts";

describe("Azure Shared Key signing", () => {
  it("builds the documented string-to-sign (headers sorted, resource with sorted query)", () => {
    const text = sharedKeyStringToSign("myaccount", {
      method: "PUT",
      url: new URL(
        "https://myaccount.queue.core.windows.net/myqueue/messages/id-1?visibilitytimeout=0&popreceipt=AgAAAA%3D%3D",
      ),
      headers: {
        "x-ms-version": "2021-12-02",
        "x-ms-date": "Sun, 11 Oct 2009 21:49:13 GMT",
        "Content-Type": "application/xml; charset=utf-8",
        "X-Ms-Client-Request-Id": "  abc ",
      },
      contentLength: 0,
    });
    assert.equal(
      text,
      "PUT\n\n\n\n\napplication/xml; charset=utf-8\n\n\n\n\n\n\n" +
        "x-ms-client-request-id:abc\nx-ms-date:Sun, 11 Oct 2009 21:49:13 GMT\n" +
        "x-ms-version:2021-12-02\n" +
        "/myaccount/myqueue/messages/id-1\npopreceipt:AgAAAA==\nvisibilitytimeout:0",
    );
  });

  it("puts the content length in when there is a body, and the path-style account twice", () => {
    const text = sharedKeyStringToSign("devstoreaccount1", {
      method: "POST",
      url: new URL("http://127.0.0.1:10001/devstoreaccount1/q/messages"),
      headers: { "x-ms-date": "d", "x-ms-version": "v" },
      contentLength: 42,
    });
    assert.equal(
      text,
      "POST\n\n\n42\n\n\n\n\n\n\n\n\nx-ms-date:d\nx-ms-version:v\n" +
        "/devstoreaccount1/devstoreaccount1/q/messages",
    );
  });

  it("signs with HMAC-SHA256 as node:crypto does", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string(), async (text) => {
        const expected = createHmac("sha256", Buffer.from(AZURITE_KEY, "base64"))
          .update(text, "utf8").digest("base64");
        assert.equal(await hmacSha256Base64(AZURITE_KEY, text), expected);
      }),
      { numRuns: 50 },
    );
  });

  it("appends a SAS token to the query and never overrides the request's own parameters", async () => {
    const request = {
      method: "GET",
      url: new URL("https://a.queue.core.windows.net/q/messages?numofmessages=1"),
      headers: {},
      contentLength: 0,
    };
    await authorize({ kind: "sas", token: "?sv=2021-12-02&sig=a%2Bb%3D&numofmessages=9" }, request);
    assert.equal(request.url.searchParams.get("sig"), "a+b=");
    assert.equal(request.url.searchParams.get("numofmessages"), "1");
    assert.equal((request.headers as Record<string, string>).authorization, undefined);
  });
});

const skip = envSkip(import.meta.url, await emulatorSkipReason("azurite"));

describe("Shared Key against Azurite", () => {
  let azurite: Emulator;
  before(async () => {
    if (skip.reason) return;
    azurite = await startAzurite();
  });
  after(() => {
    if (skip.reason) return;
    return azurite?.stop();
  });

  const client = (key: string) =>
    new AzureQueueClient(readAzureSettings({
      url: `azurestoragequeues://${key}@${azurite.url}/devstoreaccount1`,
      transportOptions: { maxAttempts: 1 },
    } as unknown as ConnectionParams));

  it("is accepted with the right key and refused with a wrong one", skip.options(), async () => {
    const name = `auth${Date.now().toString(36)}`;
    const created = await client(AZURITE_KEY).call("create queue", "PUT", `/${name}`);
    assert.equal(created.status, 201);
    const wrong = btoa("not the key".padEnd(64, "x"));
    await assert.rejects(
      client(wrong).call("create queue", "PUT", `/${name}x`),
      (error: unknown) => error instanceof HttpError && error.status === 403,
    );
  });
});
