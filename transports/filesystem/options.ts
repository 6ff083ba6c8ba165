/**
 * The filesystem transport's options, declared once ({@link FILESYSTEM_OPTIONS}): camelCase, or
 * Kombu's snake_case names (`data_folder_in`, ...); in the URL query Kombu's names and units.
 *
 * @module
 */

import { declareOptions, readOptions } from "../../src/options/declare.ts";
import { virtualOptionsPolling } from "../../src/virtual/options.ts";

/** Folders and behaviour of a filesystem broker. */
export interface FilesystemOptions {
  /** Where consumers read (default `data_in`). */
  dataFolderIn: string;
  /** Where producers write (default `data_out`). */
  dataFolderOut: string;
  /** Where read messages go (default `processed`). */
  processedFolder: string;
  /** Keep read messages in `processedFolder` (default false). */
  storeProcessed: boolean;
  /** Where bindings live (default `control`). */
  controlFolder: string;
}

/** Every option of the filesystem transport (with the virtual base's), declared once. */
export const FILESYSTEM_OPTIONS = declareOptions("filesystem", {
  ...virtualOptionsPolling(100),
  dataFolderIn: { kind: "string", default: "data_in", doc: "Where consumers read" },
  dataFolderOut: { kind: "string", default: "data_out", doc: "Where producers write" },
  processedFolder: { kind: "string", default: "processed", doc: "Where read messages go" },
  storeProcessed: {
    kind: "boolean",
    default: false,
    doc: "Keep read messages in `processedFolder` (else delete them)",
  },
  controlFolder: {
    kind: "string",
    default: "control",
    doc: "Where bindings live, `<exchange>.exchange` files (Kombu 5.3)",
  },
});

/**
 * Reads the options (camelCase or Kombu's snake_case names; the URL's query in Kombu's).
 *
 * @param o the connection's `transportOptions`
 * @param query the URL's query options
 * @returns the folders and behaviour
 * @throws {ConfigurationError} for an unknown option or a wrong value
 */
export function filesystemOptions(
  o: Record<string, unknown>,
  query: Readonly<Record<string, string>> = {},
): FilesystemOptions {
  const v = readOptions(FILESYSTEM_OPTIONS, { transportOptions: o, queryOptions: query });
  const folder = (value: string, fallback: string) => value === "" ? fallback : value;
  return {
    dataFolderIn: folder(v.dataFolderIn, "data_in"),
    dataFolderOut: folder(v.dataFolderOut, "data_out"),
    processedFolder: folder(v.processedFolder, "processed"),
    storeProcessed: v.storeProcessed,
    controlFolder: folder(v.controlFolder, "control"),
  };
}
