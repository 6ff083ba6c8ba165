import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import fc from "fast-check";
import { Connection } from "../../../src/connection.ts";
import { ConfigurationError, ConnectionError } from "../../../src/errors.ts";
import { maskUrl, parseUrl, splitUrls } from "../../../src/url.ts";
import { FlakyTransport } from "./_fakes.ts";

/** Every way a Connection shows itself, joined. */
function everyRendering(conn: Connection): string {
  return [
    conn.asUri(),
    conn.toString(),
    String(conn),
    `${conn}`,
    JSON.stringify(conn),
    JSON.stringify({ nested: [conn] }),
    inspect(conn),
    inspect({ nested: conn }, { depth: 5, showHidden: true }),
    conn.alternates.join(" "),
  ].join("\n");
}

async function messageOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return `${(error as Error).message} ${String(error)}`;
  }
  throw new Error("expected a rejection");
}

describe("parseUrl: Kombu's URL forms", () => {
  it("reads amqp://guest:guest@localhost// as virtual host '/'", () => {
    assert.deepEqual(parseUrl("amqp://guest:guest@localhost//"), {
      scheme: "amqp",
      hostname: "localhost",
      port: undefined,
      userid: "guest",
      password: "guest",
      virtualHost: "/",
      query: {},
    });
  });

  it("leaves the virtual host undefined for amqp://localhost/ and amqp://localhost", () => {
    assert.equal(parseUrl("amqp://localhost/").virtualHost, undefined);
    assert.equal(parseUrl("amqp://localhost").virtualHost, undefined);
    assert.equal(parseUrl("amqp://localhost:5672/vh").virtualHost, "vh");
    assert.equal(parseUrl("amqp://localhost:5672/vh").port, 5672);
  });

  it("reads redis://:pw@host:6379/0 as a password without a user and database 0", () => {
    const parts = parseUrl("redis://:pw@host:6379/0");
    assert.equal(parts.userid, undefined);
    assert.equal(parts.password, "pw");
    assert.equal(parts.hostname, "host");
    assert.equal(parts.port, 6379);
    assert.equal(parts.virtualHost, "0");
  });

  it("reads IPv6 hosts in brackets", () => {
    const parts = parseUrl("amqp://u:p@[::1]:5673/v");
    assert.equal(parts.hostname, "::1");
    assert.equal(parts.port, 5673);
    assert.equal(parseUrl("amqp://[fe80::1]/").hostname, "fe80::1");
    assert.equal(parseUrl("amqp://[fe80::1]/").port, undefined);
  });

  it("percent-decodes user, password, host and virtual host", () => {
    const parts = parseUrl("amqp://us%40er:p%2Fa%3As%25s@h%2Dost/%2Fvh");
    assert.equal(parts.userid, "us@er");
    assert.equal(parts.password, "p/a:s%s");
    assert.equal(parts.hostname, "h-ost");
    assert.equal(parts.virtualHost, "/vh");
  });

  it("splits the user info at the last '@' and the password at the first ':'", () => {
    const parts = parseUrl("amqp://user:p@ss:w@rd@host//");
    assert.equal(parts.userid, "user");
    assert.equal(parts.password, "p@ss:w@rd");
    assert.equal(parts.hostname, "host");
  });

  it("lowercases the scheme and reads the query string", () => {
    const parts = parseUrl("REDIS://h/1?visibility_timeout=3600&ssl=true");
    assert.equal(parts.scheme, "redis");
    assert.deepEqual(parts.query, { visibility_timeout: "3600", ssl: "true" });
    assert.equal(parts.virtualHost, "1");
  });

  it("refuses a bad port with a ConfigurationError that keeps the password out", () => {
    for (const url of ["amqp://u:s3cretpw@host:abc//", "amqp://u:s3cretpw@host:70000//"]) {
      assert.throws(() => parseUrl(url), (error: unknown) => {
        assert.ok(error instanceof ConfigurationError);
        assert.match(error.message, /port/);
        assert.ok(!error.message.includes("s3cretpw"), error.message);
        return true;
      });
    }
  });

  it("keeps a password with a raw '/' out of the error (it must be percent-encoded)", () => {
    assert.throws(() => parseUrl("amqp://user:pa55/w0rdXY@host//"), (error: unknown) => {
      assert.ok(error instanceof ConfigurationError);
      assert.ok(!error.message.includes("pa55"), error.message);
      assert.ok(!error.message.includes("w0rdXY"), error.message);
      return true;
    });
  });

  it("refuses bad percent-encoding without echoing the password", () => {
    assert.throws(() => parseUrl("amqp://u:%zzs3cretpw@host//"), (error: unknown) => {
      assert.ok(error instanceof ConfigurationError);
      assert.ok(!error.message.includes("s3cretpw"), error.message);
      return true;
    });
  });

  it("refuses text that is not scheme://...", () => {
    assert.throws(() => parseUrl("localhost:5672"), ConfigurationError);
    assert.throws(() => parseUrl(""), ConfigurationError);
  });
});

