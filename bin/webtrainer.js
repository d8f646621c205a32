#!/usr/bin/env node
// The `webtrainer` command: runs the compiled CLI (npm run build makes dist/).
import { existsSync } from 'node:fs';
const entry = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('webtrainer: dist/ is missing; run `npm run build` (npm ci/install does it through `prepare`).');
  process.exit(1);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
