//! Embeds the source version in `--version`.
//!
//! scripts/env.sh builds from a copy of the Rust sources without `.git` and passes the hash
//! of their git tree in `SUBSTRATE_CLI_GIT_COMMIT_HASH`, so the version changes exactly when
//! the Rust sources do. A plain `cargo build` in a checkout falls back to the git HEAD.
use substrate_build_script_utils::{generate_cargo_keys, rerun_if_git_head_changed};

fn main() {
	generate_cargo_keys();
	if std::env::var_os("SUBSTRATE_CLI_GIT_COMMIT_HASH").is_some() {
		println!("cargo:rerun-if-env-changed=SUBSTRATE_CLI_GIT_COMMIT_HASH");
	} else {
		rerun_if_git_head_changed();
	}
}
