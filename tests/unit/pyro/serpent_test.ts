import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  PyTuple,
  serpentBytes,
  serpentDumps,
  SerpentError,
  serpentLoads,
  type SerpentValue,
} from "../../../transports/pyro/serpent.ts";
import { PYTHON } from "../../_support/python.ts";
import { envSkip } from "../../_support/skips.ts";

const hex = (h: string) => Uint8Array.from(h.match(/../g)!, (b) => parseInt(b, 16));
const text = (s: string) => new TextEncoder().encode(s);

// Pyro4 4.82's SerpentSerializer.dumpsCall("obj_1a2b", "put", ("q1", {...}), {}).
const PYTHON_CALL = hex(
  "232073657270656e74207574662d3820707974686f6e332e320a28276f626a5f31613262272c27707574272c28" +
    "277131272c7b27626f6479273a2761476b3d272c2770726f70657274696573273a7b2764656c69766572795f7461" +
    "67273a2774272c277072696f72697479273a307d2c2768656164657273273a7b7d7d292c7b7d29",
);
// serpent.dumps of a sample with every escape, big int, -0.0, tuples and bytes (Python 3.11).
const PYTHON_SAMPLE = "# serpent utf-8 python3.2\n{'s':'it\\'s \"q\"\\n\\t\\\\\\x01é✓😀'," +
  "'n':[-5,1180591620717411303424,2.5,-0.0,1e+300,True,False,None],'t':(1,),'e':()," +
  "'b':{'data': 'AP8=', 'encoding': 'base64'}}";

const python = envSkip(
  import.meta.url,
  spawnSync(PYTHON, ["-c", "import serpent"]).status === 0 ? false : "python3-serpent missing",
);

const value = fc.letrec<{ leaf: SerpentValue; node: SerpentValue }>((tie) => ({
  leaf: fc.oneof(
    fc.string({ unit: "grapheme" }),
    fc.string({ unit: "binary" }),
    fc.integer(),
    fc.double(),
    fc.bigInt({ min: 2n ** 60n, max: 2n ** 80n }),
    fc.boolean(),
    fc.constant(null),
  ),
  node: fc.oneof(
    { depthSize: "small" },
    tie("leaf"),
    fc.array(tie("node"), { maxLength: 4 }),
    fc.dictionary(fc.string(), tie("node"), { maxKeys: 4, noNullPrototype: true }),
  ),
})).node;

describe("serpent codec", () => {
  it("writes a Pyro call byte for byte as Python Pyro4 does", () => {
    const call = new PyTuple([
      "obj_1a2b",
      "put",
      new PyTuple([
        "q1",
        { body: "aGk=", properties: { delivery_tag: "t", priority: 0 }, headers: {} },
      ]),
      {},
    ]);
    assert.deepEqual(serpentDumps(call), PYTHON_CALL);
  });

  it("reads what Python serpent wrote", () => {
    const got = serpentLoads(text(PYTHON_SAMPLE)) as Record<string, SerpentValue>;
    assert.equal(got.s, 'it\'s "q"\n\t\\\x01é✓😀');
    assert.deepEqual(got.n, [-5, 2n ** 70n, 2.5, -0, 1e300, true, false, null]);
    assert.deepEqual(got.t, [1]);
    assert.deepEqual(got.e, []);
    assert.deepEqual(serpentBytes(got.b), Uint8Array.of(0, 255));
  });

  it("reads sets, double quotes, octal and unicode escapes, infinities and NaN", () => {
    const got = serpentLoads(
      text(`{1,2}`),
    );
    assert.deepEqual(got, [1, 2]);
    assert.equal(serpentLoads(text(`"a'b\\u00e9\\U0001f600\\0"`)), "a'bé😀\0");
    assert.equal(serpentLoads(text("-1e30000")), -Infinity);
    assert.ok(Number.isNaN(serpentLoads(text("{'__class__':'float','value':'nan'}"))));
  });

  it("round-trips any value it writes", () => {
    fc.assert(
      fc.property(value, (v) => {
        assert.deepEqual(serpentLoads(serpentDumps(v)), v);
      }),
      { numRuns: 300 },
    );
  });

  it("refuses what is not serpent with the place", () => {
    for (const bad of ["{'a' 1}", "[1,", "'open", "foo", "1 2", "{1:2, 3}"]) {
      assert.throws(() => serpentLoads(text(bad)), SerpentError, bad);
    }
    assert.throws(() => serpentLoads(Uint8Array.of(0xff)), /not UTF-8/);
  });

  it("writes what Python's ast.literal_eval reads back equal", python.options(), () => {
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 20 }), (values) => {
        const lines = values.map((v) => new TextDecoder().decode(serpentDumps(v)).split("\n")[1]);
        const script = "import sys, serpent, json\n" +
          "for line in sys.stdin.read().split('\\x1e'):\n" +
          "  v = serpent.loads(('# serpent utf-8 python3.2\\n' + line).encode('utf-8', 'surrogatepass'))\n" +
          "  print(serpent.dumps(v, module_in_classname=True).decode('utf-8', 'surrogatepass').split('\\n', 1)[1] + '\\x1e', end='')\n";
        const run = spawnSync(PYTHON, ["-c", script], {
          input: lines.join("\x1e"),
          encoding: "utf8",
        });
        assert.equal(run.status, 0, run.stderr);
        const back = run.stdout.split("\x1e").slice(0, -1);
        assert.equal(back.length, values.length);
        back.forEach((line, i) => assert.deepEqual(serpentLoads(text(line)), values[i]));
      }),
      { numRuns: 5 },
    );
  });
});
