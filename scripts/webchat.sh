#!/usr/bin/env bash
# Front-end libraries of the web app, served locally (no CDN): the rasa-webchat widget and chart.js
# from the npm registry, pinned by bot/web/package-lock.json. Installs them into bot/web/node_modules
# (not committed) and copies the browser bundles into bot/web/static/vendor/ (not committed either).
# Idempotent and quiet when everything is already in place.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WEB="$ROOT/bot/web"
VENDOR="$WEB/static/vendor"
STAMP="$WEB/node_modules/.installed-lock.sha256"
want="$(sha256sum "$WEB/package-lock.json" | cut -d' ' -f1)"

if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$want" ]; then
    if ! command -v npm >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "==> installing npm (Debian package) for the web front-end libraries"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm >/dev/null || true
    fi
    if ! command -v npm >/dev/null 2>&1; then
        echo "error: npm is needed for the web chat page (Debian: apt-get install -y npm)" >&2
        exit 1
    fi
    echo "==> installing the web front-end libraries (npm ci in bot/web)"
    # --ignore-scripts: nothing from the registry runs here; we only copy prebuilt bundles.
    (cd "$WEB" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
    echo "$want" > "$STAMP"
fi

mkdir -p "$VENDOR"
copy() {  # copy SRC DEST [filter]: only when the source changed
    local src="$WEB/node_modules/$1" dest="$VENDOR/$2"
    if [ ! -f "$dest" ] || [ "$src" -nt "$dest" ] || [ "$STAMP" -nt "$dest" ]; then
        if [ "${3:-}" = strip-fonts ]; then
            # The widget's CSS imports the Inter font from a font CDN: residents' browsers must not
            # be sent elsewhere, so the import is removed (the page sets a local font stack).
            sed -e 's#@import url(https://fonts.googleapis.com/css?family=Inter:400,500,700&display=swap);##g' \
                "$src" > "$dest.tmp"
            if grep -q 'fonts.googleapis.com' "$dest.tmp"; then
                echo "error: $2 still refers to a font CDN after filtering; check the rasa-webchat version" >&2
                rm -f "$dest.tmp"; exit 1
            fi
            mv "$dest.tmp" "$dest"
        else
            cp "$src" "$dest"
        fi
    fi
}
copy rasa-webchat/lib/index.js rasa-webchat.js strip-fonts
copy chart.js/dist/chart.umd.js chart.umd.js
