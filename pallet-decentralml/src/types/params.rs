//! Tunable protocol parameters and a governance change of one of them.

use super::*;

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
	/// Blocks after a round's reveal end within which the aggregate must be submitted.
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
	/// Blocks after a round's commitment deadline (or after its last expected commitment)
	/// within which trainers reveal their updates.
	pub reveal_period: BlockNumber,
	/// Native bond a verifier puts up per task; lost when its attestation is overruled.
	pub verifier_bond: Balance,
	/// Bonded verifiers that must attest the same verdict (or report the same free rider) for
	/// it to take effect without a vote (at least 1).
	pub attestation_threshold: u32,
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
	/// Set [`ProtocolParams::reveal_period`] (at least 1).
	RevealPeriod(BlockNumber),
	/// Set [`ProtocolParams::verifier_bond`].
	VerifierBond(Balance),
	/// Set [`ProtocolParams::attestation_threshold`] (at least 1).
	AttestationThreshold(u32),
}
