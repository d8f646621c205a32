#!/usr/bin/env bash
# Makes sure Dawn finds a WebGPU adapter: with a GPU (or an already working driver) it changes nothing; on a
# machine without one it installs Mesa's lavapipe (software Vulkan) from Debian backports, saying so.
set -euo pipefail
cd "$(dirname "$0")/.."
probe='import("webgpu").then(async ({create}) => { const gpu = create([]); const a = await gpu.requestAdapter(); process.exit(a ? 0 : 1); }).catch(() => process.exit(1))'
if node -e "$probe" >/dev/null 2>&1; then
  echo "webgpu: an adapter is available"
  exit 0
fi
echo "webgpu: no WebGPU adapter found; installing Mesa lavapipe (Vulkan on the CPU) so webtrainer can run without a GPU"
bash scripts/install-lavapipe.sh
node -e "$probe" || { echo "webgpu: still no adapter after installing lavapipe; see 'npx webtrainer doctor'" >&2; exit 1; }
echo "webgpu: lavapipe adapter available"
