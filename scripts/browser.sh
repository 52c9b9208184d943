#!/usr/bin/env bash
# Chromium for the browser tests (Debian's package, driven by Playwright's Python API with
# executable_path=/usr/bin/chromium). Idempotent and quiet when it is already installed.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "scripts/browser.sh: chromium is missing and installing it needs root (apt-get install chromium);" \
         "the browser tests will be skipped" >&2
    exit 0
fi
echo "==> installing chromium (Debian package) for the browser tests"
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium fonts-noto-cjk >/dev/null; }; then
    echo "scripts/browser.sh: could not install chromium; the browser tests will be skipped" >&2
    exit 0
fi
echo "==> $(chromium --version 2>/dev/null || echo chromium installed)"
