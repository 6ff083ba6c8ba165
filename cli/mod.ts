#!/usr/bin/env node
/**
 * The `wakame` command line: `npx wakame --help` after `npm i @wakame/wakame`, or
 * `deno run -A jsr:@wakame/wakame/cli --help`.
 *
 * Commands: `publish`, `consume`, `inspect`, `purge`, `celery inspect`, `bench`. Running this
 * module runs the command line with the process's arguments and exits with its code.
 *
 * @module
 */

import process from "node:process";
import { main } from "./main.ts";

/** The exit code of the run (see `wakame --help` for their meaning). */
export const exitCode: number = await main(process.argv.slice(2));
process.exit(exitCode);
