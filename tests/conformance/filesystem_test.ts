import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { filesystemCapabilities } from "../../transports/filesystem/mod.ts";
import { conformanceSuite } from "../../testing/conformance.ts";
import { filesystemInspector } from "../_support/inspect.ts";
import { skipReporter } from "../_support/skips.ts";

const root = mkdtempSync(join(tmpdir(), "wakame-fs-"));
const data = join(root, "data");

conformanceSuite({
  onSkip: skipReporter(import.meta.url),
  name: "filesystem",
  url: "filesystem://",
  capabilities: filesystemCapabilities,
  options: {
    transportOptions: {
      dataFolderIn: data,
      dataFolderOut: data,
      processedFolder: join(root, "processed"),
      controlFolder: join(root, "control"),
      pollingInterval: 10,
    },
  },
  inspect: filesystemInspector(data),
  teardown: () => Promise.resolve(rmSync(root, { recursive: true, force: true })),
});
