//! Types stored by the pallet and taken by its calls.

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use frame_support::{pallet_prelude::ConstU32, traits::Get, BoundedVec};
use scale_info::TypeInfo;
use sp_runtime::Perbill;

/// Identifier of a registered model.
pub type ModelId = u32;
/// Number of a model version, counted per model from 0.
pub type VersionId = u32;
/// Identifier of a training task.
pub type TaskId = u32;
/// Index of a round within its task, counted from 0.
pub type RoundIndex = u32;
/// Identifier of a governance proposal.
pub type ProposalId = u32;

/// Longest CID the types can carry, in bytes (a CIDv1 with a sha2-256 multihash is 59
/// characters in base32; 128 leaves room for other encodings and hash functions). The length
/// actually accepted is [`crate::Config::MaxCidLen`], at most this.
pub type MaxCidLen = ConstU32<128>;
/// Longest SPDX licence identifier, in bytes.
pub type MaxSpdxLen = ConstU32<64>;
/// Most jurisdictions a model or task may list.
pub type MaxJurisdictions = ConstU32<32>;

/// An ISO 3166-1 alpha-2 country code: two uppercase ASCII letters, e.g. `*b"DE"`.
pub type Jurisdiction = [u8; 2];
/// A bounded list of jurisdictions. Empty means "no restriction".
pub type Jurisdictions = BoundedVec<Jurisdiction, MaxJurisdictions>;

/// A reference to content stored off chain (IPFS). The chain stores references only:
/// never model bytes, data or credentials.
#[derive(
	Clone, Encode, Decode, DecodeWithMemTracking, Eq, PartialEq, Debug, TypeInfo, MaxEncodedLen,
)]
pub struct ContentRef {
	/// The content identifier, as the ASCII bytes of its string form (base32 or base58).
	pub cid: BoundedVec<u8, MaxCidLen>,
	/// sha256 of the content's bytes; every reader checks the bytes against it.
	pub digest: [u8; 32],
	/// Size of the content in bytes.
	pub size: u64,
}

/// Fixed-point training metrics reported with an update or an aggregate.
#[derive(
	Clone,
	Copy,
	Default,
	Encode,
	Decode,
	DecodeWithMemTracking,
	Eq,
	PartialEq,
	Debug,
	TypeInfo,
	MaxEncodedLen,
)]
pub struct Metrics {
	/// Loss in millionths (fixed point with 6 decimals): 1.25 is 1_250_000.
	pub loss_micros: u64,
	/// Accuracy as a fraction.
	pub accuracy: Perbill,
}

/// The terms of a model's licence.
#[derive(
	Clone, Encode, Decode, DecodeWithMemTracking, Eq, PartialEq, Debug, TypeInfo, MaxEncodedLen,
)]
pub enum LicenceTerms {
	/// An SPDX licence identifier such as `Apache-2.0` or `CC-BY-4.0`.
	Spdx(BoundedVec<u8, MaxSpdxLen>),
	/// Custom terms, by content reference.
	Custom(ContentRef),
}

/// A model's licence: terms plus flags clients can act on without reading the terms.
#[derive(
	Clone, Encode, Decode, DecodeWithMemTracking, Eq, PartialEq, Debug, TypeInfo, MaxEncodedLen,
)]
pub struct Licence {
	/// The licence text or identifier.
	pub terms: LicenceTerms,
	/// Commercial use is allowed.
	pub commercial_use: bool,
	/// Attribution is required.
	pub attribution: bool,
	/// Derived weights must be shared under the same terms.
	pub share_alike: bool,
}

/// Lifecycle of a model.
#[derive(
	Clone,
	Copy,
	Encode,
	Decode,
	DecodeWithMemTracking,
	Eq,
	PartialEq,
	Debug,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum ModelStatus {
	/// Usable: tasks may be created for it.
	Active,
	/// Usable, but governance flagged a concern clients should show.
	Flagged,
	/// Not usable: no new tasks, no trainers joining, no rounds opening.
	Suspended,
	/// Retired for good; its deposit has been returned.
	Retired,
}

impl ModelStatus {
	/// Whether tasks may be created, joined and run for a model in this status.
	pub fn is_usable(&self) -> bool {
		matches!(self, ModelStatus::Active | ModelStatus::Flagged)
	}
}

