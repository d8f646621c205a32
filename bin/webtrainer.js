#!/usr/bin/env node
// The `webtrainer` command: runs the compiled CLI (npm run build makes dist/) in a child process that this one
// supervises, so that a crash in native code is reported with what was running (src/cli/supervisor.ts).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
const dist = (path) => new URL(`../dist/src/cli/${path}`, import.meta.url);
if (!existsSync(dist('main.js'))) {
  console.error('webtrainer: dist/ is missing; run `npm run build` (npm ci/install does it through `prepare`).');
  process.exit(1);
}
const supervisor = await import(dist('supervisor.js').href);
if (supervisor.isSupervisedChild()) {
  supervisor.exitWithSupervisor();
  const { main } = await import(dist('main.js').href);
  // bench/ is not part of src/ (it uses the package as a user does), so its command is handed to main here.
  const bench = async (args) => (await import(new URL('../dist/bench/cli.js', import.meta.url).href)).runBench(args);
  process.exitCode = await main(process.argv.slice(2), { bench });
} else {
  process.exitCode = await supervisor.runSupervised(fileURLToPath(import.meta.url), process.argv.slice(2));
}