describe("maskUrl and splitUrls", () => {
  it("masks the password and keeps the rest", () => {
    assert.equal(maskUrl("amqp://guest:guest@localhost//"), "amqp://guest:**@localhost//");
    assert.equal(maskUrl("redis://:pw@host:6379/0"), "redis://:**@host:6379/0");
    assert.equal(maskUrl("amqp://user@host//"), "amqp://user@host//");
    assert.equal(maskUrl("amqp://host:5672/vh"), "amqp://host:5672/vh");
    assert.equal(maskUrl("memory://"), "memory://");
    assert.equal(maskUrl("not a url"), "not a url");
  });

  it("masks a password that holds '@' and '/' up to the last '@'", () => {
    assert.equal(maskUrl("amqp://user:p@ss@host//"), "amqp://user:**@host//");
    assert.equal(maskUrl("amqp://user:pa/ss@host//"), "amqp://user:**@host//");
  });

  it("masks every URL of a ';' list", () => {
    assert.equal(
      maskUrl("amqp://a:one@h1//;amqp://b:two@h2//"),
      "amqp://a:**@h1//;amqp://b:**@h2//",
    );
  });

  it("splits ';' lists, trimming and dropping empty parts", () => {
    assert.deepEqual(splitUrls(" amqp://h1// ; ;amqp://h2//;"), ["amqp://h1//", "amqp://h2//"]);
  });
});

// Characters a password or user name may hold once percent-encoded, structural ones included.
const secretChars = fc.constantFrom(..."abcXYZ019:@/?#%&=+ ;[]!$'()*,~é");
const hostname = fc.oneof(
  fc.stringMatching(/^[a-z][a-z0-9-]{0,10}(\.[a-z][a-z0-9-]{0,10}){0,2}$/),
  fc.constantFrom("::1", "fe80::1", "2001:db8::42"),
);

