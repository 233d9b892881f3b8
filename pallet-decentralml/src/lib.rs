//! # DecentralML pallet
//!
//! ## Overview
//!
//! DecentralML coordinates federated machine learning on chain. Models are registered by
//! content reference with a licence and the jurisdictions trainers may be in; sponsors fund
//! training tasks in the native token or in any pallet-assets asset (bring your own token);
//! trainers stake, train on their own data off chain and submit updates per round; a bonded
//! aggregator submits the round's aggregate, which stands after a challenge window unless a
//! bonded challenge wins a governance vote; finalization pays the round's reward pro rata to
//! the included sample counts and slashes trainers that did not submit. The last round's
//! aggregate becomes a proposed model version, which a stake-weighted, conviction-voting
//! collective approves or rejects; the same collective sets licences, jurisdictions, safety
//! actions and protocol parameters. A safety council can suspend a model at once; the
//! suspension lapses unless the collective ratifies it in time.
//!
//! The full design (objects, lifecycle, economic flows, invariants) is in `docs/protocol.md`
//! of the repository.
//!
//! ## Terminology
//!
//! - **Content reference** ([`types::ContentRef`]): a CID with the sha256 digest and size of
//!   the bytes it names. The chain never stores model bytes, data or credentials; every
//!   off-chain reader verifies fetched bytes against the digest.
//! - **Escrow**: a task's reward pool and its trainers' stakes. Native funds are *held* on the
//!   sponsor's and trainers' accounts ([`HoldReason::TaskReward`], [`HoldReason::TrainerStake`]);
//!   asset funds are transferred to the task's escrow account (a sub-account of
//!   [`Config::PalletId`] per task, so one task's dust rules never touch another's funds).
//! - **Round**: one training step of a task: open → updates until the deadline → aggregate →
//!   challenge window → finalized (rewards paid) or failed (no rewards).
//! - **Aggregator**: bonds [`types::ProtocolParams::aggregator_bond`] for a task and submits
//!   each round's aggregate. Misses cost a share of the bond; a lost challenge costs all of it.
//! - **Conviction**: voting weight 0.1x (no lock) or 1x..6x for locks of 1, 2, 4, .. 32
//!   [`Config::VoteLockingPeriod`]s after the vote ends, as in OpenGov. Votes freeze native
//!   balance ([`FreezeReason::Voting`]); one balance can vote on many proposals at once.
//! - **Protocol parameters** ([`types::ProtocolParams`]): fees, slashes, bonds, deposits,
//!   periods and thresholds, stored in [`Params`] (defaults from [`Config::DefaultParams`]) and
//!   changed by `SetParameter` proposals.
//!
//! ## Interface
//!
//! ### Permissionless calls (signed)
//!
//! - Models: [`Pallet::register_model`].
//! - Trainers: [`Pallet::set_trainer_profile`], [`Pallet::clear_trainer_profile`],
//!   [`Pallet::join_task`], [`Pallet::leave_task`], [`Pallet::submit_update`].
//! - Sponsors: [`Pallet::create_task`].
//! - Aggregators: [`Pallet::bond_aggregator`], [`Pallet::unbond_aggregator`],
//!   [`Pallet::submit_aggregate`].
//! - Verifiers: [`Pallet::bond_verifier`], [`Pallet::attest_aggregate`],
//!   [`Pallet::report_free_rider`], [`Pallet::challenge_aggregate`], [`Pallet::unbond_verifier`].
//! - Anyone, to keep things moving: [`Pallet::start_round`], [`Pallet::finalize_round`],
//!   [`Pallet::expire_task`], [`Pallet::close_proposal`], [`Pallet::unlock`].
//! - Governance: [`Pallet::submit_proposal`], [`Pallet::vote`].
//!
//! ### Owner / sponsor calls
//!
//! - [`Pallet::retire_model`] (model owner), [`Pallet::cancel_task`] (sponsor).
//!
//! ### Privileged calls
//!
//! - [`Pallet::council_suspend`] ([`Config::SafetyOrigin`]): suspend a model at once.
//!
//! ## Invariants
//!
//! Checked by `do_try_state` after every unit and property test (and by try-runtime):
//! - held model deposits equal the deposits of non-retired models, per owner;
//! - held native reward equals the unpaid pools of the sponsor's live native tasks;
//! - held native stake equals the sum of the trainer's native participations;
//! - each asset task's escrow account holds exactly its unpaid pool plus its trainers' stakes
//!   while live, and nothing (or its [`StrandedAssets`]) once ended;
//! - held aggregator bonds, challenge bonds and proposal deposits match their records;
//! - every ongoing proposal's tally equals the sum of its recorded votes, and no vote exceeds
//!   the voter's frozen voting balance, which equals its largest live vote;
//! - participant counts, profile task counts, round submissions and ids are consistent.
//!
//! ## Code layout
//!
//! This file declares the pallet: its types' aliases, `Config`, hold and freeze reasons and
//! hooks. The other parts of the `#[pallet]` module are sections in their own files, pasted in
//! by `#[import_section]`: `storage.rs`, `events.rs`, `errors.rs`, `genesis.rs` and `calls.rs`
//! (each call checks its origin and calls one `do_*` function). The logic is in `functions/`,
//! one file per concern (`escrow`, `models`, `profiles`, `tasks`, `rounds`, `challenges`,
//! `try_state`), and in `governance.rs`; the stored types are in `types/` by the same concerns;
//! the unit tests in `tests/` likewise.
//!
//! ## Tests
//!
//! `cargo test -p pallet-decentralml` runs the unit tests (each call's success and each of its
//! errors) and the property tests: 10,000 random call sequences by default, each followed by a
//! wind-down that must leave every hold, freeze and escrow at zero. `DML_PROPTEST_CASES=N`
//! sets the number of sequences (long-run mode: a large N, ideally with `--release`).
//! `--features runtime-benchmarks` adds the benchmark test suite.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

