/**
 * Entra ID tokens on Azure Storage Queues: Kombu 5.3's `DefaultAzureCredential@` and
 * `ManagedIdentityCredential@` URL forms, the token asked for with the storage scope, sent as
 * a bearer token, kept until near its expiry, and renewed after a 401 (a fake fetch checks
 * what each request carried; Azurite checks bearer tokens only over https, with `--oauth basic`).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ConfigurationError } from "../../../src/errors.ts";
import type { ConnectionParams } from "../../../src/transport.ts";
import {
  AZURE_API_VERSION,
  AZURE_STORAGE_SCOPE,
  type AzureAccessToken,
  AzureQueueClient,
  type AzureTokenCredential,
  parseAzureUrl,
  readAzureSettings,
  TOKEN_REFRESH_BEFORE_EXPIRY_MS,
} from "../../../transports/azure_storage_queues/mod.ts";
import { BearerTokens } from "../../../transports/azure_storage_queues/credential.ts";

const ACCOUNT = "https://acct.queue.core.windows.net";

function settingsParams(url: string, transportOptions: Record<string, unknown>): ConnectionParams {
  return { url, transportOptions } as unknown as ConnectionParams;
}

/** A credential that issues tok-1, tok-2, ... each living `lifetime` ms, recording the scopes. */
function issuer(lifetime: number) {
  const scopes: (string | string[])[] = [];
  const credential: AzureTokenCredential = {
    getToken(scope) {
      scopes.push(scope);
      return Promise.resolve({
        token: `tok-${scopes.length}`,
        expiresOnTimestamp: Date.now() + lifetime,
      });
    },
  };
  return { credential, scopes };
}

/** A client over a fake fetch that records the Authorization and x-ms-version of each request. */
function client(
  credential: AzureTokenCredential,
  answer: (authorization: string) => Response = () => new Response("", { status: 201 }),
) {
  const seen: { authorization: string; version: string }[] = [];
  const settings = readAzureSettings(settingsParams(
    `azurestoragequeues://DefaultAzureCredential@${ACCOUNT}`,
    {
      credential,
      retryBaseDelay: 0,
      maxRetryDelay: 0,
      fetch: (request: Request) => {
        const authorization = request.headers.get("authorization") ?? "";
        seen.push({ authorization, version: request.headers.get("x-ms-version") ?? "" });
        return Promise.resolve(answer(authorization));
      },
    },
  ));
  return { client: new AzureQueueClient(settings), seen, settings };
}

describe("Azure: Kombu's identity URL forms", () => {
  for (
    const name of ["DefaultAzureCredential", "ManagedIdentityCredential", "defaultazurecredential"]
  ) {
    it(`${name}@<account URL> names the account and asks for the credential`, () => {
      const e = parseAzureUrl(`azurestoragequeues://${name}@${ACCOUNT}/`);
      assert.equal(e.accountUrl, ACCOUNT);
      assert.equal(e.accountName, "acct");
      assert.equal(e.auth, undefined);
      assert.equal(e.identity?.toLowerCase(), name.toLowerCase());
      assert.throws(
        () => readAzureSettings(settingsParams(`azurestoragequeues://${name}@${ACCOUNT}`, {})),
        (error: unknown) => {
          assert.ok(error instanceof ConfigurationError);
          assert.match(error.message, /wakame has no Azure SDK/);
          assert.match(error.message, /transportOptions: \{ credential: new \w+\(\) \}/);
          assert.match(error.message, /@azure\/identity/);
          return true;
        },
      );
    });
  }

  it("with the credential handed in, authorizes with bearer tokens", () => {
    const { credential } = issuer(3_600_000);
    const s = readAzureSettings(
      settingsParams(`azurestoragequeues://ManagedIdentityCredential@acct.queue.core.windows.net`, {
        credential,
      }),
    );
    assert.deepEqual(s.auth, { kind: "token", credential });
    assert.equal(s.accountUrl, ACCOUNT);
    // An account name alone means its public endpoint, as with a key (Kombu 5.2's form).
    assert.equal(
      parseAzureUrl("azurestoragequeues://DefaultAzureCredential@acct").accountUrl,
      ACCOUNT,
    );
  });
});

