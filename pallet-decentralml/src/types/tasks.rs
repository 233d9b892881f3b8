//! Tasks: what they pay in, how they aggregate, their terms, status and participants.

use super::*;

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
	/// Sample-weighted FedAvg after scaling every update whose L2 norm exceeds the median of
	/// the round's update norms down to that median: no tuning, robust to boosted and
	/// sign-flipped updates.
	MedianBoundedFedAvg,
	/// `MedianBoundedFedAvg` with each update's weight also multiplied by `max(0, cosine)` of
	/// the update with the coordinate-wise median of the bounded updates: updates pointing
	/// away from the majority weigh nothing (the default of the CLI and the demo).
	MedianAlignedFedAvg,
}

/// What a task promises its trainers about what their updates reveal.
///
/// The DP budgets are per trainer over all its rounds of the task: `max_epsilon` in
/// thousandths at `delta`. The mechanism's own parameters (clip, noise, sampling rate) are in the
/// model's training plan, off chain; each trainer accounts what it spent and refuses a round
/// that would take it past the budget.
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
pub enum Privacy {
	/// Updates are published as trained.
	None,
	/// Example-level DP-SGD in every trainer's local work.
	DpSgd {
		/// Most epsilon a trainer may spend, in thousandths.
		max_epsilon: u32,
		/// The delta the budget is stated at.
		delta: Perbill,
	},
	/// User-level DP-FedAvg: Gaussian noise added to the clipped aggregate.
	DpFedAvg {
		/// Most epsilon the aggregate may spend over the task, in thousandths.
		max_epsilon: u32,
		/// The delta the budget is stated at.
		delta: Perbill,
	},
	/// Pairwise-masked updates: only the sum of a round's updates is revealed. Needs the
	/// norm-clipped FedAvg rule (robust rules cannot see individual updates).
	SecureAggregation,
}

impl Privacy {
	/// Whether the DP budget, if any, is one that can be met: `0 < max_epsilon` and
	/// `0 < delta < 1`.
	pub fn is_valid(&self) -> bool {
		match self {
			Privacy::None | Privacy::SecureAggregation => true,
			Privacy::DpSgd { max_epsilon, delta } | Privacy::DpFedAvg { max_epsilon, delta } =>
				*max_epsilon > 0 && delta.deconstruct() > 0 && *delta < Perbill::one(),
		}
	}
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
	/// What the task promises about what updates reveal.
	pub privacy: Privacy,
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
	/// The weights the round started from (with `weights`, the last server step: what a
	/// server momentum term is computed from).
	pub base: ContentRef,
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
