import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ConfigurationError } from "../../../src/errors.ts";
import {
  compileGlob,
  globMatch,
  match,
  MatcherRegistry,
  matchers,
  pcreMatch,
  registerMatcher,
  unregisterMatcher,
} from "../../../src/utils/matcher.ts";

describe("glob matcher (Python fnmatchcase semantics)", () => {
  const cases: Array<[string, string, boolean]> = [
    ["celery@host", "celery@*", true],
    ["celery@host", "celery@", false],
    ["celery@host", "*", true],
    ["", "*", true],
    ["", "", true],
    ["a", "", false],
    ["abc", "a?c", true],
    ["ac", "a?c", false],
    ["a.b.c", "*.c", true],
    ["a.b.c", "a*c", true],
    ["x1", "x[0-9]", true],
    ["xa", "x[0-9]", false],
    ["xa", "x[!0-9]", true],
    ["x]", "x[]]", true],
    ["x!", "x[!]", false],
    ["x[!]", "x[!]", true],
    ["[", "[", true],
    ["a[b", "a[b", true],
    ["x-", "x[a-]", true],
    ["xb", "x[z-a]", false],
    ["xb", "x[!z-a]", true],
    ["ABC", "abc", false],
    ["a\nb", "a*b", true],
    ["a\\b", "a\\b", true],
    ["a^b", "a[\\^]b", true],
    ["é", "?", true],
    ["😀x", "?x", true],
    ["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", "*a*a*a*a*a*a*a*a*a*a*a*c", false],
  ];
  for (const [data, pattern, expected] of cases) {
    it(`${JSON.stringify(pattern)} ${expected ? "matches" : "does not match"} ${JSON.stringify(data)}`, () => {
      assert.equal(globMatch(data, pattern), expected);
      assert.equal(compileGlob(pattern)(data), expected);
    });
  }

  // A generated pattern is a list of tokens; it is rendered both as a glob and as a RegExp, and
  // the two must agree on every name.
  type Tok =
    | { t: "char"; c: string }
    | { t: "one" }
    | { t: "star" }
    | { t: "set"; negate: boolean; members: string[]; range?: [string, string] };
  const alphabet = ["a", "b", "c", "x", ".", "@", "0", "*", "?", "[", "]", "!", "-"];
  const setAlphabet = ["a", "b", "c", "x", ".", "@", "0"];
  const tok: fc.Arbitrary<Tok> = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...alphabet).map((c): Tok => ({ t: "char", c })) },
    { weight: 1, arbitrary: fc.constant<Tok>({ t: "one" }) },
    { weight: 2, arbitrary: fc.constant<Tok>({ t: "star" }) },
    {
      weight: 1,
      arbitrary: fc.record({
        negate: fc.boolean(),
        members: fc.uniqueArray(fc.constantFrom(...setAlphabet), { minLength: 1, maxLength: 3 }),
        range: fc.option(
          fc.tuple(fc.constantFrom(...setAlphabet), fc.constantFrom(...setAlphabet)).map((
            [x, y],
          ) => (x <= y ? [x, y] : [y, x]) as [string, string]),
          { nil: undefined },
        ),
      }).map((r): Tok => ({ t: "set", ...r })),
    },
  );
  const esc = (c: string) => c.replace(/[\\^$.*+?()[\]{}|\/]/g, "\\$&");
  const escInSet = (c: string) => c.replace(/[\\^\]\[-]/g, "\\$&");
  function toGlob(tokens: Tok[]): string {
    return tokens.map((k) => {
      switch (k.t) {
        case "char":
          return "*?[".includes(k.c) ? `[${k.c}]` : k.c;
        case "one":
          return "?";
        case "star":
          return "*";
        case "set":
          return `[${k.negate ? "!" : ""}${k.members.join("")}${
            k.range ? `${k.range[0]}-${k.range[1]}` : ""
          }]`;
      }
    }).join("");
  }
  function toRegExp(tokens: Tok[]): RegExp {
    const body = tokens.map((k) => {
      switch (k.t) {
        case "char":
          return esc(k.c);
        case "one":
          return "[\\s\\S]";
        case "star":
          return "[\\s\\S]*";
        case "set":
          return `[${k.negate ? "^" : ""}${k.members.map(escInSet).join("")}${
            k.range ? `${escInSet(k.range[0])}-${escInSet(k.range[1])}` : ""
          }]`;
      }
    }).join("");
    return new RegExp(`^(?:${body})$`, "u");
  }

  it("agrees with a RegExp rendering of the same pattern (property)", () => {
    fc.assert(
      fc.property(
        fc.array(tok, { maxLength: 8 }),
        fc.array(fc.constantFrom(...alphabet), { maxLength: 10 }).map((a) => a.join("")),
        (tokens, data) => {
          const glob = toGlob(tokens);
          assert.equal(globMatch(data, glob), toRegExp(tokens).test(data), `glob ${glob}`);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("a pattern matches the names it was made from (property)", () => {
    const word = fc.string({ unit: fc.constantFrom(...alphabet), maxLength: 12 });
    fc.assert(
      fc.property(word, word, word, (a, b, c) => {
        const lit = (s: string) =>
          Array.from(s, (ch) => ("*?[".includes(ch) ? `[${ch}]` : ch)).join("");
        assert.ok(globMatch(a, lit(a)));
        assert.ok(globMatch(a + b + c, `${lit(a)}*${lit(c)}`));
        assert.ok(globMatch(a + b + c, `*${lit(b)}*`));
        assert.equal(
          globMatch(a, "?".repeat(Array.from(b).length)),
          Array.from(a).length === Array.from(b).length,
        );
        assert.equal(globMatch(a, lit(b)), a === b);
      }),
    );
  });
});

describe("pcre matcher (Python re.match semantics)", () => {
  it("anchors at the start only", () => {
    assert.ok(pcreMatch("celery@w1", "celery@w\\d"));
    assert.ok(pcreMatch("celery@w12-extra", "celery@w\\d"));
    assert.equal(pcreMatch("xcelery@w1", "celery"), false);
    assert.ok(pcreMatch("abc", "b|a"));
  });

  it("is reusable (no lastIndex leaks between calls)", () => {
    assert.ok(pcreMatch("aa", "a"));
    assert.ok(pcreMatch("aa", "a"));
    assert.ok(pcreMatch("a", "a"));
  });

  it("rejects invalid patterns with a ConfigurationError", () => {
    assert.throws(() => pcreMatch("x", "("), ConfigurationError);
  });
});

describe("MatcherRegistry", () => {
  it("defaults to glob and knows pcre", () => {
    assert.equal(matchers.defaultMatcher, "glob");
    assert.ok(match("w1@h", "w?@*"));
    assert.ok(match("w1@h", "w?@*", null));
    assert.ok(match("w1@h", "w\\d", "pcre"));
    assert.equal(match("w1@h", "w\\d"), false);
  });

  it("registers and unregisters custom matchers", () => {
    registerMatcher("suffix", (data, pattern) => data.endsWith(pattern));
    try {
      assert.ok(match("w1@example.com", ".com", "suffix"));
    } finally {
      unregisterMatcher("suffix");
    }
    assert.throws(() => match("w1", "w1", "suffix"), ConfigurationError);
    assert.throws(() => unregisterMatcher("suffix"), /not installed/);
  });

  it("a private registry has its own default", () => {
    const registry = new MatcherRegistry("exact");
    assert.throws(() => registry.match("a", "a"), ConfigurationError);
    registry.register("exact", (a, b) => a === b);
    assert.ok(registry.match("a", "a"));
    assert.ok(registry.has("exact"));
    assert.throws(() => registry.setDefaultMatcher("glob"), ConfigurationError);
  });
});
