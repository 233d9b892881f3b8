//! Chain specifications built from the runtime's genesis presets.
//!
//! Building a preset's genesis storage runs the runtime wasm in executors that Substrate
//! creates without a compiled-runtime cache, so every start would compile the 7 MB runtime
//! twice (about 10 s on 2 cores). [`cached_raw`] keeps the resulting raw chain spec in the
//! node's cache, keyed by the node build and the spec's identity, so later starts of the
//! same chain read it instead (bench/node_startup.py measures both).

use decentralml_runtime::{TOKEN_DECIMALS, TOKEN_SYMBOL, WASM_BINARY};
use sc_service::{ChainSpec as _, ChainType};
use sp_genesis_builder::{DEV_RUNTIME_PRESET, LOCAL_TESTNET_RUNTIME_PRESET};
use std::path::Path;

/// The chain specification type of this node.
pub type ChainSpec = sc_service::GenericChainSpec;

fn properties() -> sc_service::Properties {
	let mut p = sc_service::Properties::new();
	p.insert("tokenSymbol".into(), TOKEN_SYMBOL.into());
	p.insert("tokenDecimals".into(), TOKEN_DECIMALS.into());
	p.insert("ss58Format".into(), 42.into());
	p
}

fn wasm() -> Result<&'static [u8], String> {
	WASM_BINARY.ok_or_else(|| {
		"the runtime wasm is not embedded in this node: it was built with SKIP_WASM_BUILD; \
		 rebuild without it (scripts/build-node)"
			.to_string()
	})
}

/// `--dev`: one validator (Alice), 2 s blocks.
pub fn development_config() -> Result<ChainSpec, String> {
	Ok(ChainSpec::builder(wasm()?, None)
		.with_name("DecentralML Development")
		.with_id("decentralml_dev")
		.with_chain_type(ChainType::Development)
		.with_genesis_config_preset_name(DEV_RUNTIME_PRESET)
		.with_properties(properties())
		.build())
}

/// `--chain local`: three validators (Alice, Bob, Charlie) on one machine.
pub fn local_testnet_config() -> Result<ChainSpec, String> {
	Ok(ChainSpec::builder(wasm()?, None)
		.with_name("DecentralML Local Testnet")
		.with_id("decentralml_local_testnet")
		.with_chain_type(ChainType::Local)
		.with_genesis_config_preset_name(LOCAL_TESTNET_RUNTIME_PRESET)
		.with_properties(properties())
		.build())
}

/// Bumped whenever the spec functions above change in a way the key below cannot see.
const SPEC_CACHE_VERSION: &str = "1";

/// `spec` as a raw chain spec read from `cache_dir`, or built (running the genesis
/// builder) and stored there for the next start. Any cache problem falls back to `spec`
/// built from its preset: the cache only ever saves time.
pub fn cached_raw(spec: ChainSpec, preset: &str, cache_dir: Option<&Path>) -> ChainSpec {
	let (Some(dir), Ok(code)) = (cache_dir, wasm()) else {
		return spec;
	};
	let identity = format!(
		"{SPEC_CACHE_VERSION}/{}/{}/{preset}/{:?}/{}",
		spec.name(),
		spec.id(),
		spec.chain_type(),
		serde_json::Value::Object(spec.properties()),
	);
	// The node binary embeds the runtime: its size and modification time change with every
	// build, and reading them costs nothing (hashing the 7 MB runtime in an unoptimised
	// node costs seconds).
	let Some(exe) = std::env::current_exe().ok().and_then(|p| std::fs::metadata(p).ok()) else {
		return spec;
	};
	let built = exe
		.modified()
		.ok()
		.and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
		.map_or(0, |d| d.as_nanos());
	let mut key = format!("{}/{built}/{}/", exe.len(), code.len()).into_bytes();
	key.extend_from_slice(identity.as_bytes());
	let hash = sp_io::hashing::blake2_128(&key);
	let file =
		dir.join(format!("{}-{}.json", spec.id(), sp_core::hexdisplay::HexDisplay::from(&hash)));
	if file.is_file() {
		match ChainSpec::from_json_file(file.clone()) {
			Ok(cached) => return cached,
			Err(e) => {
				log::warn!("ignoring the cached chain spec {} ({e}); rebuilding it", file.display())
			},
		}
	}
	let raw = match spec.as_json(true) {
		Ok(raw) => raw,
		Err(e) => {
			log::warn!("cannot build the raw chain spec to cache ({e})");
			return spec;
		},
	};
	let tmp = dir.join(format!(".{}.{}.tmp", spec.id(), std::process::id()));
	let stored = std::fs::create_dir_all(dir)
		.and_then(|()| std::fs::write(&tmp, raw.as_bytes()))
		.and_then(|()| std::fs::rename(&tmp, &file));
	if let Err(e) = stored {
		log::warn!(
			"cannot cache the chain spec in {} ({e}); later starts stay slower",
			dir.display()
		);
		let _ = std::fs::remove_file(&tmp);
	}
	ChainSpec::from_json_bytes(raw.into_bytes()).unwrap_or(spec)
}
