//! Models, their versions and licences' status, and trainers' profiles.

use super::*;

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
