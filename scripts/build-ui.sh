#!/usr/bin/env bash
# Build the window's front end (ui/) into ui/dist, which the app embeds at
# compile time. npm packages come from the npm registry via package-lock.json;
# nothing is fetched at run time. Then the unit tests run. `npm ci` is skipped when node_modules
# already matches the lock file.
set -euo pipefail
cd "$(dirname "$0")/../ui"

log() { printf '[ui] %s\n' "$*" >&2; }

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    log "npm ci"
    # npm ci refuses a lock written with `omit-lockfile-registry-resolved`
    # (set in some npm configs), whose other-platform optional packages lack
    # versions; `npm install --no-save` still installs the locked versions.
    if ! npm ci --no-audit --no-fund --loglevel=error >&2; then
        log "npm ci refused the lock file; npm install --no-save instead"
        npm install --no-audit --no-fund --no-save --loglevel=error >&2
    fi
    touch node_modules/.package-lock.json
fi
log "npm run build"
npm run --silent build >&2
# Unit tests (vitest + jsdom): Markdown, sanitising, the window's pure logic.
log "npm test"
npm run --silent test >&2