/// A registered model.
#[derive(Clone, Encode, Decode, Eq, PartialEq, Debug, TypeInfo, MaxEncodedLen)]
#[scale_info(skip_type_params(MaxName))]
pub struct Model<AccountId, Balance, BlockNumber, MaxName: Get<u32>> {
	/// Who registered the model and owns its metadata.
	pub owner: AccountId,
	/// Human-readable name (UTF-8).
	pub name: BoundedVec<u8, MaxName>,
	/// Architecture description file.
	pub architecture: ContentRef,
	/// Initial weights file.
	pub initial_weights: ContentRef,
	/// The licence the model and its versions are under.
	pub licence: Licence,
	/// Where trainers may be; empty means anywhere.
	pub jurisdictions: Jurisdictions,
	/// Current status.
	pub status: ModelStatus,
	/// A council suspension awaiting ratification: the block at which it lapses and the
	/// status the model returns to then.
	pub pending_lapse: Option<(BlockNumber, ModelStatus)>,
	/// Deposit held from the owner while the model is not retired.
	pub deposit: Balance,
	/// Block at which the model was registered.
	pub registered_at: BlockNumber,
	/// Number the next version gets.
	pub next_version: VersionId,
	/// The latest version governance approved, if any.
	pub latest_approved: Option<VersionId>,
}

/// Governance status of a model version.
#[derive(
	Clone,
	Copy,
	Encode,
	Decode,
	DecodeWithMemTracking,
	Eq,
	PartialEq,
	Debug,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum VersionStatus {
	/// Produced by a task, awaiting governance.
	Proposed,
	/// Approved by governance: the model's current global weights.
	Approved,
	/// Rejected by governance.
	Rejected,
}

/// Where a version's weights came from.
#[derive(Clone, Encode, Decode, Eq, PartialEq, Debug, TypeInfo, MaxEncodedLen)]
pub struct Provenance {
	/// The task that trained it.
	pub task: TaskId,
	/// The round whose aggregate it is.
	pub round: RoundIndex,
	/// blake2-256 over the digests of the included updates, in the aggregate's order.
	pub updates_digest: [u8; 32],
}

/// A version of a model.
#[derive(Clone, Encode, Decode, Eq, PartialEq, Debug, TypeInfo, MaxEncodedLen)]
pub struct ModelVersion<BlockNumber> {
	/// The weights.
	pub weights: ContentRef,
	/// The approved version the training started from, if any.
	pub parent: Option<VersionId>,
	/// Where it came from.
	pub provenance: Provenance,
	/// Metrics the aggregator reported.
	pub metrics: Metrics,
	/// Governance status.
	pub status: VersionStatus,
	/// Block at which it was proposed.
	pub proposed_at: BlockNumber,
}

/// A trainer's self-declared profile.
#[derive(Clone, Encode, Decode, Eq, PartialEq, Debug, TypeInfo, MaxEncodedLen)]
pub struct TrainerProfile {
	/// Where the trainer (and its data) is.
	pub jurisdiction: Jurisdiction,
	/// Tasks the trainer currently takes part in.
	pub active_tasks: u32,
}

/// What a task's rewards and stakes are paid in.
#[derive(
	Clone,
	Copy,
	Encode,
	Decode,
	DecodeWithMemTracking,
	Eq,
	PartialEq,
	Debug,
	TypeInfo,
	MaxEncodedLen,
	PartialOrd,
	Ord,
)]
pub enum RewardAsset<AssetId> {
	/// The native token, escrowed through holds.
	Native,
	/// A pallet-assets asset, escrowed in the pallet's escrow account.
	Asset(AssetId),
}

/// How an aggregator combines a round's updates (run off chain, deterministically).
#[derive(
	Clone,
	Copy,
	Encode,
	Decode,
	DecodeWithMemTracking,
	Eq,
	PartialEq,
	Debug,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum AggregationRule {
	/// Sample-weighted mean (FedAvg).
	FedAvg,
	/// Coordinate-wise median.
	CoordinateMedian,
	/// Coordinate-wise mean after trimming this share from each end.
	TrimmedMean(Perbill),
	/// FedAvg after clipping each update's L2 norm to this value in millionths.
	NormClippedFedAvg(u64),
}

