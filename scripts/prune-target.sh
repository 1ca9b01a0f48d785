#!/usr/bin/env bash
# Keep a reused build cache from growing without bound. Every change to the
# workspace links new test binaries (each carries a static llama.cpp with
# debug info, ~100-300 MB) under a new hash, and the old ones stay in
# target/*/deps forever; over weeks of CI runs that fills the disk. A fresh
# clone rebuilds the workspace's own crates anyway (new file times), so
# removing their outputs costs nothing: the dependencies, llama.cpp's build
# included, are kept.
# Usage: scripts/prune-target.sh [TARGET_DIR]   (default $CARGO_TARGET_DIR)
set -euo pipefail

target="${1:-${CARGO_TARGET_DIR:-}}"
[ -n "$target" ] && [ -d "$target" ] || exit 0

before=$(du -sm "$target" 2>/dev/null | cut -f1)
for profile in "$target"/*/; do
    deps="$profile/deps"
    [ -d "$deps" ] || continue
    # Linked executables in deps are test and bin targets: only workspace
    # crates have those (dependencies leave rlibs, rmetas and proc-macro .so).
    find "$deps" -maxdepth 1 -type f -perm -u+x ! -name '*.*' -delete
    find "$deps" -maxdepth 1 -type f \( -name 'libomnidesk*' -o -name 'omnidesk*' \) -delete
    rm -rf "$profile/incremental"
    # llama-cpp-sys-2's dynamic build hard-links its lib*.so symlinks here,
    # where they dangle and make its next build fail (EEXIST).
    find "$profile" "$profile/examples" "$deps" -maxdepth 1 -xtype l -name 'lib*.so' -delete 2>/dev/null || true
done
after=$(du -sm "$target" 2>/dev/null | cut -f1)
printf '[prune] %s: %s MB -> %s MB\n' "$target" "$before" "$after" >&2
