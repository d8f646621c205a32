#!/usr/bin/env bash
# Packs what a lent NVIDIA GPU machine needs to run webtrainer's benchmarks (../../shared/GPU.md): Node 20, the
# Vulkan loader, and the built app with its runtime dependencies and the WebGPU peers, into .gpu/ (git-ignored),
# under the device tool's 64 MiB. Then: one `run` with carry [".gpu"] and `bash bench/gpu/run.sh`.
set -euo pipefail
cd "$(dirname "$0")/../.."
grep -qx '/.gpu/' .git/info/exclude || echo '/.gpu/' >> .git/info/exclude
rm -rf .gpu && mkdir -p .gpu
xz -T2 -c "$(readlink -f "$(command -v node)")" > .gpu/node.xz
mkdir -p /tmp/amd64/partial
o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
# shellcheck disable=SC2086
# libGLX_nvidia (the NVIDIA Vulkan ICD) needs glvnd: without these the loader finds "no drivers".
apt-get $o update -qq && (cd .gpu && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 2>/dev/null)
npm run build >/dev/null
stage=$(mktemp -d)
mkdir -p "$stage/app"
cp -r package.json bin dist data "$stage/app/"
mkdir -p "$stage/app/bench/peers" && cp bench/peers/torch_peer.py "$stage/app/bench/peers/"
# Runtime dependencies, the peers and vitest (the kernel tests run there too); not TypeScript, other platforms'
# Dawn builds, source maps or tfjs's minified/ES2017 bundles.
tar -cf - \
  --exclude='node_modules/webgpu/dist/darwin-*' --exclude='node_modules/webgpu/dist/win32-*' \
  --exclude='node_modules/webgpu/dist/linux-arm64' --exclude='*.map' --exclude='node_modules/typescript' \
  --exclude='node_modules/@types' --exclude='node_modules/better-sqlite3/deps' \
  --exclude='node_modules/better-sqlite3/src' --exclude='node_modules/better-sqlite3/build/Release/obj*' \
  --exclude='node_modules/@tensorflow/tfjs-backend-webgl/dist/*.min.js' \
  --exclude='node_modules/@tensorflow/*/dist/*es2017*' --exclude='node_modules/@tensorflow/*/dist/miniprogram' \
  node_modules | tar -C "$stage/app" -xf -
tar -C "$stage" -cf - app | xz -T2 -6 > .gpu/app.tar.xz
rm -rf "$stage"
du -sh .gpu/*
du -sh .gpu
