#!/usr/bin/env bash
# Make sure the Debian packages the test suite drives for real are installed.
# As root, install what is missing; otherwise stop and name the package.
set -euo pipefail

# "command to look for|Debian package"
needs=(
  "/usr/sbin/sshd|openssh-server"
  "ssh-keygen|openssh-client"
  "/usr/sbin/slurmctld|slurm-wlm"
  "/usr/sbin/munged|munge"
)
# PostgreSQL's server binaries live under a versioned directory.
pg_ok() { compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; }

missing=()
for entry in "${needs[@]}"; do
  cmd=${entry%%|*}; pkg=${entry##*|}
  if ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "$cmd" ]; then
    missing+=("$pkg")
  fi
done
pg_ok || missing+=("postgresql")
# The desktop journeys (tests/journeys/test_journey_desktop.py): an X server, a window
# manager, xdotool, and the libraries Qt's xcb platform needs (scripts/x-packages.txt).
mapfile -t x_pkgs < <(grep -v '^#' "$(dirname "$0")/x-packages.txt")
for pkg in "${x_pkgs[@]}" openbox xdotool; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "make test needs these Debian packages, which are missing: ${missing[*]}" >&2
  echo "Install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "Installing Debian packages the tests need: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts services on install; the tests start their own.
service postgresql stop >/dev/null 2>&1 || true
for svc in slurmctld slurmd munge; do service "$svc" stop >/dev/null 2>&1 || true; done
