//! Configuration of every pallet in the runtime.

use crate::*;
use frame_support::{
	derive_impl, parameter_types,
	traits::{AsEnsureOriginWithArg, ConstBool, ConstU128, ConstU32, ConstU64, ConstU8, VariantCountOf},
	PalletId,
	weights::{
		constants::{RocksDbWeight, WEIGHT_REF_TIME_PER_SECOND},
		IdentityFee, Weight,
	},
};
use frame_support::dispatch::DispatchClass;
use frame_system::{limits::{BlockLength, BlockWeights}, EnsureRoot, EnsureSigned};
use pallet_transaction_payment::{ConstFeeMultiplier, FungibleAdapter, Multiplier};
use sp_consensus_aura::sr25519::AuthorityId as AuraId;
use frame_support::traits::EitherOfDiverse;
use pallet_decentralml::types::ProtocolParams;
use sp_runtime::{traits::One, Perbill};

const NORMAL_DISPATCH_RATIO: Perbill = Perbill::from_percent(75);

parameter_types! {
	pub const BlockHashCount: BlockNumber = 2400;
	pub const Version: RuntimeVersion = VERSION;
	/// Two thirds of the 2 s block may be spent on execution.
	pub RuntimeBlockWeights: BlockWeights = BlockWeights::with_sensible_defaults(
		Weight::from_parts(WEIGHT_REF_TIME_PER_SECOND * 4 / 3, u64::MAX),
		NORMAL_DISPATCH_RATIO,
	);
	pub RuntimeBlockLength: BlockLength = BlockLength::builder()
		.max_length(5 * 1024 * 1024)
		.modify_max_length_for_class(DispatchClass::Normal, |max| *max = NORMAL_DISPATCH_RATIO * *max)
		.build();
	pub const SS58Prefix: u16 = 42;
}

#[derive_impl(frame_system::config_preludes::SolochainDefaultConfig)]
impl frame_system::Config for Runtime {
	type Block = Block;
	type BlockWeights = RuntimeBlockWeights;
	type BlockLength = RuntimeBlockLength;
	type AccountId = AccountId;
	type Nonce = Nonce;
	type Hash = Hash;
	type BlockHashCount = BlockHashCount;
	type DbWeight = RocksDbWeight;
	type Version = Version;
	type AccountData = pallet_balances::AccountData<Balance>;
	type SS58Prefix = SS58Prefix;
	type MaxConsumers = ConstU32<16>;
}

impl pallet_aura::Config for Runtime {
	type AuthorityId = AuraId;
	type DisabledValidators = ();
	type MaxAuthorities = ConstU32<32>;
	type AllowMultipleBlocksPerSlot = ConstBool<false>;
	type SlotDuration = pallet_aura::MinimumPeriodTimesTwo<Runtime>;
}

impl pallet_grandpa::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type WeightInfo = ();
	type MaxAuthorities = ConstU32<32>;
	type MaxNominators = ConstU32<0>;
	type MaxSetIdSessionEntries = ConstU64<0>;
	type KeyOwnerProof = sp_core::Void;
	type EquivocationReportSystem = ();
}

impl pallet_timestamp::Config for Runtime {
	type Moment = u64;
	type OnTimestampSet = Aura;
	type MinimumPeriod = ConstU64<{ SLOT_DURATION / 2 }>;
	type WeightInfo = ();
}

impl pallet_balances::Config for Runtime {
	type MaxLocks = ConstU32<50>;
	type MaxReserves = ConstU32<50>;
	type ReserveIdentifier = [u8; 8];
	type Balance = Balance;
	type RuntimeEvent = RuntimeEvent;
	type DustRemoval = ();
	type ExistentialDeposit = ConstU128<EXISTENTIAL_DEPOSIT>;
	type AccountStore = System;
	type WeightInfo = pallet_balances::weights::SubstrateWeight<Runtime>;
	type FreezeIdentifier = RuntimeFreezeReason;
	type MaxFreezes = VariantCountOf<RuntimeFreezeReason>;
	type RuntimeHoldReason = RuntimeHoldReason;
	type RuntimeFreezeReason = RuntimeFreezeReason;
	type DoneSlashHandler = ();
}