pub mod types;
pub mod weights;
pub use weights::WeightInfo;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

mod calls;
mod errors;
mod events;
mod functions;
mod genesis;
mod governance;
mod storage;

use frame_support::pallet_macros::import_section;

#[import_section(storage::storage)]
#[import_section(events::events)]
#[import_section(errors::errors)]
#[import_section(genesis::genesis)]
#[import_section(calls::calls)]
#[frame_support::pallet]
pub mod pallet {
	use super::{types::*, WeightInfo};
	use frame_support::{
		pallet_prelude::*,
		traits::{
			fungible::{self, Inspect, InspectFreeze, MutateFreeze, MutateHold},
			fungibles,
		},
		PalletId,
	};
	use frame_system::pallet_prelude::*;

	/// Balance type of the native currency (also used for assets).
	pub type BalanceOf<T> =
		<<T as Config>::NativeBalance as Inspect<<T as frame_system::Config>::AccountId>>::Balance;
	/// A model as stored.
	pub type ModelOf<T> = Model<
		<T as frame_system::Config>::AccountId,
		BalanceOf<T>,
		BlockNumberFor<T>,
		<T as Config>::MaxNameLen,
	>;
	/// A model version as stored.
	pub type VersionOf<T> = ModelVersion<BlockNumberFor<T>>;
	/// Task terms as passed to `create_task`.
	pub type TaskTermsOf<T> = TaskTerms<BalanceOf<T>, BlockNumberFor<T>, <T as Config>::AssetId>;
	/// A task as stored.
	pub type TaskOf<T> = super::types::Task<
		<T as frame_system::Config>::AccountId,
		BalanceOf<T>,
		BlockNumberFor<T>,
		<T as Config>::AssetId,
	>;
	/// A round as stored.
	pub type RoundOf<T> = Round<
		<T as frame_system::Config>::AccountId,
		BalanceOf<T>,
		BlockNumberFor<T>,
		<T as Config>::MaxTrainersPerTask,
	>;
	/// The trainers an aggregate includes.
	pub type IncludedOf<T> =
		BoundedVec<<T as frame_system::Config>::AccountId, <T as Config>::MaxTrainersPerTask>;
	/// The reward asset of a task.
	pub type RewardAssetOf<T> = RewardAsset<<T as Config>::AssetId>;
	/// Protocol parameters.
	pub type ParamsOf<T> = ProtocolParams<BalanceOf<T>, BlockNumberFor<T>>;
	/// A parameter change.
	pub type ParameterChangeOf<T> = ParameterChange<BalanceOf<T>, BlockNumberFor<T>>;
	/// A proposal kind.
	pub type ProposalKindOf<T> = ProposalKind<BalanceOf<T>, BlockNumberFor<T>>;
	/// A proposal as stored.
	pub type ProposalOf<T> =
		Proposal<<T as frame_system::Config>::AccountId, BalanceOf<T>, BlockNumberFor<T>>;
	/// A vote record as stored.
	pub type VoteRecordOf<T> = VoteRecord<BalanceOf<T>, BlockNumberFor<T>>;
	/// An account's vote records.
	pub type VotesOf<T> = BoundedVec<VoteRecordOf<T>, <T as Config>::MaxVotesPerAccount>;

