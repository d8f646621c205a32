#!/usr/bin/env bash
# Makes sure Debian's `chromium` is at /usr/bin/chromium for the browser tests (test/cli/report.test.ts drives it
# through playwright-core with executablePath set; playwright's own browser download is never used). Idempotent:
# with /usr/bin/chromium present (or $CHROMIUM_PATH executable) it changes nothing; otherwise, as root, it installs
# Debian's `chromium` package.
set -euo pipefail

if [ -n "${CHROMIUM_PATH:-}" ] && [ -x "$CHROMIUM_PATH" ]; then
  echo "chromium: $CHROMIUM_PATH"
  exit 0
fi
if [ -x /usr/bin/chromium ]; then
  echo "chromium: /usr/bin/chromium ($(/usr/bin/chromium --version 2>/dev/null || echo 'version unknown'))"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "chromium: /usr/bin/chromium not found; install Debian's chromium package (sudo apt-get install -y chromium)" >&2
  exit 1
fi
echo "chromium: installing Debian's chromium package (headless browser for the report tests)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium
[ -x /usr/bin/chromium ] || { echo "chromium: apt-get installed chromium but /usr/bin/chromium is missing" >&2; exit 1; }
echo "chromium: $(/usr/bin/chromium --version)"
