//! The pallet's events: every state change a client may want to follow.

use frame_support::pallet_macros::pallet_section;

/// Imported into [`crate::pallet`] by `#[import_section(events::events)]`.
#[pallet_section]
mod events {
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
		/// A verifier bonded for a task.
		VerifierBonded {
			/// The task.
			task_id: TaskId,
			/// The verifier.
			verifier: T::AccountId,
			/// The bond held.
			bond: BalanceOf<T>,
		},
		/// A verifier's bond was released (it unbonded or the task ended).
		VerifierUnbonded {
			/// The task.
			task_id: TaskId,
			/// The verifier.
			verifier: T::AccountId,
			/// The bond released.
			bond: BalanceOf<T>,
		},
		/// A bonded verifier attested the digest it recomputed for a round's aggregate.
		AggregateAttested {
			/// The task.
			task_id: TaskId,
			/// The round.
			round: RoundIndex,
			/// The verifier.
			verifier: T::AccountId,
			/// The digest it recomputed.
			digest: [u8; 32],
			/// Whether it equals the aggregate's.
			agrees: bool,
		},
		/// The threshold of verifiers disagreed with an unchallenged aggregate: the round failed
		/// and the aggregator's bond went to the sponsor.
		AggregateRejectedByVerifiers {
			/// The task.
			task_id: TaskId,
			/// The round.
			round: RoundIndex,
			/// The slashed aggregator.
			aggregator: T::AccountId,
			/// Amount moved to the sponsor.
			slashed: BalanceOf<T>,
		},
		/// A verifier's attestation was overruled: its bond went to the side that was right.
		VerifierSlashed {
			/// The task.
			task_id: TaskId,
			/// The round.
			round: RoundIndex,
			/// The verifier.
			verifier: T::AccountId,
			/// Amount moved.
			amount: BalanceOf<T>,
		},
		/// A bonded verifier reported a revealed update as a free rider.
		FreeRiderReported {
			/// The task.
			task_id: TaskId,
			/// The round.
			round: RoundIndex,
			/// The reported trainer.
			trainer: T::AccountId,
			/// The verifier.
			verifier: T::AccountId,
			/// What the update was found to be.
			kind: FreeRiderKind,
			/// The flagged update.
			update: ContentRef,
			/// What it duplicates (the rival's or an earlier update, the base, or a report).
			evidence: ContentRef,
		},
		/// The threshold of verifiers reported the same update: it earns nothing and its
		/// trainer is slashed as a no-show when the round is finalized.
		FreeRiderConfirmed {
			/// The task.
			task_id: TaskId,
			/// The round.
			round: RoundIndex,
			/// The trainer.
			trainer: T::AccountId,
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
		/// A trainer committed to its update (only the hash is public).
		UpdateCommitted {
			/// The task.
			task_id: TaskId,
			/// The round.
			round: RoundIndex,
			/// The trainer.
			trainer: T::AccountId,
		},
		/// A trainer revealed the update it committed to.
		UpdateRevealed {
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
		/// A pipelined round was voided because the aggregate it started from was overturned:
		/// no one is paid or slashed for it; the next round starts from the last standing
		/// result.
		RoundVoided {
			/// The task.
			task_id: TaskId,
			/// The round voided.
			round: RoundIndex,
			/// The round whose aggregate was overturned.
			overturned: RoundIndex,
		},
		/// A trainer published its secure-aggregation keys for a task.
		KeysPublished {
			/// The task.
			task_id: TaskId,
			/// The trainer.
			trainer: T::AccountId,
			/// Its key document.
			keys: ContentRef,
		},
		/// A round member published its unmasking shares.
		SharesPublished {
			/// The task.
			task_id: TaskId,
			/// The round.
			round: RoundIndex,
			/// The member.
			trainer: T::AccountId,
		},
	}
}
