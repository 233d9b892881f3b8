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
//! - Verifiers: [`Pallet::challenge_aggregate`].
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

mod functions;
mod governance;

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

	const STORAGE_VERSION: StorageVersion = StorageVersion::new(1);

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
	}

	/// Why the pallet freezes funds.
	#[pallet::composite_enum]
	pub enum FreezeReason {
		/// Balance voted with, until its conviction lock expires.
		Voting,
	}

	/// Default of [`Params`].
	#[pallet::type_value]
	pub fn DefaultParamsValue<T: Config>() -> ParamsOf<T> {
		T::DefaultParams::get()
	}

	/// The protocol parameters in force.
	#[pallet::storage]
	pub type Params<T: Config> = StorageValue<_, ParamsOf<T>, ValueQuery, DefaultParamsValue<T>>;

	/// The id the next registered model gets.
	#[pallet::storage]
	pub type NextModelId<T> = StorageValue<_, ModelId, ValueQuery>;

	/// Registered models by id.
	#[pallet::storage]
	pub type Models<T: Config> = StorageMap<_, Blake2_128Concat, ModelId, ModelOf<T>, OptionQuery>;

	/// Model versions by model and number.
	#[pallet::storage]
	pub type Versions<T: Config> = StorageDoubleMap<
		_,
		Blake2_128Concat,
		ModelId,
		Twox64Concat,
		VersionId,
		VersionOf<T>,
		OptionQuery,
	>;

	/// Trainers' declared profiles.
	#[pallet::storage]
	pub type TrainerProfiles<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, TrainerProfile, OptionQuery>;

	/// The id the next task gets.
	#[pallet::storage]
	pub type NextTaskId<T> = StorageValue<_, TaskId, ValueQuery>;

	/// Tasks by id (kept after they end, for provenance).
	#[pallet::storage]
	pub type Tasks<T: Config> = StorageMap<_, Blake2_128Concat, TaskId, TaskOf<T>, OptionQuery>;

	/// Trainers of live tasks.
	#[pallet::storage]
	pub type Participants<T: Config> = StorageDoubleMap<
		_,
		Blake2_128Concat,
		TaskId,
		Blake2_128Concat,
		T::AccountId,
		Participant<BalanceOf<T>>,
		OptionQuery,
	>;

	/// The running round of each task, if any.
	#[pallet::storage]
	pub type Rounds<T: Config> = StorageMap<_, Blake2_128Concat, TaskId, RoundOf<T>, OptionQuery>;

	/// Updates of each task's running round, by trainer.
	#[pallet::storage]
	pub type Updates<T: Config> = StorageDoubleMap<
		_,
		Blake2_128Concat,
		TaskId,
		Blake2_128Concat,
		T::AccountId,
		Update<BlockNumberFor<T>>,
		OptionQuery,
	>;

	/// The id the next proposal gets.
	#[pallet::storage]
	pub type NextProposalId<T> = StorageValue<_, ProposalId, ValueQuery>;

	/// Proposals by id (kept after they close).
	#[pallet::storage]
	pub type Proposals<T: Config> =
		StorageMap<_, Blake2_128Concat, ProposalId, ProposalOf<T>, OptionQuery>;

	/// Each account's votes whose locks have not been removed yet.
	#[pallet::storage]
	pub type VotingOf<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, VotesOf<T>, ValueQuery>;

	/// Council suspensions lapsing at a block (unless ratified before).
	#[pallet::storage]
	pub type PendingLapses<T: Config> = StorageMap<
		_,
		Twox64Concat,
		BlockNumberFor<T>,
		BoundedVec<ModelId, T::MaxLapsesPerBlock>,
		ValueQuery,
	>;

	/// Asset amounts left in an ended task's escrow account that could be neither returned
	/// nor burned (e.g. the asset is being destroyed). Kept so the escrow invariant stays exact.
	#[pallet::storage]
	pub type StrandedAssets<T: Config> =
		StorageMap<_, Blake2_128Concat, TaskId, BalanceOf<T>, ValueQuery>;

	/// Events of the pallet.
	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A model was registered.
		ModelRegistered {
			/// The new model's id.
			model_id: ModelId,
			/// Its owner.
			owner: T::AccountId,
			/// The deposit held from the owner.
			deposit: BalanceOf<T>,
		},
		/// A model was retired and its deposit released.
		ModelRetired {
			/// The retired model.
			model_id: ModelId,
			/// The deposit released to the owner.
			deposit: BalanceOf<T>,
		},
		/// A model's status changed by governance.
		ModelStatusChanged {
			/// The model.
			model_id: ModelId,
			/// Its new status.
			status: ModelStatus,
		},
		/// The safety council suspended a model; it lapses unless ratified in time.
		ModelSuspendedByCouncil {
			/// The model.
			model_id: ModelId,
			/// Block at which the suspension lapses unless ratified.
			lapses_at: BlockNumberFor<T>,
		},
		/// Governance ratified a council suspension.
		SuspensionRatified {
			/// The model.
			model_id: ModelId,
		},
		/// A council suspension lapsed unratified.
		SuspensionLapsed {
			/// The model.
			model_id: ModelId,
			/// The status it returned to.
			status: ModelStatus,
		},
		/// A model's licence was replaced.
		LicenceSet {
			/// The model.
			model_id: ModelId,
		},
		/// A model's allowed jurisdictions were replaced.
		JurisdictionsSet {
			/// The model.
			model_id: ModelId,
			/// How many are listed (0: anywhere).
			count: u32,
		},
		/// A task's final aggregate was proposed as a model version.
		VersionProposed {
			/// The model.
			model_id: ModelId,
			/// The new version.
			version: VersionId,
			/// The task that trained it.
			task_id: TaskId,
			/// The round it came from.
			round: RoundIndex,
		},
		/// Governance approved a version.
		VersionApproved {
			/// The model.
			model_id: ModelId,
			/// The version.
			version: VersionId,
		},
		/// Governance rejected a version.
		VersionRejected {
			/// The model.
			model_id: ModelId,
			/// The version.
			version: VersionId,
		},
		/// A trainer declared its jurisdiction.
		TrainerProfileSet {
			/// The trainer.
			trainer: T::AccountId,
			/// Its jurisdiction.
			jurisdiction: Jurisdiction,
		},
		/// A trainer removed its profile.
		TrainerProfileCleared {
			/// The trainer.
			trainer: T::AccountId,
		},
		/// A task was created and its whole reward pool escrowed.
		TaskCreated {
			/// The new task.
			task_id: TaskId,
			/// The model it trains.
			model_id: ModelId,
			/// Its sponsor.
			sponsor: T::AccountId,
			/// What it pays in.
			asset: RewardAssetOf<T>,
			/// The escrowed pool.
			pool: BalanceOf<T>,
		},
		/// A task ended: stakes and bonds returned, leftover pool refunded.
		TaskEnded {
			/// The task.
			task_id: TaskId,
			/// How it ended (Completed, Cancelled or Expired).
			status: TaskStatus,
			/// Pool refunded to the sponsor.
			refunded: BalanceOf<T>,
		},
		/// A trainer joined a task and its stake was escrowed.
		TrainerJoined {
			/// The task.
			task_id: TaskId,
			/// The trainer.
			trainer: T::AccountId,
			/// The stake escrowed.
			stake: BalanceOf<T>,
		},
		/// A trainer asked to leave; it leaves when the running round ends.
		TrainerLeaving {
			/// The task.
			task_id: TaskId,
			/// The trainer.
			trainer: T::AccountId,
		},
		/// A trainer left a task and got its stake back.
		TrainerLeft {
			/// The task.
			task_id: TaskId,
			/// The trainer.
			trainer: T::AccountId,
			/// Stake returned.
			stake: BalanceOf<T>,
		},
		/// An aggregator bonded for a task.
		AggregatorBonded {
			/// The task.
			task_id: TaskId,
			/// The aggregator.
			aggregator: T::AccountId,
			/// The bond held.
			bond: BalanceOf<T>,
		},
		/// An aggregator's bond was released (unbonded or task ended).
		AggregatorUnbonded {
			/// The task.
			task_id: TaskId,
			/// The aggregator.
			aggregator: T::AccountId,
			/// The bond released.
			bond: BalanceOf<T>,
		},
		/// A round opened.
		RoundOpened {
			/// The task.
			task_id: TaskId,
			/// The round.
			round: RoundIndex,
			/// The global weights to start from.
			base: ContentRef,
			/// Last block for updates.
			deadline: BlockNumberFor<T>,
		},
		/// A trainer submitted its update.
		UpdateSubmitted {
			/// The task.
			task_id: TaskId,
			/// The round.
			round: RoundIndex,
			/// The trainer.
			trainer: T::AccountId,
			/// Samples trained on.
			samples: u64,
		},
		/// The aggregator submitted a round's aggregate; its challenge window started.
		AggregateSubmitted {
			/// The task.
			task_id: TaskId,
			/// The round.
			round: RoundIndex,
			/// The aggregator.
			aggregator: T::AccountId,
			/// The aggregated weights.
			weights: ContentRef,
			/// How many updates it includes.
			included: u32,
			/// Digest of the included updates.
			updates_digest: [u8; 32],
		},
		/// An aggregate was challenged; a governance proposal decides.
		AggregateChallenged {
			/// The task.
			task_id: TaskId,
			/// The round.
			round: RoundIndex,
			/// The challenger.
			challenger: T::AccountId,
			/// The deciding proposal.
			proposal_id: ProposalId,
		},
		/// A challenge was upheld: the aggregator's bond went to the challenger.
		ChallengeUpheld {
			/// The task.
			task_id: TaskId,
			/// The round.
			round: RoundIndex,
			/// The challenger.
			challenger: T::AccountId,
			/// The slashed aggregator.
			aggregator: T::AccountId,
			/// Amount moved to the challenger.
			slashed: BalanceOf<T>,
		},
		/// A challenge was dismissed: the challenger's bond went to the aggregator.
		ChallengeDismissed {
			/// The task.
			task_id: TaskId,
			/// The round.
			round: RoundIndex,
			/// The challenger.
			challenger: T::AccountId,
			/// The aggregator.
			aggregator: T::AccountId,
			/// Amount moved to the aggregator.
			slashed: BalanceOf<T>,
		},
		/// A reward was paid from a task's pool.
		RewardPaid {
			/// The task.
			task_id: TaskId,
			/// The round.
			round: RoundIndex,
			/// Who was paid (trainer or aggregator).
			account: T::AccountId,
			/// Amount.
			amount: BalanceOf<T>,
		},
		/// A reward could not be paid (e.g. below the asset's minimum balance); it stays in
		/// the pool and is refunded to the sponsor when the task ends.
		RewardUnpaid {
			/// The task.
			task_id: TaskId,
			/// The round.
			round: RoundIndex,
			/// Who would have been paid.
			account: T::AccountId,
			/// Amount.
			amount: BalanceOf<T>,
		},
		/// A trainer's stake was slashed for not submitting; the amount went to the sponsor.
		StakeSlashed {
			/// The task.
			task_id: TaskId,
			/// The round missed.
			round: RoundIndex,
			/// The trainer.
			trainer: T::AccountId,
			/// Amount slashed.
			amount: BalanceOf<T>,
		},
		/// An aggregator missed a round; a share of its bond went to the sponsor and it was
		/// unbonded.
		AggregatorSlashed {
			/// The task.
			task_id: TaskId,
			/// The round missed.
			round: RoundIndex,
			/// The aggregator.
			aggregator: T::AccountId,
			/// Amount slashed.
			amount: BalanceOf<T>,
		},
		/// A round was finalized.
		RoundFinalized {
			/// The task.
			task_id: TaskId,
			/// The round.
			round: RoundIndex,
			/// Whether an aggregate stood (and rewards were paid).
			succeeded: bool,
			/// Total paid out of the pool.
			paid: BalanceOf<T>,
		},
		/// A proposal was submitted.
		ProposalSubmitted {
			/// The proposal.
			proposal_id: ProposalId,
			/// The proposer.
			proposer: T::AccountId,
			/// Deposit held.
			deposit: BalanceOf<T>,
			/// Last block of voting.
			ends_at: BlockNumberFor<T>,
		},
		/// A vote was cast.
		Voted {
			/// The proposal.
			proposal_id: ProposalId,
			/// The voter.
			voter: T::AccountId,
			/// Aye or nay.
			aye: bool,
			/// Balance voted (frozen).
			balance: BalanceOf<T>,
			/// Conviction.
			conviction: Conviction,
		},
		/// A proposal was closed.
		ProposalClosed {
			/// The proposal.
			proposal_id: ProposalId,
			/// Its outcome.
			status: ProposalStatus,
			/// Final tally.
			tally: Tally<BalanceOf<T>>,
		},
		/// A passed proposal could not be enacted (state changed during the vote).
		ProposalEnactmentFailed {
			/// The proposal.
			proposal_id: ProposalId,
			/// Why.
			error: DispatchError,
		},
		/// A proposer's deposit was returned.
		DepositRefunded {
			/// The proposal.
			proposal_id: ProposalId,
			/// The proposer.
			who: T::AccountId,
			/// Amount.
			amount: BalanceOf<T>,
		},
		/// A proposer's deposit was slashed (burned) for lack of quorum.
		DepositSlashed {
			/// The proposal.
			proposal_id: ProposalId,
			/// The proposer.
			who: T::AccountId,
			/// Amount.
			amount: BalanceOf<T>,
		},
		/// Expired vote locks were removed.
		VotesUnlocked {
			/// The voter.
			who: T::AccountId,
			/// Records removed.
			removed: u32,
			/// Balance still frozen for voting.
			frozen: BalanceOf<T>,
		},
		/// A protocol parameter changed.
		ParameterChanged {
			/// The change.
			change: ParameterChangeOf<T>,
		},
		/// Asset funds in an ended task's escrow could be neither returned nor burned.
		AssetsStranded {
			/// The task.
			task_id: TaskId,
			/// The asset.
			asset: T::AssetId,
			/// Amount.
			amount: BalanceOf<T>,
		},
	}

	/// Errors of the pallet.
	#[pallet::error]
	pub enum Error<T> {
		/// The model name is empty.
		EmptyName,
		/// The model name is longer than `MaxNameLen`.
		NameTooLong,
		/// A content reference has an empty CID.
		EmptyCid,
		/// A content reference's CID is longer than `MaxCidLen`.
		CidTooLong,
		/// A content reference's CID is not a CID string (ASCII letters and digits, 8+ chars).
		MalformedCid,
		/// A content reference declares a size of zero bytes.
		EmptyContent,
		/// An SPDX identifier is empty or has characters other than letters, digits, `.-+`.
		InvalidSpdxId,
		/// A jurisdiction is not two uppercase ASCII letters.
		InvalidJurisdiction,
		/// A jurisdiction is listed twice.
		DuplicateJurisdiction,
		/// No model has this id.
		ModelNotFound,
		/// Only the model's owner may do this.
		NotModelOwner,
		/// The model is retired.
		ModelRetired,
		/// The model is suspended or retired: no tasks, joins or rounds.
		ModelNotUsable,
		/// The model is already suspended.
		ModelAlreadySuspended,
		/// Every model id has been used.
		ModelIdsExhausted,
		/// The account cannot afford the deposit.
		InsufficientDeposit,
		/// The account's free native balance is too low.
		InsufficientBalance,
		/// The account's balance of the asset is too low.
		InsufficientAssetBalance,
		/// No asset has this id.
		UnknownAsset,
		/// The asset transfer was refused (e.g. below the asset's minimum balance, frozen).
		AssetTransferFailed,
		/// The account has no trainer profile.
		NoTrainerProfile,
		/// The trainer takes part in tasks; leave them first.
		TrainerHasTasks,
		/// No task has this id.
		TaskNotFound,
		/// Every task id has been used.
		TaskIdsExhausted,
		/// The reward per round is zero.
		ZeroReward,
		/// The task has zero rounds.
		ZeroRounds,
		/// The task has more rounds than `MaxRoundsPerTask`.
		TooManyRounds,
		/// `min_trainers` is zero.
		ZeroMinTrainers,
		/// `max_trainers` is below `min_trainers`.
		MaxTrainersBelowMin,
		/// `max_trainers` is above `MaxTrainersPerTask`.
		TooManyTrainers,
		/// The trainer stake is below the protocol's minimum.
		StakeBelowMinimum,
		/// The round length is zero.
		ZeroRoundLength,
		/// The challenge window is zero.
		ZeroChallengeWindow,
		/// An amount overflowed.
		Overflow,
		/// The task lists a jurisdiction the model does not allow.
		JurisdictionOutsideModel,
		/// Only the task's sponsor may do this.
		NotSponsor,
		/// The task has ended.
		TaskNotLive,
		/// A round is running.
		RoundInProgress,
		/// The task has not been idle for `task_idle_timeout` blocks.
		TaskNotIdleLongEnough,
		/// The account already takes part in the task.
		AlreadyJoined,
		/// The task has `max_trainers` trainers.
		TaskFull,
		/// The model does not allow the trainer's jurisdiction.
		JurisdictionNotAllowedByModel,
		/// The task does not allow the trainer's jurisdiction.
		JurisdictionNotAllowedByTask,
		/// The account does not take part in the task.
		NotParticipant,
		/// The trainer already asked to leave.
		AlreadyLeaving,
		/// The task already has an aggregator.
		AggregatorAlreadyBonded,
		/// The task has no aggregator.
		NoAggregator,
		/// Only the task's aggregator may do this.
		NotAggregator,
		/// Fewer than `min_trainers` trainers take part.
		NotEnoughTrainers,
		/// The task has no running round.
		NoActiveRound,
		/// The round given is not the task's running round.
		WrongRound,
		/// The round no longer accepts updates or aggregates.
		RoundNotOpen,
		/// The round's update deadline has passed.
		DeadlinePassed,
		/// The trainer joined after this round opened; it takes part from the next one.
		NotDueThisRound,
		/// The trainer already submitted an update this round.
		AlreadySubmitted,
		/// The update reports zero samples.
		ZeroSamples,
		/// Updates are still being accepted.
		RoundStillOpen,
		/// The aggregation period after the deadline is over.
		AggregationPeriodOver,
		/// The aggregate includes no update.
		EmptyAggregate,
		/// The aggregate lists a trainer twice.
		DuplicateIncluded,
		/// The aggregate lists a trainer without an update this round.
		UpdateNotFound,
		/// The round has no unchallenged aggregate.
		NotAggregated,
		/// The challenge window is over.
		ChallengeWindowClosed,
		/// An aggregator cannot challenge its own aggregate.
		ChallengeOwnAggregate,
		/// The challenge window is still open.
		ChallengeWindowOpen,
		/// The aggregator may still submit the aggregate.
		AwaitingAggregate,
		/// The round's aggregate is under challenge.
		RoundUnderChallenge,
		/// No version has this number.
		VersionNotFound,
		/// The version is not awaiting governance.
		VersionNotProposed,
		/// The parameter value is out of its allowed range.
		InvalidParameter,
		/// This proposal kind is opened by another call only.
		NotSubmittable,
		/// Every proposal id has been used.
		ProposalIdsExhausted,
		/// No proposal has this id.
		ProposalNotFound,
		/// Voting on the proposal has ended.
		VotingClosed,
		/// A vote of zero balance.
		ZeroVote,
		/// The vote exceeds the account's balance.
		InsufficientVotingBalance,
		/// The account already voted on the proposal.
		AlreadyVoted,
		/// The account has `MaxVotesPerAccount` vote records; unlock some first.
		TooManyVotes,
		/// The proposal is already closed.
		ProposalNotOngoing,
		/// Voting on the proposal has not ended yet.
		VotingStillOpen,
		/// No vote lock has expired.
		NothingToUnlock,
		/// `MaxLapsesPerBlock` suspensions already lapse at that block.
		TooManyLapsesAtBlock,
		/// The safety action does not apply to the model's status.
		ActionNotApplicable,
	}

	/// Genesis: optional overrides of the protocol periods in [`Config::DefaultParams`], so a
	/// development chain can run a whole federation and a vote within minutes. Fields left
	/// `None` keep the defaults; the result must pass the same checks as a governance change.
	#[pallet::genesis_config]
	#[derive(frame_support::DefaultNoBound)]
	pub struct GenesisConfig<T: Config> {
		/// Overrides [`types::ProtocolParams::voting_period`].
		pub voting_period: Option<BlockNumberFor<T>>,
		/// Overrides [`types::ProtocolParams::aggregation_period`].
		pub aggregation_period: Option<BlockNumberFor<T>>,
		/// Overrides [`types::ProtocolParams::task_idle_timeout`].
		pub task_idle_timeout: Option<BlockNumberFor<T>>,
		/// Overrides [`types::ProtocolParams::ratification_period`].
		pub ratification_period: Option<BlockNumberFor<T>>,
	}

	#[pallet::genesis_build]
	impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
		fn build(&self) {
			if self.voting_period.is_none() &&
				self.aggregation_period.is_none() &&
				self.task_idle_timeout.is_none() &&
				self.ratification_period.is_none()
			{
				return;
			}
			let mut params = T::DefaultParams::get();
			if let Some(v) = self.voting_period {
				params.voting_period = v;
			}
			if let Some(v) = self.aggregation_period {
				params.aggregation_period = v;
			}
			if let Some(v) = self.task_idle_timeout {
				params.task_idle_timeout = v;
			}
			if let Some(v) = self.ratification_period {
				params.ratification_period = v;
			}
			// Genesis building runs once, off chain, before any block: a bad chain spec must
			// stop the node with a clear message rather than start a chain with invalid rules.
			assert!(
				Pallet::<T>::validate_params(&params).is_ok(),
				"DecentralMl genesis: period overrides must be non-zero"
			);
			Params::<T>::put(params);
		}
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

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Register a model: its name, architecture file, initial weights, licence and the
		/// jurisdictions trainers may be in (empty: anywhere). Holds [`Config::ModelDeposit`].
		///
		/// Emits [`Event::ModelRegistered`].
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::register_model())]
		pub fn register_model(
			origin: OriginFor<T>,
			name: BoundedVec<u8, ConstU32<256>>,
			architecture: ContentRef,
			initial_weights: ContentRef,
			licence: Licence,
			jurisdictions: Jurisdictions,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let name: BoundedVec<u8, T::MaxNameLen> =
				name.into_inner().try_into().map_err(|_| Error::<T>::NameTooLong)?;
			Self::do_register_model(who, name, architecture, initial_weights, licence, jurisdictions)
		}

		/// Retire a model one owns and release its deposit. It stays in the registry for
		/// provenance; running tasks finish, no new ones start.
		///
		/// Emits [`Event::ModelRetired`].
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::retire_model())]
		pub fn retire_model(origin: OriginFor<T>, model_id: ModelId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_retire_model(who, model_id)
		}

		/// Declare (or change, while in no task) one's jurisdiction as a trainer.
		///
		/// Emits [`Event::TrainerProfileSet`].
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::set_trainer_profile())]
		pub fn set_trainer_profile(
			origin: OriginFor<T>,
			jurisdiction: Jurisdiction,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_set_trainer_profile(who, jurisdiction)
		}

		/// Remove one's trainer profile (while in no task).
		///
		/// Emits [`Event::TrainerProfileCleared`].
		#[pallet::call_index(3)]
		#[pallet::weight(T::WeightInfo::clear_trainer_profile())]
		pub fn clear_trainer_profile(origin: OriginFor<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_clear_trainer_profile(who)
		}

		/// Create a training task for a usable model and escrow its whole reward pool
		/// (`reward_per_round * total_rounds`) in the chosen asset.
		///
		/// Emits [`Event::TaskCreated`].
		#[pallet::call_index(4)]
		#[pallet::weight(T::WeightInfo::create_task())]
		pub fn create_task(
			origin: OriginFor<T>,
			model_id: ModelId,
			terms: TaskTermsOf<T>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_create_task(who, model_id, terms)
		}

		/// Cancel one's task while no round runs: stakes, bonds and the pool are returned.
		///
		/// Emits [`Event::TaskEnded`].
		#[pallet::call_index(5)]
		#[pallet::weight(T::WeightInfo::cancel_task(T::MaxTrainersPerTask::get()))]
		pub fn cancel_task(origin: OriginFor<T>, task_id: TaskId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_cancel_task(who, task_id)
		}

		/// End a task that has had no running round for `task_idle_timeout` blocks: stakes,
		/// bonds and the pool are returned. Anyone may call.
		///
		/// Emits [`Event::TaskEnded`].
		#[pallet::call_index(6)]
		#[pallet::weight(T::WeightInfo::expire_task(T::MaxTrainersPerTask::get()))]
		pub fn expire_task(origin: OriginFor<T>, task_id: TaskId) -> DispatchResult {
			ensure_signed(origin)?;
			Self::do_expire_task(task_id)
		}

		/// Join a task as a trainer: checks the profile's jurisdiction against the model's and
		/// the task's rules, and escrows the task's trainer stake.
		///
		/// Emits [`Event::TrainerJoined`].
		#[pallet::call_index(7)]
		#[pallet::weight(T::WeightInfo::join_task())]
		pub fn join_task(origin: OriginFor<T>, task_id: TaskId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_join_task(who, task_id)
		}

		/// Leave a task. With no round running (or one the trainer is not due in) the stake is
		/// returned at once; otherwise when the running round is finalized.
		///
		/// Emits [`Event::TrainerLeft`] or [`Event::TrainerLeaving`].
		#[pallet::call_index(8)]
		#[pallet::weight(T::WeightInfo::leave_task())]
		pub fn leave_task(origin: OriginFor<T>, task_id: TaskId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_leave_task(who, task_id)
		}

		/// Become a task's aggregator, holding `aggregator_bond`.
		///
		/// Emits [`Event::AggregatorBonded`].
		#[pallet::call_index(9)]
		#[pallet::weight(T::WeightInfo::bond_aggregator())]
		pub fn bond_aggregator(origin: OriginFor<T>, task_id: TaskId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_bond_aggregator(who, task_id)
		}

		/// Stop aggregating for a task while no round runs; the bond is released.
		///
		/// Emits [`Event::AggregatorUnbonded`].
		#[pallet::call_index(10)]
		#[pallet::weight(T::WeightInfo::unbond_aggregator())]
		pub fn unbond_aggregator(origin: OriginFor<T>, task_id: TaskId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_unbond_aggregator(who, task_id)
		}

		/// Open a task's next round with the current global weights, when none is running,
		/// enough trainers take part and an aggregator is bonded. Anyone may call; rounds also
		/// open automatically when the previous one is finalized.
		///
		/// Emits [`Event::RoundOpened`].
		#[pallet::call_index(11)]
		#[pallet::weight(T::WeightInfo::start_round())]
		pub fn start_round(origin: OriginFor<T>, task_id: TaskId) -> DispatchResult {
			ensure_signed(origin)?;
			Self::do_start_round(task_id)
		}

		/// Submit one's update for the running round, before its deadline, once per round.
		///
		/// Emits [`Event::UpdateSubmitted`].
		#[pallet::call_index(12)]
		#[pallet::weight(T::WeightInfo::submit_update())]
		pub fn submit_update(
			origin: OriginFor<T>,
			task_id: TaskId,
			round: RoundIndex,
			update: ContentRef,
			samples: u64,
			metrics: Metrics,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_submit_update(who, task_id, round, update, samples, metrics)
		}

		/// Submit the round's aggregate and the updates it includes (as the task's
		/// aggregator), after the deadline (or once every trainer submitted) and within the
		/// aggregation period. Starts the challenge window.
		///
		/// Emits [`Event::AggregateSubmitted`].
		#[pallet::call_index(13)]
		#[pallet::weight(T::WeightInfo::submit_aggregate(included.len() as u32))]
		pub fn submit_aggregate(
			origin: OriginFor<T>,
			task_id: TaskId,
			round: RoundIndex,
			weights: ContentRef,
			included: IncludedOf<T>,
			metrics: Metrics,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_submit_aggregate(who, task_id, round, weights, included, metrics)
		}

		/// Challenge a round's aggregate within its challenge window, holding
		/// `challenge_bond`; opens a `ResolveChallenge` proposal.
		///
		/// Emits [`Event::AggregateChallenged`] and [`Event::ProposalSubmitted`].
		#[pallet::call_index(14)]
		#[pallet::weight(T::WeightInfo::challenge_aggregate())]
		pub fn challenge_aggregate(
			origin: OriginFor<T>,
			task_id: TaskId,
			round: RoundIndex,
			evidence: ContentRef,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_challenge_aggregate(who, task_id, round, evidence)
		}

		/// Finalize the running round. Anyone may call: after the challenge window (pays the
		/// round's reward pro rata to included samples, the aggregator's fee first), or when
		/// the round failed (no update, no aggregate in time, upheld challenge: no reward).
		/// Slashes trainers that were due and did not submit, lets leavers go, and opens the
		/// next round or ends the task after the last one (proposing the final version).
		///
		/// Emits [`Event::RoundFinalized`] and payout/slash events.
		#[pallet::call_index(15)]
		#[pallet::weight(T::WeightInfo::finalize_round(T::MaxTrainersPerTask::get()))]
		pub fn finalize_round(
			origin: OriginFor<T>,
			task_id: TaskId,
			round: RoundIndex,
		) -> DispatchResultWithPostInfo {
			ensure_signed(origin)?;
			let trainers = Self::do_finalize_round(task_id, round)?;
			Ok(Some(T::WeightInfo::finalize_round(trainers)).into())
		}

		/// Submit a governance proposal, holding `proposal_deposit`.
		///
		/// Emits [`Event::ProposalSubmitted`].
		#[pallet::call_index(16)]
		#[pallet::weight(T::WeightInfo::submit_proposal())]
		pub fn submit_proposal(origin: OriginFor<T>, kind: ProposalKindOf<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_submit_proposal(who, kind)
		}

		/// Vote on an ongoing proposal with `balance` of one's native balance (frozen until the
		/// conviction lock after the vote's end expires). One vote per account per proposal.
		///
		/// Emits [`Event::Voted`].
		#[pallet::call_index(17)]
		#[pallet::weight(T::WeightInfo::vote(T::MaxVotesPerAccount::get()))]
		pub fn vote(
			origin: OriginFor<T>,
			proposal_id: ProposalId,
			aye: bool,
			balance: BalanceOf<T>,
			conviction: Conviction,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_vote(who, proposal_id, aye, balance, conviction)
		}

		/// Close a proposal after its voting period and enact it if it passed; refunds the
		/// deposit if quorum was reached, slashes it otherwise. Anyone may call.
		///
		/// Emits [`Event::ProposalClosed`].
		#[pallet::call_index(18)]
		#[pallet::weight(T::WeightInfo::close_proposal())]
		pub fn close_proposal(origin: OriginFor<T>, proposal_id: ProposalId) -> DispatchResult {
			ensure_signed(origin)?;
			Self::do_close_proposal(proposal_id)
		}

		/// Remove `target`'s vote records whose proposals are closed and whose locks expired,
		/// and lower its voting freeze accordingly. Anyone may call.
		///
		/// Emits [`Event::VotesUnlocked`].
		#[pallet::call_index(19)]
		#[pallet::weight(T::WeightInfo::unlock(T::MaxVotesPerAccount::get()))]
		pub fn unlock(origin: OriginFor<T>, target: T::AccountId) -> DispatchResult {
			ensure_signed(origin)?;
			Self::do_unlock(target)
		}

		/// Suspend a model at once ([`Config::SafetyOrigin`]). The suspension lapses after
		/// `ratification_period` blocks unless a `Safety { Suspend }` proposal passes first.
		///
		/// Emits [`Event::ModelSuspendedByCouncil`].
		#[pallet::call_index(20)]
		#[pallet::weight(T::WeightInfo::council_suspend())]
		pub fn council_suspend(origin: OriginFor<T>, model_id: ModelId) -> DispatchResult {
			T::SafetyOrigin::ensure_origin(origin)?;
			Self::do_council_suspend(model_id)
		}
	}
}
