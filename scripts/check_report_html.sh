#!/usr/bin/env bash
# Render a valuesim HTML report in headless Chromium, offline, and save a screenshot.
#
#   scripts/check_report_html.sh REPORT.html [SCREENSHOT.png] [HEIGHT]
#
# First fails (exit 1) when the HTML references anything outside itself: a src that is
# not a data: URI, a <link>, a <script src>, a CSS url(). Then renders the page with
# network access disabled (an unreachable proxy) in headless Chromium -- Debian package
# `chromium` (apt-get install -y chromium) -- and prints the screenshot's path. Look at it.
set -euo pipefail

html=${1:?usage: $0 REPORT.html [SCREENSHOT.png] [HEIGHT]}
shot=${2:-${html%.html}.png}
height=${3:-3000}
[[ -f "$html" ]] || { echo "error: no file $html" >&2; exit 2; }

# 1. self-contained: every src is a data: URI; no <link>, no <script src>, no CSS url() but data:
problems=$( { grep -Eo '\bsrc="[^"]*"' "$html" | grep -v '^src="data:' || true
              grep -Eo '<link\b[^>]*>' "$html" || true
              grep -Eo '<script\b[^>]*\bsrc=[^>]*>' "$html" || true
              grep -Eo 'url\([^)]*\)' "$html" | grep -Ev "^url\(['\"]?data:" || true; } | head -5)
if [[ -n "$problems" ]]; then
  echo "error: the report is not self-contained; it references:" >&2
  echo "$problems" >&2
  exit 1
fi

# 2. render offline
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[[ -n "$browser" ]] || { echo "error: chromium not found (apt-get install -y chromium)" >&2; exit 2; }

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
abs_html=$(cd "$(dirname "$html")" && pwd)/$(basename "$html")
mkdir -p "$(dirname "$shot")"
abs_shot=$(cd "$(dirname "$shot")" && pwd)/$(basename "$shot")
rm -f "$abs_shot"
timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
  --disable-component-update --disable-sync --no-first-run --disable-extensions \
  --proxy-server=127.0.0.1:9 --user-data-dir="$profile" --hide-scrollbars \
  --window-size=1280,"$height" --screenshot="$abs_shot" "file://$abs_html" >/dev/null 2>&1 || true
[[ -s "$abs_shot" ]] || { echo "error: chromium wrote no screenshot" >&2; exit 1; }
echo "$abs_shot"
