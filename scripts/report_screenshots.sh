#!/usr/bin/env bash
# The README's pictures of the report: headless Chromium over a report built by `make demo`.
#   scripts/report_screenshots.sh [RESULTS]      (default: results; writes docs/report*.png)
set -euo pipefail
results=${1:-results}
docs="$(cd "$(dirname "$0")/.." && pwd)/docs"
shot() {  # page, width, height, png
    chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size="$2,$3" \
        --virtual-time-budget=8000 --screenshot="$4" "file://$(realpath "$1")" 2>/dev/null
}
shot "$results/report/index.html" 1200 650 "$docs/report.png"
page=$(grep -l 'multi_face_pan.mp4' "$results"/report/videos/*.html | head -1)
shot "$page" 1280 1100 "$docs/report-video.png"