/// What a sponsor sets when creating a task.
#[derive(
	Clone, Encode, Decode, DecodeWithMemTracking, Eq, PartialEq, Debug, TypeInfo, MaxEncodedLen,
)]
pub struct TaskTerms<Balance, BlockNumber, AssetId> {
	/// What rewards and stakes are paid in.
	pub asset: RewardAsset<AssetId>,
	/// Reward paid out per finalized round; the pool is this times `total_rounds`.
	pub reward_per_round: Balance,
	/// Number of rounds.
	pub total_rounds: u32,
	/// Fewest trainers for a round to open.
	pub min_trainers: u32,
	/// Most trainers that may join.
	pub max_trainers: u32,
	/// Stake each trainer puts up on joining, in the task's asset.
	pub trainer_stake: Balance,
	/// Blocks from a round's opening to its update deadline.
	pub round_length: BlockNumber,
	/// Blocks after an aggregate during which it can be challenged.
	pub challenge_window: BlockNumber,
	/// How updates are combined.
	pub aggregation: AggregationRule,
	/// Where trainers may be (within the model's list); empty means the model's rules only.
	pub jurisdictions: Jurisdictions,
}

/// Lifecycle of a task.
#[derive(
	Clone,
	Copy,
	Encode,
	Decode,
	DecodeWithMemTracking,
	Eq,
	PartialEq,
	Debug,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum TaskStatus {
	/// Accepting trainers; no round has opened yet.
	Open,
	/// At least one round has opened.
	Running,
	/// Every round ran; stakes and leftover pool returned.
	Completed,
	/// Cancelled by the sponsor; stakes and pool returned.
	Cancelled,
	/// Idle too long; stakes and pool returned.
	Expired,
}

impl TaskStatus {
	/// Whether the task still holds funds and may run rounds.
	pub fn is_live(&self) -> bool {
		matches!(self, TaskStatus::Open | TaskStatus::Running)
	}
}

/// The outcome of the latest successfully finalized round of a task.
#[derive(Clone, Encode, Decode, Eq, PartialEq, Debug, TypeInfo, MaxEncodedLen)]
pub struct RoundResult {
	/// The round.
	pub round: RoundIndex,
	/// The aggregated weights.
	pub weights: ContentRef,
	/// Digest of the included updates.
	pub updates_digest: [u8; 32],
	/// Reported metrics.
	pub metrics: Metrics,
}

/// A training task.
#[derive(Clone, Encode, Decode, Eq, PartialEq, Debug, TypeInfo, MaxEncodedLen)]
pub struct Task<AccountId, Balance, BlockNumber, AssetId> {
	/// The model trained.
	pub model: ModelId,
	/// Who funds it.
	pub sponsor: AccountId,
	/// The terms set at creation.
	pub terms: TaskTerms<Balance, BlockNumber, AssetId>,
	/// Current status.
	pub status: TaskStatus,
	/// Reward still escrowed and unpaid.
	pub pool: Balance,
	/// Index the next round gets (= rounds opened so far).
	pub next_round: RoundIndex,
	/// Number of participants.
	pub trainer_count: u32,
	/// The bonded aggregator and its bond (native).
	pub aggregator: Option<(AccountId, Balance)>,
	/// Block since which no round has been running (for expiry).
	pub idle_since: BlockNumber,
	/// The latest successful round's outcome.
	pub last_result: Option<RoundResult>,
}

/// A trainer's membership in a task.
#[derive(Clone, Encode, Decode, Eq, PartialEq, Debug, TypeInfo, MaxEncodedLen)]
pub struct Participant<Balance> {
	/// Stake escrowed, in the task's asset.
	pub stake: Balance,
	/// First round the trainer is expected to submit to.
	pub first_round: RoundIndex,
	/// The trainer asked to leave; its stake is returned when the current round ends.
	pub leaving: bool,
}

/// Lifecycle of a round.
#[derive(
	Clone,
	Copy,
	Encode,
	Decode,
	DecodeWithMemTracking,
	Eq,
	PartialEq,
	Debug,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum RoundStatus {
	/// Accepting updates until the deadline; then awaiting the aggregate.
	Open,
	/// Aggregate submitted; in its challenge window.
	Aggregated,
	/// Aggregate challenged; awaiting the governance vote.
	Challenged,
	/// No (valid) aggregate: pays no rewards when finalized.
	Failed,
}

