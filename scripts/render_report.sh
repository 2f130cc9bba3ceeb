#!/usr/bin/env bash
# Render an HTML report to PNG in headless Chromium, with all background networking off, to check it offline.
# Usage: scripts/render_report.sh report.html out.png [WIDTH,HEIGHT]
# Install Chromium on Debian with: apt-get update && apt-get install -y chromium
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 REPORT.html OUT.png [WIDTH,HEIGHT]" >&2
  exit 2
fi
html=$(realpath "$1")
out=$(realpath -m "$2")
size=${3:-1280,2400}
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  echo "error: chromium not found; install it with: apt-get install -y chromium" >&2
  exit 2
fi
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
  --disable-component-update --disable-sync --user-data-dir="$profile" --hide-scrollbars \
  --screenshot="$out" --window-size="$size" "file://$html" >/dev/null 2>&1
test -s "$out" || { echo "error: chromium wrote no screenshot to $out" >&2; exit 1; }
echo "wrote $out" >&2
