#!/usr/bin/env bash
# Refreshes the pictures of the web app in docs/screenshots/ (1280×800
# PNGs): runs the browser tests (tests/tests/web*.rs) with
# FW_WEB_SCREENSHOTS set, so each test saves what it checked, then keeps
# the main pages. Not part of scripts/test.sh. Needs Debian's chromium and
# chromium-driver (scripts/test.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."

# The pages kept, as the tests name them.
PAGES=(login accounts account-card pipeline-board calendar-follow-up calendar-team report-pipeline processes process-monitor admin-users admin-policy pipeline-board-hu)

shots="$(mktemp -d)"
trap 'rm -rf "$shots"' EXIT
FW_WEB_SCREENSHOTS="$shots" cargo test --workspace --locked --test e2e -- web:: web_processes:: web_admin::the_administration_pages_in_a_browser web_i18n::

mkdir -p docs/screenshots
for page in "${PAGES[@]}"; do
  if ! [ -s "$shots/$page.png" ]; then
    echo "no picture of $page: did the test that takes it run?" >&2
    exit 1
  fi
  cp "$shots/$page.png" "docs/screenshots/$page.png"
done
echo "== docs/screenshots:"
ls -l docs/screenshots
