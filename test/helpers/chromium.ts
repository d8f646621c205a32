/**
 * Debian's chromium for the tests that open a page (the report, the dashboard): launched once per test file, or a
 * failure that names the install command when it is missing.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** The browser, or null without one (then `needBrowser` fails each browser test with the install command). */
export async function launchChromium(): Promise<Browser | null> {
  if (!existsSync(CHROMIUM)) return null;
  // The parallel-coordinates plot draws with WebGL: on a machine without a GPU that is SwiftShader, which newer
  // Chromium releases only allow with --enable-unsafe-swiftshader (harmless for a local page).
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--enable-unsafe-swiftshader'] });
}

export function needBrowser(browser: Browser | null | undefined): Browser {
  if (!browser) throw new Error(`no Chromium at ${CHROMIUM}: the browser tests need Debian's chromium package — run \`apt-get install -y chromium\` (or \`bash scripts/ensure-chromium.sh\`), or set CHROMIUM_PATH`);
  return browser;
}
