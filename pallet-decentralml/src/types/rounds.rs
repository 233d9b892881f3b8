//! Rounds: their status, updates, the aggregate and its challenge.

use super::*;

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
	/// Accepting commitments until the deadline, then their openings (reveals) until the
	/// reveal end; then awaiting the aggregate.
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

/// What a verifier found a free rider's update to be (see docs/federated-learning.md).
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
pub enum FreeRiderKind {
	/// A copy of another trainer's update of this round or of an earlier one.
	Copy,
	/// The base model sent back (a zero or near-zero delta).
	ZeroDelta,
	/// Noise related to no other update.
	Noise,
}

/// A bonded verifier's attestation of a round's aggregate.
#[derive(Clone, Encode, Decode, Eq, PartialEq, Debug, TypeInfo, MaxEncodedLen)]
pub struct Attestation {
	/// The round attested.
	pub round: RoundIndex,
	/// The digest the verifier recomputed (all zero: no valid aggregate exists).
	pub digest: [u8; 32],
	/// Whether it equals the aggregate's digest.
	pub agrees: bool,
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

/// A round of a task: open (in `Rounds`) or aggregated and pending (in `PendingRounds`).
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
	/// Last block at which commitments are accepted.
	pub deadline: BlockNumber,
	/// Last block at which reveals are accepted: `deadline + reveal_period`, or earlier when
	/// every expected trainer committed before the deadline (then `that block + reveal_period`).
	pub reveal_end: BlockNumber,
	/// The block from which the aggregate may be submitted as far as the previous round is
	/// concerned: the maximum block while a pipelined round's predecessor is pending, the
	/// block it was finalized after that. The aggregate is accepted up to
	/// `aggregation_period` blocks after both this and `reveal_end`.
	pub aggregation_from: BlockNumber,
	/// Trainers due in this round when it opened (later joiners are due from the next one).
	pub expected: u32,
	/// Commitments received so far.
	pub commitments: u32,
	/// Updates revealed (opened commitments) so far.
	pub submissions: u32,
	/// Bonded verifiers whose attested digest equals the aggregate's.
	pub agreements: u32,
	/// Bonded verifiers whose attested digest differs from the aggregate's.
	pub disagreements: u32,
	/// The aggregate's challenge was dismissed: it stands, and takes no more attestations
	/// or challenges.
	pub decided: bool,
	/// Current status.
	pub status: RoundStatus,
	/// The aggregate, once submitted.
	pub aggregate: Option<Aggregate<AccountId, BlockNumber, MaxTrainers>>,
	/// A pending challenge, if any.
	pub challenge: Option<Challenge<AccountId, Balance>>,
}

/// A trainer's commitment to its update for a round: `blake2_256` of the SCALE encoding of
/// `(task_id, round, trainer, cid, digest, samples, salt)` (see [`commitment_of`]).
#[derive(Clone, Encode, Decode, Eq, PartialEq, Debug, TypeInfo, MaxEncodedLen)]
pub struct Commitment<BlockNumber> {
	/// The round it is for.
	pub round: RoundIndex,
	/// The hash the reveal must open.
	pub hash: [u8; 32],
	/// Block at which it was committed.
	pub committed_at: BlockNumber,
}

/// The commitment a trainer publishes for an update: `blake2_256` over the SCALE encoding of
/// `(task_id, round, trainer, cid, digest, samples, salt)`. Binding the trainer and the round
/// means a copied commitment opens to nothing for anyone else.
pub fn commitment_of<AccountId: Encode>(
	task_id: TaskId,
	round: RoundIndex,
	trainer: &AccountId,
	update: &ContentRef,
	samples: u64,
	salt: &[u8; 32],
) -> [u8; 32] {
	use sp_runtime::traits::{BlakeTwo256, Hash};
	BlakeTwo256::hash_of(&(task_id, round, trainer, &update.cid, update.digest, samples, salt)).0
}

/// A trainer's (revealed) update for a round.
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
	/// Bonded verifiers that reported it as a free rider; at the attestation threshold it is
	/// confirmed: it earns nothing and its trainer is slashed as a no-show.
	pub flags: u32,
}
