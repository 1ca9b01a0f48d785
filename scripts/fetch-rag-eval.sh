#!/usr/bin/env bash
# Fetch the Debian documentation packages behind the hard retrieval evaluation
# set (assets/rag-eval-debian/) and build its corpus folder.
#
#   scripts/fetch-rag-eval.sh            # prints the corpus folder as its last line
#   omnidesk rag eval --qa assets/rag-eval-debian/qa.jsonl --docs "$(scripts/fetch-rag-eval.sh | tail -n1)"
#
# Packages are fetched with `apt-get download` (no installation) and unpacked
# with `dpkg -x` into $OMNIDESK_CACHE/rag-eval/pkgs/<package>/; the pages listed
# in assets/rag-eval-debian/pages.txt (HTML only, no images, CSS or scripts)
# are copied to $OMNIDESK_CACHE/rag-eval/docs/<corpus path>.
# OMNIDESK_CACHE defaults to ~/.cache/omnidesk.
#
# A second run with everything in place only checks a stamp and exits. To take
# a newer package from the mirror, delete its folder under pkgs/ and run again;
# when a listed page no longer exists in a package, the run fails and lists
# every missing page (the corpus folder is then left as it was).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pages="$here/../assets/rag-eval-debian/pages.txt"
cache="${OMNIDESK_CACHE:-$HOME/.cache/omnidesk}/rag-eval"
pkgs="$cache/pkgs"
docs="$cache/docs"
stamp="$cache/docs.stamp"   # kept outside docs/ so that the indexer never sees it

log() { echo "fetch-rag-eval: $*" >&2; }
die() { log "error: $*"; exit 1; }

[[ -f "$pages" ]] || die "page list not found: $pages"
for tool in apt-get dpkg sha256sum; do
    command -v "$tool" >/dev/null || die "$tool is required (a Debian or Ubuntu system)"
done

# Listed pages, as "corpus-path package path-in-package" triples.
mapfile -t entries < <(grep -Ev '^[[:space:]]*(#|$)' "$pages")
((${#entries[@]} > 0)) || die "no pages listed in $pages"
mapfile -t packages < <(printf '%s\n' "${entries[@]}" | awk '{print $2}' | sort -u)

# The stamp: the page list plus the unpacked package versions.
stamp_of() {
    {
        sha256sum <"$pages"
        for p in "${packages[@]}"; do
            cat "$pkgs/$p/.omnidesk-deb" 2>/dev/null || echo "$p missing"
        done
    } | sha256sum | cut -d' ' -f1
}

# Fast path: everything is already there.
if [[ -d "$docs" && -f "$stamp" && "$(cat "$stamp")" == "$(stamp_of)" ]]; then
    complete=1
    for e in "${entries[@]}"; do
        read -r rel _ _ <<<"$e"
        [[ -f "$docs/$rel" ]] || { complete=0; break; }
    done
    if ((complete)); then
        log "corpus up to date (${#entries[@]} pages)"
        echo "$docs"
        exit 0
    fi
fi

mkdir -p "$pkgs"

# Download and unpack every package not unpacked yet.
for p in "${packages[@]}"; do
    if [[ -f "$pkgs/$p/.omnidesk-deb" ]]; then
        continue
    fi
    tmp=$(mktemp -d "$pkgs/.download-$p.XXXXXX")
    log "downloading $p"
    if ! (cd "$tmp" && apt-get download "$p" >&2); then
        rm -rf "$tmp"
        die "apt-get download $p failed (is the package index current? try: apt-get update)"
    fi
    deb=$(find "$tmp" -maxdepth 1 -name "${p}_*.deb" -print -quit)
    [[ -n "$deb" ]] || { rm -rf "$tmp"; die "apt-get download $p left no .deb"; }
    log "unpacking $(basename "$deb")"
    mkdir "$tmp/root"
    dpkg -x "$deb" "$tmp/root"
    basename "$deb" >"$tmp/root/.omnidesk-deb"
    rm -rf "$pkgs/$p"
    mv "$tmp/root" "$pkgs/$p"
    rm -rf "$tmp"
done

# Check that every listed page exists before touching the corpus folder.
missing=()
for e in "${entries[@]}"; do
    read -r rel p src extra <<<"$e"
    [[ -n "$src" && -z "${extra:-}" ]] || die "malformed line in $pages: $e"
    case "$rel" in
        *.html) ;;
        *) die "not an .html page: $rel" ;;
    esac
    [[ -f "$pkgs/$p/$src" ]] || missing+=("$rel ($p: $src)")
done
if ((${#missing[@]} > 0)); then
    log "${#missing[@]} listed page(s) are missing from the unpacked packages:"
    for m in "${missing[@]}"; do log "  $m"; done
    for p in "${packages[@]}"; do log "  unpacked: $(cat "$pkgs/$p/.omnidesk-deb")"; done
    die "update assets/rag-eval-debian/pages.txt (and qa.jsonl) for the new package versions"
fi

# Build the corpus in a fresh folder, then swap it in.
new=$(mktemp -d "$cache/.docs.XXXXXX")
for e in "${entries[@]}"; do
    read -r rel p src <<<"$e"
    mkdir -p "$new/$(dirname "$rel")"
    cp -L "$pkgs/$p/$src" "$new/$rel"
done
chmod 755 "$new"
rm -rf "$docs" "$stamp"
mv "$new" "$docs"
stamp_of >"$stamp"
log "corpus built: ${#entries[@]} pages"
echo "$docs"
