#!/usr/bin/env bash
# Debian's Chromium for the browser tests (Playwright drives /usr/bin/chromium; it cannot
# download a browser of its own on these machines). Best effort: without it the browser
# tests are skipped with a reason, everything else still runs.
set -u
command -v chromium >/dev/null && exit 0
if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo -n"; else
    echo "install_chromium: not root and no sudo; browser tests will be skipped" >&2; exit 0; fi
command -v apt-get >/dev/null || { echo "install_chromium: no apt-get; browser tests will be skipped" >&2; exit 0; }
$SUDO apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 \
  || { $SUDO apt-get update -q >/dev/null 2>&1 && $SUDO apt-get install -y -q chromium chromium-driver >/dev/null 2>&1; } \
  || echo "install_chromium: apt-get failed; browser tests will be skipped" >&2
exit 0
