import { conformanceSuite } from "../../testing/conformance.ts";
import { sqlCapabilities } from "../../transports/sql/mod.ts";
import { skipReporter } from "../_support/skips.ts";
import { sqlInspector, sqliteTarget } from "../unit/sql/_helpers.ts";

const target = await sqliteTarget();

conformanceSuite({
  onSkip: skipReporter(import.meta.url),
  name: "sql (SQLite, runtime module)",
  url: target.url,
  capabilities: sqlCapabilities,
  skip: target.skip,
  inspect: sqlInspector(target),
  options: { transportOptions: { ...target.tables, pollingInterval: 50 } },
  teardown: () => target.drop(),
});