describe("parseUrl and maskUrl: properties", () => {
  it("round-trips generated URLs and never leaks the generated password", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: secretChars, minLength: 1, maxLength: 12 }),
        fc.string({ unit: secretChars, minLength: 0, maxLength: 16 }),
        hostname,
        fc.option(fc.integer({ min: 0, max: 65535 }), { nil: undefined }),
        fc.option(fc.string({ unit: secretChars, minLength: 1, maxLength: 8 }), { nil: undefined }),
        (user, password, host, port, vhost) => {
          const enc = encodeURIComponent;
          const authority = `${host.includes(":") ? `[${host}]` : host}${
            port === undefined ? "" : `:${port}`
          }`;
          const tail = `${authority}/${vhost === undefined ? "" : enc(vhost)}`;
          const url = `amqp://${enc(user)}:${enc(password)}@${tail}`;
          const parts = parseUrl(url);
          assert.equal(parts.userid, user);
          assert.equal(parts.password, password);
          assert.equal(parts.hostname, host);
          assert.equal(parts.port, port);
          assert.equal(parts.virtualHost, vhost);
          assert.equal(maskUrl(url), `amqp://${enc(user)}:**@${tail}`);
          assert.equal(parseUrl(maskUrl(url)).password, "**");
        },
      ),
      { numRuns: 300 },
    );
  });

  it("never leaks a password written without percent-encoding into maskUrl", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom(..."abcXYZ019:@/?#%&="), minLength: 6, maxLength: 16 }),
        (password) => {
          const url = `amqp://user:${password}Q7@host//`;
          assert.ok(!maskUrl(url).includes(`${password}Q7`), maskUrl(url));
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("Connection never shows a password", () => {
  const secret = "Sup3rS3cretPw";

  it("masks asUri, toString, String, JSON.stringify and inspect", () => {
    const conn = new Connection(`amqp://guest:${secret}@localhost:5672//`);
    const shown = everyRendering(conn);
    assert.ok(!shown.includes(secret), shown);
    assert.equal(conn.asUri(), "amqp://guest:**@localhost:5672//");
    assert.equal(conn.asUri({ includePassword: true }), `amqp://guest:${secret}@localhost:5672//`);
    assert.ok(inspect(conn).includes("amqp://guest:**@localhost:5672//"));
  });

  it("masks every URL of a failover list and of the alternates option", () => {
    const conn = new Connection(`amqp://a:${secret}1@h1//;amqp://b:${secret}2@h2//`, {
      alternates: [`amqp://c:${secret}3@h3//`],
    });
    assert.deepEqual(conn.alternates, ["amqp://a:**@h1//", "amqp://b:**@h2//", "amqp://c:**@h3//"]);
    assert.ok(!everyRendering(conn).includes(secret));
  });

  it("keeps the password out of connect errors, even when the transport echoes the URL", async () => {
    const transport = new FlakyTransport(100);
    transport.makeError = (params) => new Error(`dial ${params.url} failed`);
    const conn = new Connection(`amqp://guest:${secret}@h1//;amqp://guest:${secret}@h2//`, {
      transport,
    });
    const text = await messageOf(conn.connect());
    assert.ok(!text.includes(secret), text);
    assert.match(text, /\*\*/);
    assert.ok(!everyRendering(conn).includes(secret));
    await conn.close();
  });

  it("keeps the password out of a bad-port error raised while connecting", async () => {
    const conn = new Connection(`amqp://guest:${secret}@host:notaport//`, {
      transport: new FlakyTransport(),
    });
    await assert.rejects(conn.connect(), (error: unknown) => {
      assert.ok(error instanceof ConfigurationError);
      assert.ok(!(error as Error).message.includes(secret));
      return true;
    });
    await conn.close();
  });

  it("keeps the password out of a connect timeout", async () => {
    const never: FlakyTransport = new FlakyTransport();
    never.connect = () => new Promise(() => {});
    const conn = new Connection(`amqp://guest:${secret}@slow//`, {
      transport: never,
      connectTimeout: 5,
    });
    await assert.rejects(conn.connect(), (error: unknown) => {
      assert.ok(error instanceof ConnectionError);
      assert.match((error as Error).message, /timed out/);
      assert.ok(!(error as Error).message.includes(secret));
      return true;
    });
    await conn.close();
  });
});

describe("URLs that hold ';' themselves (Azure connection strings)", () => {
  const url = "azurestoragequeues://DefaultEndpointsProtocol=http;AccountName=dev;" +
    "AccountKey=c2VjcmV0;QueueEndpoint=http://127.0.0.1:1/dev;";
  it("stay one URL, and a following failover URL still splits off", () => {
    const whole = url.replace(/;$/, "");
    assert.deepEqual(splitUrls(url), [whole]);
    assert.deepEqual(splitUrls(`${url};amqp://h2//`), [whole, "amqp://h2//"]);
  });
  it("mask the account key and a SAS", () => {
    assert.equal(maskUrl(url).includes("c2VjcmV0"), false);
    assert.match(maskUrl(url), /AccountKey=\*\*/);
    const sas = "azurestoragequeues://AccountName=dev;SharedAccessSignature=sv=2020&sig=abc";
    assert.equal(maskUrl(sas).includes("sig=abc"), false);
  });
});
