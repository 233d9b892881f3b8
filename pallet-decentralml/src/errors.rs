//! The pallet's errors, each saying what was wrong and, where it helps, what to do.

use frame_support::pallet_macros::pallet_section;

/// Imported into [`crate::pallet`] by `#[import_section(errors::errors)]`.
#[pallet_section]
mod errors {
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
		/// The trainer already committed to an update this round.
		AlreadyCommitted,
		/// The trainer has no commitment for this round to reveal.
		NotCommitted,
		/// The trainer already revealed its update this round.
		AlreadyRevealed,
		/// The revealed update, samples or salt do not open the trainer's commitment; check
		/// them and reveal again within the window.
		CommitmentMismatch,
		/// Reveals open after the commitment deadline (or once every trainer committed).
		RevealNotOpen,
		/// The round's reveal window has closed.
		RevealPeriodOver,
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
		/// The account is already a bonded verifier of the task.
		AlreadyVerifier,
		/// The task has `MaxVerifiersPerTask` bonded verifiers.
		TooManyVerifiers,
		/// Only a bonded verifier of the task may do this.
		NotVerifier,
		/// The task's aggregator cannot verify its own aggregates.
		AggregatorCannotVerify,
		/// The verifier already attested this round's aggregate.
		AlreadyAttested,
		/// The aggregate is no longer open to attestation (its window closed or it was decided).
		AttestationClosed,
		/// The verifier attested the running round's aggregate, which is undecided: unbond after.
		VerifierBusy,
		/// The verifier already reported this trainer in this round.
		AlreadyReported,
		/// The round's rewards are settled; free riders can no longer be reported.
		ReportClosed,
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
		/// The previous round is still pending (in its challenge window, challenged or
		/// failed): finalize it first.
		PreviousRoundPending,
		/// A DP privacy term needs `max_epsilon > 0` and `0 < delta < 1`.
		InvalidPrivacyBudget,
		/// Secure aggregation needs the `NormClippedFedAvg` rule: robust rules cannot see the
		/// individual updates it masks.
		SecureAggregationNeedsClippedFedAvg,
		/// The task does not use secure aggregation.
		NotSecureAggregation,
		/// The trainer's keys for this task are already published (they cannot change while
		/// it takes part).
		KeysAlreadyPublished,
		/// The trainer is not among the round's secure-aggregation members (it had published
		/// no keys when the round opened).
		NotRoundMember,
		/// The trainer already published its shares for this round.
		SharesAlreadyPublished,
	}
}
