//! A test runtime with the pallet, pallet-balances and pallet-assets.

use crate::{self as pallet_decentralml, types::ProtocolParams};
use frame_support::{
	derive_impl, ord_parameter_types, parameter_types,
	traits::{AsEnsureOriginWithArg, ConstU32, ConstU64, Hooks, VariantCountOf},
	PalletId,
};
use frame_system::{EnsureRoot, EnsureSigned, EnsureSignedBy};
use sp_runtime::{BuildStorage, Perbill};

type Block = frame_system::mocking::MockBlock<Test>;
pub type Balance = u64;
/// u128, so that the pallet's per-task sub-accounts (16 bytes) do not collide.
pub type AccountId = u128;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
		Assets: pallet_assets,
		DecentralMl: pallet_decentralml,
	}
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
	type AccountId = AccountId;
	type Lookup = sp_runtime::traits::IdentityLookup<AccountId>;
	type AccountData = pallet_balances::AccountData<Balance>;
}

#[derive_impl(pallet_balances::config_preludes::TestDefaultConfig)]
impl pallet_balances::Config for Test {
	type AccountStore = System;
	type Balance = Balance;
	type RuntimeHoldReason = RuntimeHoldReason;
	type RuntimeFreezeReason = RuntimeFreezeReason;
	type FreezeIdentifier = RuntimeFreezeReason;
	type MaxFreezes = VariantCountOf<RuntimeFreezeReason>;
}

#[derive_impl(pallet_assets::config_preludes::TestDefaultConfig)]
impl pallet_assets::Config for Test {
	type Balance = Balance;
	type Currency = Balances;
	type CreateOrigin = AsEnsureOriginWithArg<EnsureSigned<AccountId>>;
	type ForceOrigin = EnsureRoot<AccountId>;
	type Freezer = ();
	type Holder = ();
}

/// The safety council member in tests.
pub const COUNCIL: AccountId = 99;
/// A pallet-assets asset with minimum balance 1.
pub const ASSET: u32 = 7;
/// A pallet-assets asset with minimum balance 50 (for payout edge cases).
pub const DUSTY_ASSET: u32 = 8;

ord_parameter_types! {
	pub const Council: AccountId = COUNCIL;
}

parameter_types! {
	pub const ModelDeposit: Balance = 100;
	pub const DecentralMlPalletId: PalletId = PalletId(*b"py/dcnml");
	pub const DefaultParams: ProtocolParams<Balance, u64> = ProtocolParams {
		aggregator_fee: Perbill::from_percent(10),
		non_submit_slash: Perbill::from_percent(20),
		aggregator_bond: 50,
		challenge_bond: 40,
		proposal_deposit: 30,
		min_trainer_stake: 10,
		voting_period: 10,
		aggregation_period: 5,
		task_idle_timeout: 20,
		ratification_period: 15,
		standard_quorum: Perbill::from_percent(1),
		standard_approval: Perbill::from_percent(50),
		safety_quorum: Perbill::from_percent(2),
		safety_approval: Perbill::from_parts(666_666_667),
		reveal_period: 3,
		verifier_bond: 25,
		attestation_threshold: 2,
	};
}

impl pallet_decentralml::Config for Test {
	type RuntimeEvent = RuntimeEvent;
	type NativeBalance = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type RuntimeFreezeReason = RuntimeFreezeReason;
	type AssetId = u32;
	type Assets = Assets;
	type PalletId = DecentralMlPalletId;
	type SafetyOrigin = EnsureSignedBy<Council, AccountId>;
	type ModelDeposit = ModelDeposit;
	type MaxNameLen = ConstU32<64>;
	type MaxCidLen = ConstU32<100>;
	type MaxTrainersPerTask = ConstU32<8>;
	type MaxVerifiersPerTask = ConstU32<3>;
	type MaxRoundsPerTask = ConstU32<10>;
	type MaxVotesPerAccount = ConstU32<4>;
	type MaxLapsesPerBlock = ConstU32<2>;
	type VoteLockingPeriod = ConstU64<4>;
	type DefaultParams = DefaultParams;
	type WeightInfo = ();
}

/// Genesis: accounts `1..=last` start with 10_000 native and 10_000 of both `ASSET` and
/// `DUSTY_ASSET`; account 50 with 50 native (less than a deposit); the council member with 10.
pub fn genesis_storage_for(last: AccountId) -> sp_runtime::Storage {
	let mut storage = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	let mut balances: Vec<(AccountId, Balance)> = (1..=last).map(|a| (a, 10_000)).collect();
	balances.push((50, 50));
	balances.push((COUNCIL, 10));
	pallet_balances::GenesisConfig::<Test> { balances, ..Default::default() }
		.assimilate_storage(&mut storage)
		.unwrap();
	pallet_assets::GenesisConfig::<Test> {
		assets: vec![(ASSET, 1, false, 1), (DUSTY_ASSET, 1, false, 50)],
		metadata: vec![],
		accounts: (1..=last)
			.flat_map(|a| [(ASSET, a, 10_000), (DUSTY_ASSET, a, 10_000)])
			.collect(),
		next_asset_id: None,
		reserves: vec![],
	}
	.assimilate_storage(&mut storage)
	.unwrap();
	storage
}

/// The unit tests' genesis: accounts 1..=20 funded (see [`genesis_storage_for`]).
pub fn genesis_storage() -> sp_runtime::Storage {
	genesis_storage_for(20)
}

/// The mock's externalities at block 1.
pub fn new_test_ext() -> sp_io::TestExternalities {
	let mut ext: sp_io::TestExternalities = genesis_storage().into();
	ext.execute_with(|| System::set_block_number(1));
	ext
}

/// Run `test` and then check the pallet's invariants.
pub fn build_and_execute(test: impl FnOnce()) {
	new_test_ext().execute_with(|| {
		test();
		DecentralMl::do_try_state().expect("pallet invariants hold");
	});
}

/// Advance to block `n`, running the pallet's `on_initialize` on each block.
pub fn run_to_block(n: u64) {
	while System::block_number() < n {
		let next = System::block_number() + 1;
		System::set_block_number(next);
		DecentralMl::on_initialize(next);
	}
}
