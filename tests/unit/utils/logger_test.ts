import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { formatLine, getLogger, readEnv, redact, setLogger } from "../../../src/logger.ts";

function capture() {
  const lines: Array<[string, string]> = [];
  const sink = {
    debug: (l: string) => lines.push(["debug", l]),
    info: (l: string) => lines.push(["info", l]),
    warn: (l: string) => lines.push(["warn", l]),
    error: (l: string) => lines.push(["error", l]),
  };
  return { lines, sink };
}

describe("logger", () => {
  afterEach(() => setLogger(undefined));

  it("is silent when silenced", () => {
    setLogger(undefined);
    const log = getLogger("t");
    assert.equal(log.enabled("error"), false);
    log.error("nothing to see"); // must not throw
  });

  it("passes lines at or above the level to an injected sink", () => {
    const { lines, sink } = capture();
    setLogger(sink, { level: "warn" });
    const log = getLogger("pools");
    log.info("dropped");
    log.warn("kept", 1, { a: true });
    log.error("failed:", new Error("boom", { cause: new Error("root") }));
    assert.deepEqual(lines, [
      ["warn", '[wakame.pools] kept 1 {"a":true}'],
      ["error", "[wakame.pools] failed: Error: boom (cause: Error: root)"],
    ]);
    assert.equal(log.enabled("info"), false);
    assert.equal(log.enabled("error"), true);
  });

  it("never passes a password on", () => {
    const { lines, sink } = capture();
    setLogger(sink, { level: "debug" });
    const log = getLogger("connection");
    log.debug("connecting to amqp://guest:s3cr3t@localhost:5672//");
    log.info("url", "redis://:hunter2@127.0.0.1:6379/0");
    log.error("lost", new Error("Cannot connect to amqp://u:pw@h//"));
    log.warn("state", { url: "sqs://AKIA:wJalr/Xk@" });
    const text = lines.map(([, l]) => l).join("\n");
    for (const secret of ["s3cr3t", "hunter2", ":pw@", "wJalr"]) {
      assert.ok(!text.includes(secret), `leaked ${secret} in ${text}`);
    }
    assert.match(text, /amqp:\/\/guest:\*\*\*\*@localhost:5672\/\//);
  });

  it("survives a sink that throws", () => {
    setLogger({
      debug() {},
      info() {
        throw new Error("sink broke");
      },
      warn() {},
      error() {},
    });
    getLogger("x").info("hello");
  });

  it("WAKAME_LOG turns on console output at that level, redacted", () => {
    const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process!
      .env;
    const before = env.WAKAME_LOG;
    const original = { info: console.info, warn: console.warn };
    const lines: string[] = [];
    console.info = (line: string) => void lines.push(`info ${line}`);
    console.warn = (line: string) => void lines.push(`warn ${line}`);
    try {
      env.WAKAME_LOG = "WARN";
      setLogger(null);
      const log = getLogger("env");
      log.info("hidden");
      log.warn("shown", "amqp://u:secret@h//");
      assert.deepEqual(lines, ["warn [wakame.env] shown amqp://u:****@h//"]);
      env.WAKAME_LOG = "nonsense";
      setLogger(null);
      log.error("silent again");
      assert.equal(lines.length, 1);
    } finally {
      console.info = original.info;
      console.warn = original.warn;
      if (before === undefined) delete env.WAKAME_LOG;
      else env.WAKAME_LOG = before;
      setLogger(undefined);
    }
  });

  it("reads the environment without throwing", () => {
    assert.equal(readEnv("WAKAME_SURELY_UNSET_VARIABLE"), undefined);
    setLogger(null); // back to WAKAME_LOG (unset in tests): silent
    assert.equal(getLogger("x").enabled("error"), readEnv("WAKAME_LOG") !== undefined);
  });
});

describe("redact", () => {
  const cases: Array<[string, string]> = [
    ["amqp://guest:guest@host:5672//", "amqp://guest:****@host:5672//"],
    ["amqps://u:p%40ss@h/v", "amqps://u:****@h/v"],
    ["redis://:pw@h:6379/0", "redis://:****@h:6379/0"],
    ["amqp://u:p@ss@host/", "amqp://u:****@host/"],
    ["amqp://host:5672/vhost", "amqp://host:5672/vhost"],
    ["memory://", "memory://"],
    ["a amqp://a:b@c and redis://d:e@f", "a amqp://a:****@c and redis://d:****@f"],
    [
      "azurestoragequeues://:k3y@acct?sas_token=sv%3Dx&x=1",
      "azurestoragequeues://:****@acct?sas_token=****&x=1",
    ],
    ["https://q?password=abc&Signature=def", "https://q?password=****&Signature=****"],
  ];
  for (const [input, output] of cases) {
    it(`masks ${input}`, () => assert.equal(redact(input), output));
  }

  it("formatLine redacts the whole line", () => {
    assert.equal(
      formatLine("x", "to amqp://a:b@c", ["and", "amqp://d:e@f"]),
      "[wakame.x] to amqp://a:****@c and amqp://d:****@f",
    );
  });
});
