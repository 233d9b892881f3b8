//! The pallet's storage items.

use frame_support::pallet_macros::pallet_section;

/// Imported into [`crate::pallet`] by `#[import_section(storage::storage)]`.
#[pallet_section]
mod storage {
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

	/// The open round of each task, if any: taking commitments, then reveals, then awaiting
	/// its aggregate.
	#[pallet::storage]
	pub type Rounds<T: Config> = StorageMap<_, Blake2_128Concat, TaskId, RoundOf<T>, OptionQuery>;

	/// The aggregated round of each task still in its challenge window (or challenged, or
	/// failed and not yet finalized). Rounds are pipelined: the next round opens on this
	/// round's aggregate at once, so each task has at most one pending and one open round.
	#[pallet::storage]
	pub type PendingRounds<T: Config> =
		StorageMap<_, Blake2_128Concat, TaskId, RoundOf<T>, OptionQuery>;

	/// Commitments by task, round and trainer (cleared when the round is finalized).
	#[pallet::storage]
	pub type Commitments<T: Config> = StorageNMap<
		_,
		(
			NMapKey<Blake2_128Concat, TaskId>,
			NMapKey<Twox64Concat, RoundIndex>,
			NMapKey<Blake2_128Concat, T::AccountId>,
		),
		Commitment<BlockNumberFor<T>>,
		OptionQuery,
	>;

	/// Revealed updates by task, round and trainer (cleared when the round is finalized).
	#[pallet::storage]
	pub type Updates<T: Config> = StorageNMap<
		_,
		(
			NMapKey<Blake2_128Concat, TaskId>,
			NMapKey<Twox64Concat, RoundIndex>,
			NMapKey<Blake2_128Concat, T::AccountId>,
		),
		Update<BlockNumberFor<T>>,
		OptionQuery,
	>;

	/// Secure aggregation: each trainer's key document (its X25519 public keys for the task's
	/// rounds, on IPFS), published once after joining; removed when it leaves.
	#[pallet::storage]
	pub type SecAggKeys<T: Config> = StorageDoubleMap<
		_,
		Blake2_128Concat,
		TaskId,
		Blake2_128Concat,
		T::AccountId,
		ContentRef,
		OptionQuery,
	>;

	/// Secure aggregation: the trainers a round's updates are masked among (due when it
	/// opened and with published keys), sorted; cleared with the round.
	#[pallet::storage]
	pub type RoundMembers<T: Config> = StorageDoubleMap<
		_,
		Blake2_128Concat,
		TaskId,
		Twox64Concat,
		RoundIndex,
		BoundedVec<T::AccountId, T::MaxTrainersPerTask>,
		OptionQuery,
	>;

	/// Secure aggregation: each member's unmasking shares for a round (on IPFS), published
	/// after the reveals; cleared with the round.
	#[pallet::storage]
	pub type UnmaskShares<T: Config> = StorageNMap<
		_,
		(
			NMapKey<Blake2_128Concat, TaskId>,
			NMapKey<Twox64Concat, RoundIndex>,
			NMapKey<Blake2_128Concat, T::AccountId>,
		),
		ContentRef,
		OptionQuery,
	>;

	/// Bonded verifiers of each task and their (native, held) bonds.
	#[pallet::storage]
	pub type Verifiers<T: Config> = StorageDoubleMap<
		_,
		Blake2_128Concat,
		TaskId,
		Blake2_128Concat,
		T::AccountId,
		BalanceOf<T>,
		OptionQuery,
	>;

	/// Number of bonded verifiers of each task.
	#[pallet::storage]
	pub type VerifierCount<T: Config> = StorageMap<_, Blake2_128Concat, TaskId, u32, ValueQuery>;

	/// Each bonded verifier's latest attestation of a task's aggregate (an attestation of an
	/// earlier round is stale and ignored).
	#[pallet::storage]
	pub type Attestations<T: Config> = StorageDoubleMap<
		_,
		Blake2_128Concat,
		TaskId,
		Blake2_128Concat,
		T::AccountId,
		Attestation,
		OptionQuery,
	>;

	/// The round in which a verifier last reported a trainer of a task as a free rider, by
	/// (task, trainer, verifier): one report per verifier, trainer and round.
	#[pallet::storage]
	pub type FreeRiderReports<T: Config> = StorageNMap<
		_,
		(
			NMapKey<Blake2_128Concat, TaskId>,
			NMapKey<Blake2_128Concat, T::AccountId>,
			NMapKey<Blake2_128Concat, T::AccountId>,
		),
		RoundIndex,
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
}