parameter_types! {
	pub FeeMultiplier: Multiplier = Multiplier::one();
}

impl pallet_transaction_payment::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type OnChargeTransaction = FungibleAdapter<Balances, ()>;
	type OperationalFeeMultiplier = ConstU8<5>;
	type WeightToFee = IdentityFee<Balance>;
	type LengthToFee = IdentityFee<Balance>;
	type FeeMultiplierUpdate = ConstFeeMultiplier<FeeMultiplier>;
	type WeightInfo = pallet_transaction_payment::weights::SubstrateWeight<Runtime>;
}

impl pallet_sudo::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type RuntimeCall = RuntimeCall;
	type WeightInfo = pallet_sudo::weights::SubstrateWeight<Runtime>;
}

parameter_types! {
	/// Reserved from whoever creates an asset (as on Asset Hub: creation is permissionless
	/// and paid for by a deposit).
	pub const AssetDeposit: Balance = 10 * UNIT;
	/// Reserved for each account holding a non-sufficient asset.
	pub const AssetAccountDeposit: Balance = 10 * MILLI_UNIT;
	pub const MetadataDepositBase: Balance = UNIT;
	pub const MetadataDepositPerByte: Balance = 10 * MILLI_UNIT;
	pub const ApprovalDeposit: Balance = 10 * MILLI_UNIT;
}

impl pallet_assets::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type Balance = Balance;
	type RemoveItemsLimit = ConstU32<1000>;
	type AssetId = AssetId;
	type AssetIdParameter = codec::Compact<AssetId>;
	type ReserveData = ();
	type Currency = Balances;
	type CreateOrigin = AsEnsureOriginWithArg<EnsureSigned<AccountId>>;
	type ForceOrigin = EnsureRoot<AccountId>;
	type AssetDeposit = AssetDeposit;
	type AssetAccountDeposit = AssetAccountDeposit;
	type MetadataDepositBase = MetadataDepositBase;
	type MetadataDepositPerByte = MetadataDepositPerByte;
	type ApprovalDeposit = ApprovalDeposit;
	type StringLimit = ConstU32<50>;
	type Freezer = ();
	type Holder = ();
	type Extra = ();
	type CallbackHandle = ();
	type AssetIdAllocator = ();
	type WeightInfo = pallet_assets::weights::SubstrateWeight<Runtime>;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = ();
}

parameter_types! {
	/// How long a safety council motion stays open.
	pub const SafetyMotionDuration: BlockNumber = 5 * MINUTES;
	pub const SafetyMaxProposals: u32 = 100;
	pub const SafetyMaxMembers: u32 = 16;
	pub SafetyMaxProposalWeight: Weight = Perbill::from_percent(50) * RuntimeBlockWeights::get().max_block;
}

/// The safety council: a small collective that can act at once on unsafe models.
type SafetyCouncilInstance = pallet_collective::Instance1;
impl pallet_collective::Config<SafetyCouncilInstance> for Runtime {
	type RuntimeOrigin = RuntimeOrigin;
	type Proposal = RuntimeCall;
	type RuntimeEvent = RuntimeEvent;
	type MotionDuration = SafetyMotionDuration;
	type MaxProposals = SafetyMaxProposals;
	type MaxMembers = SafetyMaxMembers;
	type DefaultVote = pallet_collective::PrimeDefaultVote;
	type WeightInfo = pallet_collective::weights::SubstrateWeight<Runtime>;
	type SetMembersOrigin = EnsureRoot<AccountId>;
	type MaxProposalWeight = SafetyMaxProposalWeight;
	type DisapproveOrigin = EnsureRoot<AccountId>;
	type KillOrigin = EnsureRoot<AccountId>;
	type Consideration = ();
}