/// An aggregator's result for a round.
#[derive(Clone, Encode, Decode, Eq, PartialEq, Debug, TypeInfo, MaxEncodedLen)]
#[scale_info(skip_type_params(MaxTrainers))]
pub struct Aggregate<AccountId, BlockNumber, MaxTrainers: Get<u32>> {
	/// Who submitted it.
	pub aggregator: AccountId,
	/// The new global weights.
	pub weights: ContentRef,
	/// The trainers whose updates it includes, in aggregation order.
	pub included: BoundedVec<AccountId, MaxTrainers>,
	/// blake2-256 over the included updates' digests, in that order.
	pub updates_digest: [u8; 32],
	/// Reported metrics of the aggregate.
	pub metrics: Metrics,
	/// Block at which it was submitted.
	pub submitted_at: BlockNumber,
}

/// A pending challenge of a round's aggregate.
#[derive(Clone, Encode, Decode, Eq, PartialEq, Debug, TypeInfo, MaxEncodedLen)]
pub struct Challenge<AccountId, Balance> {
	/// Who challenged.
	pub challenger: AccountId,
	/// The challenger's bond (native, held).
	pub bond: Balance,
	/// The governance proposal deciding it.
	pub proposal: ProposalId,
	/// The challenger's evidence (recomputed aggregate or evaluation report).
	pub evidence: ContentRef,
}

/// The running round of a task.
#[derive(Clone, Encode, Decode, Eq, PartialEq, Debug, TypeInfo, MaxEncodedLen)]
#[scale_info(skip_type_params(MaxTrainers))]
pub struct Round<AccountId, Balance, BlockNumber, MaxTrainers: Get<u32>> {
	/// Index within the task.
	pub index: RoundIndex,
	/// The global weights trainers start from.
	pub base: ContentRef,
	/// The approved model version `base` is, for the task's first round.
	pub base_version: Option<VersionId>,
	/// Block at which it opened.
	pub opened_at: BlockNumber,
	/// Last block at which updates are accepted.
	pub deadline: BlockNumber,
	/// Updates submitted so far.
	pub submissions: u32,
	/// Current status.
	pub status: RoundStatus,
	/// The aggregate, once submitted.
	pub aggregate: Option<Aggregate<AccountId, BlockNumber, MaxTrainers>>,
	/// A pending challenge, if any.
	pub challenge: Option<Challenge<AccountId, Balance>>,
}

/// A trainer's update for a round.
#[derive(Clone, Encode, Decode, Eq, PartialEq, Debug, TypeInfo, MaxEncodedLen)]
pub struct Update<BlockNumber> {
	/// The round it is for.
	pub round: RoundIndex,
	/// The update file.
	pub content: ContentRef,
	/// Local samples trained on; rewards are pro rata to it.
	pub samples: u64,
	/// Locally measured metrics.
	pub metrics: Metrics,
	/// Block at which it was submitted.
	pub submitted_at: BlockNumber,
}

/// Tunable protocol parameters, stored on chain and changed by governance.
#[derive(
	Clone, Encode, Decode, DecodeWithMemTracking, Eq, PartialEq, Debug, TypeInfo, MaxEncodedLen,
)]
pub struct ProtocolParams<Balance, BlockNumber> {
	/// Share of a round's reward paid to the aggregator.
	pub aggregator_fee: Perbill,
	/// Share of stake slashed from a trainer that did not submit in a round it was due in
	/// (and of an aggregator's bond when it misses a round).
	pub non_submit_slash: Perbill,
	/// Native bond an aggregator puts up per task.
	pub aggregator_bond: Balance,
	/// Native bond a challenger puts up.
	pub challenge_bond: Balance,
	/// Native deposit held from a proposer.
	pub proposal_deposit: Balance,
	/// Smallest trainer stake a task may require.
	pub min_trainer_stake: Balance,
	/// Blocks a proposal is open for voting.
	pub voting_period: BlockNumber,
	/// Blocks after a round's deadline within which the aggregate must be submitted.
	pub aggregation_period: BlockNumber,
	/// Blocks a task may sit without a running round before anyone may expire it.
	pub task_idle_timeout: BlockNumber,
	/// Blocks within which governance must ratify a council suspension.
	pub ratification_period: BlockNumber,
	/// Turnout (share of total issuance) a standard proposal needs.
	pub standard_quorum: Perbill,
	/// Share of conviction-weighted votes that must be ayes for a standard proposal.
	pub standard_approval: Perbill,
	/// Turnout a safety proposal needs.
	pub safety_quorum: Perbill,
	/// Share of ayes a safety proposal needs (a supermajority).
	pub safety_approval: Perbill,
}

