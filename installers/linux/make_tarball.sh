#!/usr/bin/env bash
# Pack the Linux bundle (dist/sweeplab/, from `make dist`) as
# dist/sweeplab-<version>-linux-<arch>.tar.gz: the folder, the menu entry and install.sh.
# An AppImage would need appimagetool, which is not available offline; a tarball is enough.
set -euo pipefail
cd "$(dirname "$0")/../.."

bundle=dist/sweeplab
if [ ! -x "$bundle/sweeplab" ]; then
  echo "make_tarball.sh: $bundle/sweeplab is missing: run 'make dist' first" >&2
  exit 1
fi
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml | head -n 1)
if [ -z "$version" ]; then
  echo "make_tarball.sh: no 'version = \"...\"' line in pyproject.toml" >&2
  exit 1
fi
name="sweeplab-$version-linux-$(uname -m)"
tar -czf "dist/$name.tar.gz" \
  --transform "s,^$bundle,$name," --transform "s,^installers/linux,$name," \
  "$bundle" installers/linux/sweeplab.desktop installers/linux/install.sh
echo "wrote dist/$name.tar.gz ($(du -h "dist/$name.tar.gz" | cut -f1))"
