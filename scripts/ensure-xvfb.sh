#!/usr/bin/env bash
# What `make screenshots` needs to run the app in a real X server (Xvfb):
# Qt's xcb platform plugin and its libraries. As root, install what is missing;
# otherwise stop and name the packages.
set -euo pipefail
mapfile -t pkgs < <(grep -v '^#' "$(dirname "$0")/x-packages.txt")
missing=()
for pkg in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "make screenshots needs these Debian packages, which are missing: ${missing[*]}" >&2
  echo "Install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "Installing Debian packages for screenshots: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