/// Who sits on the safety council. Root (sudo on dev chains) manages it until on-chain
/// governance takes over.
impl pallet_membership::Config<pallet_membership::Instance1> for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type AddOrigin = EnsureRoot<AccountId>;
	type RemoveOrigin = EnsureRoot<AccountId>;
	type SwapOrigin = EnsureRoot<AccountId>;
	type ResetOrigin = EnsureRoot<AccountId>;
	type PrimeOrigin = EnsureRoot<AccountId>;
	type MembershipInitialized = SafetyCouncil;
	type MembershipChanged = SafetyCouncil;
	type MaxMembers = SafetyMaxMembers;
	type WeightInfo = pallet_membership::weights::SubstrateWeight<Runtime>;
}

parameter_types! {
	/// Held from a model's owner while the model is not retired.
	pub const ModelDeposit: Balance = UNIT;
	/// Derives the account holding asset reward pools and asset stakes.
	pub const DecentralMlPalletId: PalletId = PalletId(*b"py/dcnml");
	/// One conviction lock period: votes lock 1, 2, 4 .. 32 of these after voting ends.
	pub const DecentralMlVoteLockingPeriod: BlockNumber = 10 * MINUTES;
	/// Protocol parameters until governance changes them (stored on chain afterwards).
	pub const DecentralMlDefaultParams: ProtocolParams<Balance, BlockNumber> = ProtocolParams {
		aggregator_fee: Perbill::from_percent(10),
		non_submit_slash: Perbill::from_percent(10),
		aggregator_bond: 10 * UNIT,
		challenge_bond: 5 * UNIT,
		proposal_deposit: UNIT,
		min_trainer_stake: 100 * MILLI_UNIT,
		voting_period: 5 * MINUTES,
		aggregation_period: 2 * MINUTES,
		task_idle_timeout: HOURS,
		ratification_period: 30 * MINUTES,
		// Shares of total issuance that must turn out (0.0001% and 0.0002%: dev-chain values;
		// a public chain would raise them by governance).
		standard_quorum: Perbill::from_parts(1_000),
		standard_approval: Perbill::from_percent(50),
		safety_quorum: Perbill::from_parts(2_000),
		safety_approval: Perbill::from_parts(666_666_667),
		reveal_period: MINUTES,
		verifier_bond: 5 * UNIT,
		// Two bonded verifiers attesting the same digest decide a challenge (2 of 3 in the
		// federation's layout); a split goes to the vote.
		attestation_threshold: 2,
	};
}

/// Who may suspend a model at once: any safety council member (the suspension lapses unless
/// the token-holder collective ratifies it), or root.
type DecentralMlSafetyOrigin = EitherOfDiverse<
	EnsureRoot<AccountId>,
	pallet_collective::EnsureMember<AccountId, SafetyCouncilInstance>,
>;

impl pallet_decentralml::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type NativeBalance = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type RuntimeFreezeReason = RuntimeFreezeReason;
	type AssetId = AssetId;
	type Assets = Assets;
	type PalletId = DecentralMlPalletId;
	type SafetyOrigin = DecentralMlSafetyOrigin;
	type ModelDeposit = ModelDeposit;
	type MaxNameLen = ConstU32<64>;
	type MaxCidLen = ConstU32<128>;
	type MaxTrainersPerTask = ConstU32<256>;
	type MaxVerifiersPerTask = ConstU32<16>;
	type MaxRoundsPerTask = ConstU32<1_000>;
	type MaxVotesPerAccount = ConstU32<64>;
	type MaxLapsesPerBlock = ConstU32<32>;
	type VoteLockingPeriod = DecentralMlVoteLockingPeriod;
	type DefaultParams = DecentralMlDefaultParams;
	type WeightInfo = pallet_decentralml::weights::SubstrateWeight<Runtime>;
}