describe("Azure: bearer tokens on the wire", () => {
  it("asks with the storage scope, sends Bearer, and keeps a token far from expiry", async () => {
    const { credential, scopes } = issuer(3_600_000);
    const { client: c, seen } = client(credential);
    await c.call("create queue", "PUT", "/q1");
    await c.call("create queue", "PUT", "/q2");
    assert.deepEqual(scopes, [AZURE_STORAGE_SCOPE]);
    assert.equal(AZURE_STORAGE_SCOPE, "https://storage.azure.com/.default");
    assert.deepEqual(seen.map((s) => s.authorization), ["Bearer tok-1", "Bearer tok-1"]);
    // OAuth needs x-ms-version 2017-11-09 or later.
    for (const s of seen) assert.ok(s.version >= "2017-11-09" && s.version === AZURE_API_VERSION);
  });

  it("asks again for a token that expires within 2 minutes", async () => {
    const { credential, scopes } = issuer(60_000);
    const { client: c, seen } = client(credential);
    await c.call("create queue", "PUT", "/q1");
    await c.call("create queue", "PUT", "/q2");
    assert.equal(scopes.length, 2);
    assert.deepEqual(seen.map((s) => s.authorization), ["Bearer tok-1", "Bearer tok-2"]);
  });

  it("drops the token after a 401 and tries again with a new one", async () => {
    const { credential } = issuer(3_600_000);
    const { client: c, seen } = client(
      credential,
      (authorization) =>
        authorization === "Bearer tok-1"
          ? new Response(
            '<?xml version="1.0"?><Error><Code>InvalidAuthenticationInfo</Code>' +
              "<Message>Lifetime validation failed. The token is expired.</Message></Error>",
            { status: 401, headers: { "x-ms-error-code": "InvalidAuthenticationInfo" } },
          )
          : new Response("", { status: 201 }),
    );
    await c.call("create queue", "PUT", "/q1");
    assert.deepEqual(seen.map((s) => s.authorization), ["Bearer tok-1", "Bearer tok-2"]);
  });

  it("a credential that gives no token is a ConfigurationError", async () => {
    const { client: c } = client({ getToken: () => Promise.resolve(null) });
    await assert.rejects(c.call("create queue", "PUT", "/q1"), ConfigurationError);
  });
});

describe("BearerTokens", () => {
  it("renews exactly when the clock enters the 2-minute window (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 3_600_000 }),
        fc.integer({ min: 0, max: 7_200_000 }),
        async (lifetime, later) => {
          let now = 5_000_000;
          let calls = 0;
          const tokens = new BearerTokens({
            getToken: (): Promise<AzureAccessToken> =>
              Promise.resolve({ token: `t${++calls}`, expiresOnTimestamp: 5_000_000 + lifetime }),
          }, { now: () => now });
          await tokens.token();
          now += later;
          await tokens.token();
          const stale = (n: number) => 5_000_000 + lifetime - TOKEN_REFRESH_BEFORE_EXPIRY_MS <= n;
          assert.equal(calls, 1 + (stale(5_000_000) || stale(now) ? 1 : 0));
        },
      ),
      { numRuns: 200 },
    );
  });

  it("honours refreshAfterTimestamp and asks every time without an expiry", async () => {
    let now = 0;
    let calls = 0;
    const early = new BearerTokens({
      getToken: () =>
        Promise.resolve({
          token: `t${++calls}`,
          expiresOnTimestamp: 3_600_000,
          refreshAfterTimestamp: 1_000,
        }),
    }, { now: () => now });
    await early.token();
    now = 999;
    await early.token();
    assert.equal(calls, 1);
    now = 1_000;
    assert.equal(await early.token(), "t2");

    let bare = 0;
    const noExpiry = new BearerTokens({
      getToken: () => Promise.resolve({ token: `b${++bare}` }),
    });
    await noExpiry.token();
    await noExpiry.token();
    assert.equal(bare, 2);
  });

  it("shares one getToken among concurrent requests", async () => {
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const tokens = new BearerTokens({
      async getToken() {
        calls++;
        await gate;
        return { token: "shared", expiresOnTimestamp: Date.now() + 3_600_000 };
      },
    });
    const both = Promise.all([tokens.token(), tokens.token()]);
    release();
    assert.deepEqual(await both, ["shared", "shared"]);
    assert.equal(calls, 1);
  });
});