/// A change of one protocol parameter.
#[derive(
	Clone, Encode, Decode, DecodeWithMemTracking, Eq, PartialEq, Debug, TypeInfo, MaxEncodedLen,
)]
pub enum ParameterChange<Balance, BlockNumber> {
	/// Set [`ProtocolParams::aggregator_fee`] (at most 50%).
	AggregatorFee(Perbill),
	/// Set [`ProtocolParams::non_submit_slash`].
	NonSubmitSlash(Perbill),
	/// Set [`ProtocolParams::aggregator_bond`].
	AggregatorBond(Balance),
	/// Set [`ProtocolParams::challenge_bond`].
	ChallengeBond(Balance),
	/// Set [`ProtocolParams::proposal_deposit`].
	ProposalDeposit(Balance),
	/// Set [`ProtocolParams::min_trainer_stake`].
	MinTrainerStake(Balance),
	/// Set [`ProtocolParams::voting_period`] (at least 1).
	VotingPeriod(BlockNumber),
	/// Set [`ProtocolParams::aggregation_period`] (at least 1).
	AggregationPeriod(BlockNumber),
	/// Set [`ProtocolParams::task_idle_timeout`] (at least 1).
	TaskIdleTimeout(BlockNumber),
	/// Set [`ProtocolParams::ratification_period`] (at least 1).
	RatificationPeriod(BlockNumber),
	/// Set [`ProtocolParams::standard_quorum`].
	StandardQuorum(Perbill),
	/// Set [`ProtocolParams::standard_approval`] (at least 50%).
	StandardApproval(Perbill),
	/// Set [`ProtocolParams::safety_quorum`].
	SafetyQuorum(Perbill),
	/// Set [`ProtocolParams::safety_approval`] (more than 50%, at least the standard one).
	SafetyApproval(Perbill),
}

/// A safety action on a model.
#[derive(
	Clone,
	Copy,
	Encode,
	Decode,
	DecodeWithMemTracking,
	Eq,
	PartialEq,
	Debug,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum SafetyAction {
	/// Mark as flagged (still usable).
	Flag,
	/// Suspend (or ratify a council suspension).
	Suspend,
	/// Return to active.
	Reinstate,
	/// Retire for good, returning the owner's deposit.
	Retire,
}

/// What a proposal does when it passes.
#[derive(
	Clone, Encode, Decode, DecodeWithMemTracking, Eq, PartialEq, Debug, TypeInfo, MaxEncodedLen,
)]
pub enum ProposalKind<Balance, BlockNumber> {
	/// Approve a proposed version: it becomes the model's global weights.
	ApproveVersion {
		/// The model.
		model: ModelId,
		/// The version.
		version: VersionId,
	},
	/// Reject a proposed version.
	RejectVersion {
		/// The model.
		model: ModelId,
		/// The version.
		version: VersionId,
	},
	/// Replace a model's licence.
	SetLicence {
		/// The model.
		model: ModelId,
		/// The new licence.
		licence: Licence,
	},
	/// Replace a model's allowed jurisdictions.
	SetJurisdictions {
		/// The model.
		model: ModelId,
		/// The new list (empty: anywhere).
		jurisdictions: Jurisdictions,
	},
	/// A safety action (needs the safety quorum and supermajority).
	Safety {
		/// The model.
		model: ModelId,
		/// The action.
		action: SafetyAction,
	},
	/// Decide a challenge: passing slashes the aggregator and rewards the challenger;
	/// failing slashes the challenger's bond. Opened by `challenge_aggregate` only.
	ResolveChallenge {
		/// The task.
		task: TaskId,
		/// The challenged round.
		round: RoundIndex,
	},
	/// Change a protocol parameter.
	SetParameter(ParameterChange<Balance, BlockNumber>),
}

impl<B, N> ProposalKind<B, N> {
	/// Whether the safety thresholds apply.
	pub fn is_safety(&self) -> bool {
		matches!(self, ProposalKind::Safety { .. })
	}
}

