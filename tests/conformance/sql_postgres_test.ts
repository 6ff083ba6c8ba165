import { conformanceSuite } from "../../testing/conformance.ts";
import { sqlCapabilities } from "../../transports/sql/mod.ts";
import { skipReporter } from "../_support/skips.ts";
import { postgresTarget, sqlInspector } from "../unit/sql/_helpers.ts";

const target = await postgresTarget();

conformanceSuite({
  onSkip: skipReporter(import.meta.url),
  name: "sql (PostgreSQL, postgres)",
  url: target.url,
  capabilities: sqlCapabilities,
  skip: target.skip,
  inspect: sqlInspector(target),
  options: { transportOptions: { ...target.tables, pollingInterval: 50 } },
  teardown: () => target.drop(),
});
