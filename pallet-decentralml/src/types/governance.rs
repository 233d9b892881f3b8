//! Governance: safety actions, proposals, tallies, conviction and vote records.

use super::*;

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
	/// A challenge decided by the bonded verifiers' attestations before the vote closed.
	Attested,
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
