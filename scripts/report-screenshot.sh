#!/usr/bin/env bash
# Renders a report.html to a PNG beside it with headless Chromium, so a person can look at it.
#   scripts/report-screenshot.sh REPORT.html [OUT.png]
# Chromium is not installed by default (about 300 MB); install it with `apt-get install chromium`.
set -euo pipefail

html=${1:?usage: scripts/report-screenshot.sh REPORT.html [OUT.png]}
png=${2:-${html%.html}.png}
if [ ! -f "$html" ]; then
  echo "error: no report at $html; write one with: pipe report latest --out DIR" >&2
  exit 2
fi
browser=""
for candidate in chromium chromium-browser google-chrome; do
  if command -v "$candidate" >/dev/null; then browser=$candidate; break; fi
done
if [ -z "$browser" ]; then
  echo "error: no headless Chromium on PATH; install it (as root): apt-get install -y chromium" >&2
  exit 2
fi
# Tall enough for every chart; no network is needed (the report is self-contained).
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,6000 \
  --screenshot="$png" "file://$(realpath "$html")" >/dev/null 2>&1
echo "wrote $png"
