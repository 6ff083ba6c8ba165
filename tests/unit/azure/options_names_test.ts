/** Azure URL forms, connection strings, names and the XML of messages. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ConfigurationError } from "../../../src/errors.ts";
import type { ConnectionParams } from "../../../src/transport.ts";
import {
  azureEntityName,
  azureQueueName,
  DEV_ACCOUNT_KEY,
  parseAzureUrl,
  parseConnectionString,
  parseMessagesList,
  readAzureSettings,
  xmlEscape,
  xmlUnescape,
} from "../../../transports/azure_storage_queues/mod.ts";

const KEY = "a2V5L3dpdGgrc2xhc2g9PQ==";

describe("Azure URL forms", () => {
  it("reads <key>@<account URL> with a key holding / and +", () => {
    const e = parseAzureUrl(`azurestoragequeues://${KEY}@https://acct.queue.core.windows.net/`);
    assert.equal(e.accountUrl, "https://acct.queue.core.windows.net");
    assert.equal(e.accountName, "acct");
    assert.deepEqual(e.auth, { kind: "sharedKey", accountName: "acct", accountKey: KEY });
  });

  it("reads <SAS>@<account URL>", () => {
    const sas = "sv=2021-12-02&ss=q&se=2030-01-01T00%3A00%3A00Z&sig=abc%2F%3D";
    const e = parseAzureUrl(`azurestoragequeues://${sas}@https://acct.queue.core.windows.net`);
    assert.deepEqual(e.auth, { kind: "sas", token: sas });
  });

  it("reads Azurite's path-style account URL and Kombu 5.2's :key@account", () => {
    const e = parseAzureUrl(
      `azurestoragequeues://${DEV_ACCOUNT_KEY}@http://127.0.0.1:10001/devstoreaccount1`,
    );
    assert.equal(e.accountName, "devstoreaccount1");
    assert.equal(e.accountUrl, "http://127.0.0.1:10001/devstoreaccount1");
    const old = parseAzureUrl(`azurestoragequeues://:${KEY}@acct`);
    assert.equal(old.accountUrl, "https://acct.queue.core.windows.net");
    assert.equal(old.auth?.kind, "sharedKey");
  });

  it("reads connection strings, UseDevelopmentStorage included", () => {
    const e = parseConnectionString(
      `DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=${KEY};EndpointSuffix=core.windows.net`,
    );
    assert.equal(e.accountUrl, "https://acct.queue.core.windows.net");
    assert.deepEqual(e.auth, { kind: "sharedKey", accountName: "acct", accountKey: KEY });
    const dev = parseAzureUrl("azurestoragequeues://UseDevelopmentStorage=true");
    assert.equal(dev.accountUrl, "http://127.0.0.1:10001/devstoreaccount1");
    const sas = parseConnectionString(
      "QueueEndpoint=https://x.queue.core.windows.net/;SharedAccessSignature=sv=1&sig=2",
    );
    assert.deepEqual(sas.auth, { kind: "sas", token: "sv=1&sig=2" });
    assert.equal(sas.accountName, "x");
  });

  it("says to pass a credential without one (no key, no SAS)", () => {
    assert.throws(
      () =>
        readAzureSettings(
          {
            url: "azurestoragequeues://https://a.queue.core.windows.net",
            transportOptions: {},
          } as unknown as ConnectionParams,
        ),
      ConfigurationError,
    );
  });

  it("converts durations from ms to the service's seconds", () => {
    const s = readAzureSettings({
      url: `azurestoragequeues://${KEY}@https://a.queue.core.windows.net`,
      transportOptions: { visibilityTimeout: 1500, messageTtl: 90_000 },
    } as unknown as ConnectionParams);
    assert.equal(s.visibilityTimeoutSeconds, 2);
    assert.equal(s.messageTtlSeconds, 90);
    assert.equal(s.ackMode, "visibility");
  });
});

describe("Azure queue names", () => {
  it("turns every punctuation character into a dash, as Kombu", () => {
    assert.equal(azureEntityName("celery.pidbox_x:y"), "celery-pidbox-x-y");
    assert.equal(azureQueueName("prod.", "video"), "prod-video");
  });

  it("refuses names Azure would refuse, saying why", () => {
    const cases: [string, RegExp][] = [
      ["ab", /3 to 63/],
      ["x".repeat(64), /3 to 63/],
      ["Video", /uppercase/],
      ["a..b", /two dashes/],
      [".abc", /start and end/],
      ["ünï", /other than lowercase/],
    ];
    for (const [name, why] of cases) {
      assert.throws(
        () => azureQueueName("", name),
        (e: unknown) => e instanceof ConfigurationError && why.test(e.message),
        name,
      );
    }
  });
});

describe("Azure message XML", () => {
  it("round-trips any text through escape and unescape", () => {
    fc.assert(fc.property(fc.string(), (text) => {
      assert.equal(xmlUnescape(xmlEscape(text)), text);
    }));
  });

  it("reads a Get Messages answer", () => {
    const xml = `<?xml version="1.0" encoding="utf-8"?><QueueMessagesList><QueueMessage>` +
      `<MessageId>id-1</MessageId><InsertionTime>x</InsertionTime><PopReceipt>AgAA&amp;=</PopReceipt>` +
      `<DequeueCount>2</DequeueCount><MessageText>{&quot;a&quot;: &#60;1&#x3E;}</MessageText>` +
      `</QueueMessage></QueueMessagesList>`;
    assert.deepEqual(parseMessagesList(xml), [{
      messageId: "id-1",
      popReceipt: "AgAA&=",
      dequeueCount: 2,
      messageText: '{"a": <1>}',
    }]);
    assert.deepEqual(parseMessagesList("<QueueMessagesList />"), []);
  });
});
