#!/bin/bash
# A PNG of a work dir's report.html, taken with headless Chromium (apt-get install -y chromium).
# Usage: bash scripts/report_screenshot.sh WORKDIR OUT.png [WIDTHxHEIGHT]
set -euo pipefail
work=$(realpath "${1:?usage: report_screenshot.sh WORKDIR OUT.png [WIDTHxHEIGHT]}")
out=$(realpath -m "${2:?usage: report_screenshot.sh WORKDIR OUT.png [WIDTHxHEIGHT]}")
size=${3:-1300x1900}
[ -f "$work/report.html" ] || { echo "no report.html in $work: run vlmrun eval or vlmrun report first" >&2; exit 2; }
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[ -n "$browser" ] || { echo "no Chromium found: apt-get install -y chromium" >&2; exit 2; }
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size="${size/x/,}" \
  --screenshot="$out" "file://$work/report.html" 2>/dev/null
echo "wrote $out"
