#!/usr/bin/env bash
# Installs Mesa's lavapipe (Vulkan on the CPU) from bookworm-backports, so Dawn finds a WebGPU adapter on a machine
# with no GPU. Debian 12's own Mesa 22.3 is rejected by Dawn ("shaderUniform*ArrayDynamicIndexing required");
# Mesa 25 from backports works. Nothing under /etc is edited: apt reads a private sources file and list dir.
# Idempotent: does nothing when a lavapipe of Mesa >= 23 is already installed.
set -euo pipefail

installed_mesa=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
if [ -n "$installed_mesa" ] && dpkg --compare-versions "$installed_mesa" ge 23; then
  echo "lavapipe: mesa-vulkan-drivers $installed_mesa already installed"
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  echo "lavapipe: installing Mesa from bookworm-backports needs root (apt-get); run: sudo $0" >&2
  exit 1
fi

state=${TMPDIR:-/tmp}/webtrainer-apt
mkdir -p "$state/lists/partial"
uris=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
uris=${uris:-http://deb.debian.org/debian}
cat >"$state/backports.sources" <<SRC
Types: deb
URIs: $uris
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC

apt_opts=(-o "Dir::Etc::sourcelist=$state/backports.sources" -o "Dir::Etc::sourceparts=/etc/apt/sources.list.d"
  -o "Dir::State::Lists=$state/lists")
echo "lavapipe: installing mesa-vulkan-drivers and libvulkan1 from bookworm-backports (software Vulkan for WebGPU)"
apt-get "${apt_opts[@]}" update -qq
DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends \
  -t bookworm-backports mesa-vulkan-drivers libvulkan1
echo "lavapipe: installed mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)"
