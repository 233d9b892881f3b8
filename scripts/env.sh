# shellcheck shell=bash
# Shared environment for every DecentralML script. Source it; do not execute it.
#
# Caches live outside the clone so a kept machine reuses them across clones:
#   DECENTRALML_CACHE   (default ~/.cache/decentralml)  cargo target dir, venv cache, Go, npm
#   DECENTRALML_STATE   (default <repo>/.state)          chain and IPFS data of the dev stack

DML_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export DML_ROOT
export DECENTRALML_CACHE="${DECENTRALML_CACHE:-$HOME/.cache/decentralml}"
export DECENTRALML_STATE="${DECENTRALML_STATE:-$DML_ROOT/.state}"

# Debian's rustc 1.96 (with library sources and the wasm32v1-none target) builds
# both the node and the runtime wasm. rustup's proxies in ~/.cargo/bin come
# first on this machine's PATH, so put /usr/bin in front for our builds only.
export PATH="/usr/bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$DECENTRALML_CACHE/target}"
export CARGO_INCREMENTAL=0
# rustc >= 1.96 no longer passes --allow-undefined to wasm-ld; the runtime's
# host functions (ext_*) are imports and must stay undefined.
export WASM_BUILD_RUSTFLAGS="${WASM_BUILD_RUSTFLAGS:--C link-arg=--allow-undefined}"
# Cargo keys workspace members' artifacts by their absolute path, so builds run from one stable
# copy of the Rust sources ($DML_BUILD_SRC, refreshed file by file by scripts/sync-rust-sources)
# and a fresh clone reuses the cached pallet, runtime and node. DML_BUILD_IN_PLACE=1 builds in
# the clone itself.
if [ "${DML_BUILD_IN_PLACE:-0}" = 1 ]; then
  DML_BUILD_SRC="$DML_ROOT"
else
  DML_BUILD_SRC="$DECENTRALML_CACHE/build-src"
fi
export DML_BUILD_SRC
export WASM_BUILD_WORKSPACE_HINT="$DML_BUILD_SRC"

DML_NODE_BIN="$CARGO_TARGET_DIR/debug/node-decentralml"
export DML_NODE_BIN
export DML_VENV="${DML_VENV:-$DML_ROOT/.venv}"

dml_step_start() { DML_STEP_T0=$(date +%s); printf '==> %s\n' "$*"; }
dml_step_done() { printf '    done in %ss\n' "$(( $(date +%s) - DML_STEP_T0 ))"; }
dml_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Run cargo on the workspace (from $DML_BUILD_SRC, synced first), one build at a time.
dml_cargo() {
  mkdir -p "$DECENTRALML_CACHE"
  (
    flock 9
    if [ "$DML_BUILD_SRC" != "$DML_ROOT" ]; then
      /usr/bin/python3 "$DML_ROOT/scripts/sync-rust-sources" "$DML_ROOT" "$DML_BUILD_SRC"
      # `--version` names the git tree of the Rust sources (the copy has no .git), without
      # their documentation, so editing a README does not rebuild the node.
      local tree
      if tree=$(git -C "$DML_ROOT" ls-tree -r HEAD -- Cargo.toml Cargo.lock rustfmt.toml \
          pallet-decentralml node-config 2>/dev/null | grep -v '\.md$' | git hash-object --stdin); then
        export SUBSTRATE_CLI_GIT_COMMIT_HASH="${tree:0:11}"
      fi
    fi
    cd "$DML_BUILD_SRC" && cargo "$@"
  ) 9>"$DECENTRALML_CACHE/cargo.lock"
}