/// Running totals of a proposal's votes.
#[derive(
	Clone,
	Copy,
	Default,
	Encode,
	Decode,
	DecodeWithMemTracking,
	Eq,
	PartialEq,
	Debug,
	TypeInfo,
	MaxEncodedLen,
)]
pub struct Tally<Balance> {
	/// Conviction-weighted ayes.
	pub ayes: Balance,
	/// Conviction-weighted nays.
	pub nays: Balance,
	/// Raw balance that voted (turnout), without conviction.
	pub support: Balance,
}

/// Lifecycle of a proposal.
#[derive(
	Clone,
	Copy,
	Encode,
	Decode,
	DecodeWithMemTracking,
	Eq,
	PartialEq,
	Debug,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum ProposalStatus {
	/// Open for votes (until `ends_at`), then awaiting `close_proposal`.
	Ongoing,
	/// Reached quorum and approval; enacted at close.
	Passed,
	/// Reached quorum but not approval.
	Rejected,
	/// Did not reach quorum; the deposit was slashed.
	NoQuorum,
}

/// A governance proposal.
#[derive(Clone, Encode, Decode, Eq, PartialEq, Debug, TypeInfo, MaxEncodedLen)]
pub struct Proposal<AccountId, Balance, BlockNumber> {
	/// Who proposed it.
	pub proposer: AccountId,
	/// Native deposit held from the proposer while voting is open.
	pub deposit: Balance,
	/// What it does.
	pub kind: ProposalKind<Balance, BlockNumber>,
	/// Block at which it was submitted.
	pub created_at: BlockNumber,
	/// Last block at which votes are accepted.
	pub ends_at: BlockNumber,
	/// Vote totals.
	pub tally: Tally<Balance>,
	/// Current status.
	pub status: ProposalStatus,
}

/// Conviction of a vote: a multiplier of its weight bought with a longer lock, as in OpenGov.
#[derive(
	Clone,
	Copy,
	Encode,
	Decode,
	DecodeWithMemTracking,
	Eq,
	PartialEq,
	Debug,
	TypeInfo,
	MaxEncodedLen,
	Default,
)]
pub enum Conviction {
	/// 0.1x, no lock after the vote ends.
	#[default]
	None,
	/// 1x, locked 1 period.
	Locked1x,
	/// 2x, locked 2 periods.
	Locked2x,
	/// 3x, locked 4 periods.
	Locked3x,
	/// 4x, locked 8 periods.
	Locked4x,
	/// 5x, locked 16 periods.
	Locked5x,
	/// 6x, locked 32 periods.
	Locked6x,
}

impl Conviction {
	/// Number of lock periods the vote stays locked after the proposal's voting ends.
	pub fn lock_periods(&self) -> u32 {
		match self {
			Conviction::None => 0,
			Conviction::Locked1x => 1,
			Conviction::Locked2x => 2,
			Conviction::Locked3x => 4,
			Conviction::Locked4x => 8,
			Conviction::Locked5x => 16,
			Conviction::Locked6x => 32,
		}
	}

	/// The weight of `balance` voted with this conviction.
	pub fn votes<B>(&self, balance: B) -> B
	where
		B: sp_runtime::traits::AtLeast32BitUnsigned + Copy,
	{
		match self {
			Conviction::None => balance / B::from(10u32),
			_ => balance.saturating_mul(B::from(self.multiplier())),
		}
	}

	/// The whole-number multiplier (0 for `None`, whose weight is a tenth).
	pub fn multiplier(&self) -> u32 {
		match self {
			Conviction::None => 0,
			Conviction::Locked1x => 1,
			Conviction::Locked2x => 2,
			Conviction::Locked3x => 3,
			Conviction::Locked4x => 4,
			Conviction::Locked5x => 5,
			Conviction::Locked6x => 6,
		}
	}
}

/// One of an account's votes, kept until its lock expires.
#[derive(Clone, Encode, Decode, Eq, PartialEq, Debug, TypeInfo, MaxEncodedLen)]
pub struct VoteRecord<Balance, BlockNumber> {
	/// The proposal voted on.
	pub proposal: ProposalId,
	/// Aye (true) or nay.
	pub aye: bool,
	/// Balance voted (frozen until `unlock_at`).
	pub balance: Balance,
	/// Conviction.
	pub conviction: Conviction,
	/// First block at which the balance may be unlocked (once the proposal is closed).
	pub unlock_at: BlockNumber,
}
