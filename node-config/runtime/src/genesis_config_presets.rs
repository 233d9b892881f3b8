//! Genesis presets: `development` (one validator, Alice) and `local_testnet` (three).
//!
//! Both endow the well-known dev accounts, make Alice sudo, seat Alice, Bob and Charlie on
//! the safety council, and create a demo bring-your-own asset ([`DEMO_ASSET_ID`], symbol
//! `DCC`) with a balance for every dev account, so a task can be funded in a non-native
//! token from the first block. Both shorten the protocol periods ([`dev_periods`]) so that
//! rounds and votes finish in a demo's time.

use crate::{AccountId, AssetId, Balance, UNIT};
use alloc::{vec, vec::Vec};
use frame_support::build_struct_json_patch;
use serde_json::Value;
use sp_consensus_aura::sr25519::AuthorityId as AuraId;
use sp_consensus_grandpa::AuthorityId as GrandpaId;
use sp_genesis_builder::{PresetId, DEV_RUNTIME_PRESET, LOCAL_TESTNET_RUNTIME_PRESET};
use sp_keyring::{Ed25519Keyring, Sr25519Keyring};

/// Id of the demo bring-your-own asset created at genesis.
pub const DEMO_ASSET_ID: AssetId = 1;
/// Native balance of each endowed dev account: 1,000,000 DML.
pub const ENDOWMENT: Balance = 1_000_000 * UNIT;
/// Demo asset balance of each endowed dev account: 100,000 DCC.
pub const DEMO_ASSET_ENDOWMENT: Balance = 100_000 * UNIT;

fn dev_accounts() -> Vec<AccountId> {
	Sr25519Keyring::well_known().map(|k| k.to_account_id()).collect()
}

fn authority(k: Sr25519Keyring, g: Ed25519Keyring) -> (AuraId, GrandpaId) {
	(k.public().into(), g.public().into())
}

/// Protocol periods of the development chain, in 2 s blocks: short enough that a demo
/// federation finishes a round and a vote closes within a minute or two.
pub mod dev_periods {
	use crate::BlockNumber;
	/// 30 s of voting.
	pub const VOTING: BlockNumber = 15;
	/// 20 s for the aggregator after a round's deadline.
	pub const AGGREGATION: BlockNumber = 10;
	/// 5 minutes before an idle task may be expired.
	pub const TASK_IDLE_TIMEOUT: BlockNumber = 150;
	/// 1 minute to ratify a council suspension.
	pub const RATIFICATION: BlockNumber = 30;
	/// 40 s to reveal after a round's commitment deadline (or after its last expected
	/// commitment); a round whose commitments are all revealed closes it early. An instantly
	/// sealed dev chain may author a block per extrinsic, so the window must outlast a burst
	/// of reveals, not only the wall-clock time.
	pub const REVEAL: BlockNumber = 20;
}

fn genesis(authorities: Vec<(AuraId, GrandpaId)>, root: AccountId) -> Value {
	let accounts = dev_accounts();
	let council: Vec<AccountId> = vec![
		Sr25519Keyring::Alice.to_account_id(),
		Sr25519Keyring::Bob.to_account_id(),
		Sr25519Keyring::Charlie.to_account_id(),
	];
	build_struct_json_patch!(crate::RuntimeGenesisConfig {
		balances: pallet_balances::GenesisConfig {
			balances: accounts.iter().cloned().map(|a| (a, ENDOWMENT)).collect::<Vec<_>>(),
		},
		aura: pallet_aura::GenesisConfig {
			authorities: authorities.iter().map(|a| a.0.clone()).collect::<Vec<_>>(),
		},
		grandpa: pallet_grandpa::GenesisConfig {
			authorities: authorities.iter().map(|a| (a.1.clone(), 1)).collect::<Vec<_>>(),
		},
		sudo: pallet_sudo::GenesisConfig { key: Some(root.clone()) },
		assets: pallet_assets::GenesisConfig {
			assets: vec![(DEMO_ASSET_ID, root, false, 1)],
			metadata: vec![(DEMO_ASSET_ID, b"Demo Compute Credit".to_vec(), b"DCC".to_vec(), 12)],
			accounts: accounts
				.iter()
				.cloned()
				.map(|a| (DEMO_ASSET_ID, a, DEMO_ASSET_ENDOWMENT))
				.collect::<Vec<_>>(),
		},
		safety_council_membership: pallet_membership::GenesisConfig {
			members: council.try_into().expect("3 members fit SafetyMaxMembers"),
		},
		decentral_ml: pallet_decentralml::GenesisConfig {
			voting_period: Some(dev_periods::VOTING),
			aggregation_period: Some(dev_periods::AGGREGATION),
			task_idle_timeout: Some(dev_periods::TASK_IDLE_TIMEOUT),
			ratification_period: Some(dev_periods::RATIFICATION),
			reveal_period: Some(dev_periods::REVEAL),
		},
	})
}

/// The `development` preset: Alice alone authors and finalizes.
pub fn development_config_genesis() -> Value {
	genesis(
		vec![authority(Sr25519Keyring::Alice, Ed25519Keyring::Alice)],
		Sr25519Keyring::Alice.to_account_id(),
	)
}

/// The `local_testnet` preset: Alice, Bob and Charlie validate.
pub fn local_config_genesis() -> Value {
	genesis(
		vec![
			authority(Sr25519Keyring::Alice, Ed25519Keyring::Alice),
			authority(Sr25519Keyring::Bob, Ed25519Keyring::Bob),
			authority(Sr25519Keyring::Charlie, Ed25519Keyring::Charlie),
		],
		Sr25519Keyring::Alice.to_account_id(),
	)
}

/// The preset with the given id, as JSON bytes.
pub fn get_preset(id: &PresetId) -> Option<Vec<u8>> {
	let patch = match id.as_ref() {
		DEV_RUNTIME_PRESET => development_config_genesis(),
		LOCAL_TESTNET_RUNTIME_PRESET => local_config_genesis(),
		_ => return None,
	};
	Some(
		serde_json::to_string(&patch)
			.expect("serialization to json is expected to work. qed.")
			.into_bytes(),
	)
}

/// The ids of the presets.
pub fn preset_names() -> Vec<PresetId> {
	vec![PresetId::from(DEV_RUNTIME_PRESET), PresetId::from(LOCAL_TESTNET_RUNTIME_PRESET)]
}
