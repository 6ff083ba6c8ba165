/**
 * Kombu's own test expectations for `kombu.utils.url` (`t/unit/utils/test_url.py`) and
 * `kombu.clocks` (`t/unit/test_clocks.py`), checked through wakame's public API.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { asUrl, compareTimeTuples, LamportClock, maskUrl, parseUrl } from "../../../mod.ts";

describe("Kombu test_url.py", () => {
  it("parse_url keeps a virtual host with a slash (test_parse_url)", () => {
    const parts = parseUrl("amqp://user:pass@localhost:5672/my/vhost");
    assert.deepEqual(
      [parts.scheme, parts.userid, parts.password, parts.hostname, parts.port, parts.virtualHost],
      ["amqp", "user", "pass", "localhost", 5672, "my/vhost"],
    );
  });

  it("as_url writes Kombu's table (test_as_url)", () => {
    const rows: [Parameters<typeof asUrl>[0], string][] = [
      [{ scheme: "https" }, "https:///"],
      [{ scheme: "https", hostname: "e.com" }, "https://e.com/"],
      [{ scheme: "https", hostname: "e.com", port: 80 }, "https://e.com:80/"],
      [{ scheme: "https", hostname: "e.com", port: 80, userid: "u" }, "https://u@e.com:80/"],
      [
        { scheme: "https", hostname: "e.com", port: 80, userid: "u", password: "p" },
        "https://u:p@e.com:80/",
      ],
      [{ scheme: "https", hostname: "e.com", port: 80, password: "p" }, "https://:p@e.com:80/"],
      [
        { scheme: "https", hostname: "e.com", port: 80, password: "p", virtualHost: "/foo" },
        "https://:p@e.com:80//foo",
      ],
    ];
    assert.deepEqual(rows.map(([parts]) => asUrl(parts)), rows.map(([, url]) => url));
  });

  it("maybe_sanitize_url masks the password and leaves other text (test_maybe_sanitize_url)", () => {
    assert.equal(maskUrl("foo"), "foo");
    assert.equal(maskUrl("http://u:p@e.com//foo"), "http://u:**@e.com//foo");
  });
});

describe("Kombu test_clocks.py", () => {
  it("forward and adjust (test_clocks)", () => {
    const c1 = new LamportClock();
    const c2 = new LamportClock();
    c1.forward();
    c2.forward();
    c1.forward();
    c1.forward();
    c2.adjust(c1.value);
    assert.equal(c2.value, c1.value + 1);
    const before = c2.value;
    c2.forward();
    c2.forward();
    c2.adjust(c1.value);
    assert.equal(c2.value, before + 2 + 1);
    c1.adjust(c2.value);
    assert.equal(c1.value, c2.value + 1);
  });

  it("sort_heap picks the first event, a tie by the lowest process id (test_sort)", () => {
    const c = new LamportClock();
    const pid1 = "a.example.com:312";
    const pid2 = "b.example.com:311";
    const m1 = [c.forward(), pid1] as const;
    const m2 = [c.forward(), pid2] as const;
    const m3 = [c.forward(), pid1] as const;
    const m4 = [30, pid1] as const;
    const m5 = [30, pid2] as const;
    assert.equal(String(c), String(c.value));
    assert.equal(c.sortHeap([m1, m2, m3, m4, m5]), m1);
    assert.equal(c.sortHeap([m4, m5]), m4);
    assert.equal(c.sortHeap([m4, m5, m1]), m4);
  });

  it("orders timetuples by clock, then id, else by timestamp (test_timetuple.test_order)", () => {
    const t1 = 1_700_000_000_000;
    const t2 = t1 + 300_000;
    const at = (clock: number, timestamp: number, id: string) => ({ clock, timestamp, id });
    assert.ok(compareTimeTuples(at(133, t1, "A"), at(140, t1, "A")) < 0);
    assert.ok(compareTimeTuples(at(134, t2, "A"), at(133, t1, "A")) > 0);
    assert.ok(compareTimeTuples(at(134, t1, "B"), at(134, t1, "A")) > 0);
    // Without clocks (Kombu: None; wakame: 0), the timestamps decide.
    assert.ok(compareTimeTuples(at(0, t2, "B"), at(0, t1, "A")) > 0);
  });
});
