//! The pallet's calls: each checks its origin and hands its arguments to one `do_*` function
//! (in `functions/` or `governance.rs`), which validates them and writes storage.

use frame_support::pallet_macros::pallet_section;

/// Imported into [`crate::pallet`] by `#[import_section(calls::calls)]`.
#[pallet_section]
mod calls {
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
			Self::do_register_model(
				who,
				name,
				architecture,
				initial_weights,
				licence,
				jurisdictions,
			)
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
		#[pallet::weight(T::WeightInfo::cancel_task(T::MaxTrainersPerTask::get())
			.saturating_add(T::WeightInfo::settle_verifiers(T::MaxVerifiersPerTask::get())))]
		pub fn cancel_task(origin: OriginFor<T>, task_id: TaskId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_cancel_task(who, task_id)
		}

		/// End a task that has had no running round for `task_idle_timeout` blocks: stakes,
		/// bonds and the pool are returned. Anyone may call.
		///
		/// Emits [`Event::TaskEnded`].
		#[pallet::call_index(6)]
		#[pallet::weight(T::WeightInfo::expire_task(T::MaxTrainersPerTask::get())
			.saturating_add(T::WeightInfo::settle_verifiers(T::MaxVerifiersPerTask::get())))]
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
		#[pallet::weight(T::WeightInfo::start_round()
			.saturating_add(T::WeightInfo::snapshot_members(T::MaxTrainersPerTask::get())))]
		pub fn start_round(origin: OriginFor<T>, task_id: TaskId) -> DispatchResult {
			ensure_signed(origin)?;
			Self::do_start_round(task_id)
		}

		/// Commit to one's update for the running round, before its deadline, once per round:
		/// `commitment` is `blake2_256(SCALE(task_id, round, trainer, cid, digest, samples,
		/// salt))` and the update's bytes stay private until the reveal.
		///
		/// Emits [`Event::UpdateCommitted`].
		#[pallet::call_index(12)]
		#[pallet::weight(T::WeightInfo::commit_update())]
		pub fn commit_update(
			origin: OriginFor<T>,
			task_id: TaskId,
			round: RoundIndex,
			commitment: [u8; 32],
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_commit_update(who, task_id, round, commitment)
		}

		/// Submit the round's aggregate and the updates it includes (as the task's
		/// aggregator), after the deadline (or once every trainer submitted) and within the
		/// aggregation period. Starts the challenge window.
		///
		/// Emits [`Event::AggregateSubmitted`].
		#[pallet::call_index(13)]
		#[pallet::weight(T::WeightInfo::submit_aggregate(included.len() as u32)
			.saturating_add(T::WeightInfo::snapshot_members(T::MaxTrainersPerTask::get())))]
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
		#[pallet::weight(T::WeightInfo::finalize_round(T::MaxTrainersPerTask::get())
			.saturating_add(T::WeightInfo::settle_verifiers(T::MaxVerifiersPerTask::get()))
			.saturating_add(T::WeightInfo::snapshot_members(T::MaxTrainersPerTask::get())))]
		pub fn finalize_round(
			origin: OriginFor<T>,
			task_id: TaskId,
			round: RoundIndex,
		) -> DispatchResultWithPostInfo {
			ensure_signed(origin)?;
			// Verifiers are released only when this was the task's last round.
			let verifiers = VerifierCount::<T>::get(task_id);
			let trainers = Self::do_finalize_round(task_id, round)?;
			Ok(Some(
				T::WeightInfo::finalize_round(trainers)
					.saturating_add(T::WeightInfo::settle_verifiers(verifiers)),
			)
			.into())
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
		#[pallet::weight(T::WeightInfo::close_proposal()
			.saturating_add(T::WeightInfo::settle_verifiers(T::MaxVerifiersPerTask::get())))]
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

		/// Reveal the update one committed to, in the round's reveal window (after the
		/// deadline, or once every due trainer committed): the update, its samples and metrics
		/// and the commitment's salt. A commitment never revealed counts as a missed round.
		///
		/// Emits [`Event::UpdateRevealed`].
		#[pallet::call_index(21)]
		#[pallet::weight(T::WeightInfo::reveal_update())]
		pub fn reveal_update(
			origin: OriginFor<T>,
			task_id: TaskId,
			round: RoundIndex,
			update: ContentRef,
			samples: u64,
			metrics: Metrics,
			salt: [u8; 32],
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_reveal_update(who, task_id, round, update, samples, metrics, salt)
		}

		/// Bond `verifier_bond` to verify `task_id`'s aggregates (not as its aggregator).
		///
		/// Emits [`Event::VerifierBonded`].
		#[pallet::call_index(22)]
		#[pallet::weight(T::WeightInfo::bond_verifier())]
		pub fn bond_verifier(origin: OriginFor<T>, task_id: TaskId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_bond_verifier(who, task_id)
		}

		/// Stop verifying `task_id` and release the bond; not while one's attestation of the
		/// running round's aggregate is undecided.
		///
		/// Emits [`Event::VerifierUnbonded`].
		#[pallet::call_index(23)]
		#[pallet::weight(T::WeightInfo::unbond_verifier())]
		pub fn unbond_verifier(origin: OriginFor<T>, task_id: TaskId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_unbond_verifier(who, task_id)
		}

		/// Attest, as a bonded verifier, the digest one recomputed for a round's aggregate
		/// (in its challenge window, or while it is challenged; all zero when no valid
		/// aggregate exists). When `attestation_threshold` verifiers disagree with the
		/// aggregate, the round fails and the aggregator is slashed; when as many agree with a
		/// challenged one, the challenger loses its bond. Overruled verifiers lose theirs.
		///
		/// Emits [`Event::AggregateAttested`] and, when it decides, the decision's events.
		#[pallet::call_index(24)]
		#[pallet::weight(T::WeightInfo::attest_aggregate(T::MaxVerifiersPerTask::get()))]
		pub fn attest_aggregate(
			origin: OriginFor<T>,
			task_id: TaskId,
			round: RoundIndex,
			digest: [u8; 32],
		) -> DispatchResultWithPostInfo {
			let who = ensure_signed(origin)?;
			let settled = Self::do_attest_aggregate(who, task_id, round, digest)?;
			Ok(Some(T::WeightInfo::attest_aggregate(settled)).into())
		}

		/// Report, as a bonded verifier, a revealed update of the running round as a free
		/// rider (`evidence`: what it duplicates, or a report). At `attestation_threshold`
		/// reports it earns nothing and its trainer is slashed as a no-show at finalization.
		///
		/// Emits [`Event::FreeRiderReported`] (and [`Event::FreeRiderConfirmed`]).
		#[pallet::call_index(25)]
		#[pallet::weight(T::WeightInfo::report_free_rider())]
		pub fn report_free_rider(
			origin: OriginFor<T>,
			task_id: TaskId,
			round: RoundIndex,
			trainer: T::AccountId,
			kind: FreeRiderKind,
			evidence: ContentRef,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_report_free_rider(who, task_id, round, trainer, kind, evidence)
		}

		/// Publish, as a trainer of a secure-aggregation task, one's key document: the X25519
		/// public keys other trainers mask with and encrypt shares to. Once per task; a round
		/// masks among the trainers that had published keys when it opened.
		///
		/// Emits [`Event::KeysPublished`].
		#[pallet::call_index(26)]
		#[pallet::weight(T::WeightInfo::publish_keys())]
		pub fn publish_keys(
			origin: OriginFor<T>,
			task_id: TaskId,
			keys: ContentRef,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_publish_keys(who, task_id, keys)
		}

		/// Publish, as a member of a secure-aggregation round, one's unmasking shares once the
		/// reveals are done: the shares of the self-masks of the members that submitted and of
		/// the pairwise seeds with those that did not, so the sum can be unmasked without them.
		///
		/// Emits [`Event::SharesPublished`].
		#[pallet::call_index(27)]
		#[pallet::weight(T::WeightInfo::publish_shares())]
		pub fn publish_shares(
			origin: OriginFor<T>,
			task_id: TaskId,
			round: RoundIndex,
			shares: ContentRef,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_publish_shares(who, task_id, round, shares)
		}
	}
}
