/**
 * The options of `memory://`: the virtual base's, declared once ({@link MEMORY_OPTIONS}).
 *
 * @module
 */

import { declareOptions, type OptionsDeclaration } from "../../src/options/declare.ts";
import { VIRTUAL_OPTIONS } from "../../src/virtual/options.ts";

/** The options of `memory://`. */
export const MEMORY_OPTIONS: OptionsDeclaration<typeof VIRTUAL_OPTIONS> = declareOptions(
  "memory",
  VIRTUAL_OPTIONS,
);
