#!/usr/bin/env bash
# System packages the test suite needs beyond Python: Chromium and its driver for the browser tests
# (the HTML report and the web app). Installs only what is missing; run as root (CI does).
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
