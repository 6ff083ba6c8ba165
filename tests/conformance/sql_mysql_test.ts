import { conformanceSuite } from "../../testing/conformance.ts";
import { sqlCapabilities } from "../../transports/sql/mod.ts";
import { skipReporter } from "../_support/skips.ts";
import { mysqlTarget, sqlInspector } from "../unit/sql/_helpers.ts";

const target = await mysqlTarget();

conformanceSuite({
  onSkip: skipReporter(import.meta.url),
  name: "sql (MariaDB, mysql2)",
  url: target.url,
  capabilities: sqlCapabilities,
  skip: target.skip,
  inspect: sqlInspector(target),
  options: { transportOptions: { ...target.tables, pollingInterval: 50 } },
  teardown: () => target.drop(),
});