	const STORAGE_VERSION: StorageVersion = StorageVersion::new(2);

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	/// Configuration of the pallet.
	#[pallet::config]
	pub trait Config: frame_system::Config {
		/// The overarching event type.
		#[allow(deprecated)]
		type RuntimeEvent: From<Event<Self>> + IsType<<Self as frame_system::Config>::RuntimeEvent>;

		/// The native currency: deposits, native stakes and pools are held, votes frozen.
		type NativeBalance: fungible::Mutate<Self::AccountId>
			+ MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>
			+ MutateFreeze<Self::AccountId, Id = Self::RuntimeFreezeReason>
			+ InspectFreeze<Self::AccountId>;

		/// The overarching hold reason.
		type RuntimeHoldReason: From<HoldReason>;

		/// The overarching freeze reason.
		type RuntimeFreezeReason: From<FreezeReason>;

		/// Identifier of an asset of [`Config::Assets`].
		type AssetId: Member + Parameter + Copy + MaxEncodedLen + Ord;

		/// The assets tasks may be funded in (bring your own token).
		type Assets: fungibles::Mutate<
			Self::AccountId,
			AssetId = Self::AssetId,
			Balance = BalanceOf<Self>,
		>;

		/// Derives the per-task escrow accounts holding asset pools and asset stakes.
		#[pallet::constant]
		type PalletId: Get<PalletId>;

		/// Who may suspend a model at once (the safety council).
		type SafetyOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// Deposit held from a model's owner while the model is not retired.
		#[pallet::constant]
		type ModelDeposit: Get<BalanceOf<Self>>;

		/// Longest model name, in bytes.
		#[pallet::constant]
		type MaxNameLen: Get<u32>;

		/// Longest CID accepted, in bytes (at most 128, the bound of [`types::MaxCidLen`]).
		#[pallet::constant]
		type MaxCidLen: Get<u32>;

		/// Most trainers per task (bounds the work of finalizing a round).
		#[pallet::constant]
		type MaxTrainersPerTask: Get<u32>;

		/// Most bonded verifiers per task (bounds the work of settling their attestations).
		#[pallet::constant]
		type MaxVerifiersPerTask: Get<u32>;

		/// Most rounds per task.
		#[pallet::constant]
		type MaxRoundsPerTask: Get<u32>;

		/// Most vote records an account keeps (votes are removed by `unlock`).
		#[pallet::constant]
		type MaxVotesPerAccount: Get<u32>;

		/// Most council suspensions that may lapse in one block.
		#[pallet::constant]
		type MaxLapsesPerBlock: Get<u32>;

		/// Blocks of one conviction lock period.
		#[pallet::constant]
		type VoteLockingPeriod: Get<BlockNumberFor<Self>>;

		/// Protocol parameters used until governance changes them.
		type DefaultParams: Get<ParamsOf<Self>>;

		/// Weights of the calls, from the pallet's benchmarks.
		type WeightInfo: WeightInfo;
	}

	/// Why the pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// Held from a model's owner while the model is not retired.
		ModelDeposit,
		/// A native task's unpaid reward pool, held from its sponsor.
		TaskReward,
		/// A trainer's stake in a native task.
		TrainerStake,
		/// An aggregator's bond.
		AggregatorBond,
		/// A challenger's bond.
		ChallengeBond,
		/// A proposer's deposit.
		ProposalDeposit,
		/// A verifier's bond.
		VerifierBond,
	}

	/// Why the pallet freezes funds.
	#[pallet::composite_enum]
	pub enum FreezeReason {
		/// Balance voted with, until its conviction lock expires.
		Voting,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn on_initialize(now: BlockNumberFor<T>) -> Weight {
			Self::do_process_lapses(now)
		}

		fn integrity_test() {
			assert!(T::MaxNameLen::get() > 0, "MaxNameLen must allow at least one byte");
			assert!(
				T::MaxCidLen::get() >= 8 && T::MaxCidLen::get() <= <MaxCidLen as Get<u32>>::get(),
				"MaxCidLen must be within 8..=128"
			);
			assert!(T::MaxTrainersPerTask::get() > 0, "MaxTrainersPerTask must be positive");
			assert!(T::MaxVerifiersPerTask::get() > 0, "MaxVerifiersPerTask must be positive");
			assert!(T::MaxRoundsPerTask::get() > 0, "MaxRoundsPerTask must be positive");
			assert!(T::MaxVotesPerAccount::get() > 0, "MaxVotesPerAccount must be positive");
			assert!(T::MaxLapsesPerBlock::get() > 0, "MaxLapsesPerBlock must be positive");
			assert!(
				Self::validate_params(&T::DefaultParams::get()).is_ok(),
				"DefaultParams must be valid"
			);
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}
}
