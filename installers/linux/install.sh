#!/bin/sh
# Install an unpacked Sweeplab tarball for the current user (no root needed):
# a `sweeplab` command in ~/.local/bin, a menu entry and its icon. PREFIX changes ~/.local.
# The folder stays where it is; delete the three files below and the folder to uninstall.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
prefix=${PREFIX:-$HOME/.local}
if [ ! -x "$here/sweeplab" ]; then
  echo "install.sh: $here/sweeplab is missing: run install.sh from the unpacked folder" >&2
  exit 1
fi
mkdir -p "$prefix/bin" "$prefix/share/applications" "$prefix/share/icons/hicolor/256x256/apps"
ln -sf "$here/sweeplab" "$prefix/bin/sweeplab"
cp "$here/_internal/resources/sweeplab.png" "$prefix/share/icons/hicolor/256x256/apps/sweeplab.png"
sed "s|^Exec=sweeplab$|Exec=\"$here/sweeplab\"|" "$here/sweeplab.desktop" \
  > "$prefix/share/applications/sweeplab.desktop"
echo "installed: $prefix/bin/sweeplab, $prefix/share/applications/sweeplab.desktop"
# Qt loads OpenGL and EGL from the system; they are not in the bundle.
for lib in libEGL.so.1 libGL.so.1; do
  if command -v ldconfig >/dev/null 2>&1 && ! ldconfig -p | grep -q "$lib"; then
    echo "warning: $lib is missing; install it (Debian/Ubuntu: sudo apt-get install libegl1 libgl1)" >&2
  fi
done
