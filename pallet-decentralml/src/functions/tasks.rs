//! Tasks: creation with a funded pool, joining and leaving, aggregator bonds, and the end of
//! a task (cancelled, expired or completed) that returns every hold and escrow.

use crate::{
	pallet::*,
	types::{Task, *},
};
use alloc::vec::Vec;
use frame_support::{ensure, pallet_prelude::*};
use sp_runtime::traits::{CheckedMul, Saturating, Zero};

impl<T: Config> Pallet<T> {
	/// Create a task for `model_id` sponsored by `who`, escrowing the whole pool.
	pub fn do_create_task(
		who: T::AccountId,
		model_id: ModelId,
		terms: TaskTermsOf<T>,
	) -> DispatchResult {
		let model = Models::<T>::get(model_id).ok_or(Error::<T>::ModelNotFound)?;
		ensure!(model.status.is_usable(), Error::<T>::ModelNotUsable);
		let params = Params::<T>::get();
		ensure!(!terms.reward_per_round.is_zero(), Error::<T>::ZeroReward);
		ensure!(terms.total_rounds > 0, Error::<T>::ZeroRounds);
		ensure!(terms.total_rounds <= T::MaxRoundsPerTask::get(), Error::<T>::TooManyRounds);
		ensure!(terms.min_trainers > 0, Error::<T>::ZeroMinTrainers);
		ensure!(terms.max_trainers >= terms.min_trainers, Error::<T>::MaxTrainersBelowMin);
		ensure!(terms.max_trainers <= T::MaxTrainersPerTask::get(), Error::<T>::TooManyTrainers);
		ensure!(terms.trainer_stake >= params.min_trainer_stake, Error::<T>::StakeBelowMinimum);
		ensure!(!terms.round_length.is_zero(), Error::<T>::ZeroRoundLength);
		ensure!(!terms.challenge_window.is_zero(), Error::<T>::ZeroChallengeWindow);
		Self::validate_jurisdictions(&terms.jurisdictions)?;
		ensure!(terms.privacy.is_valid(), Error::<T>::InvalidPrivacyBudget);
		ensure!(
			terms.privacy != Privacy::SecureAggregation ||
				matches!(terms.aggregation, AggregationRule::NormClippedFedAvg(_)),
			Error::<T>::SecureAggregationNeedsClippedFedAvg
		);
		if !model.jurisdictions.is_empty() {
			ensure!(
				terms.jurisdictions.iter().all(|j| model.jurisdictions.contains(j)),
				Error::<T>::JurisdictionOutsideModel
			);
		}
		let pool = terms
			.reward_per_round
			.checked_mul(&BalanceOf::<T>::from(terms.total_rounds))
			.ok_or(Error::<T>::Overflow)?;
		let task_id = NextTaskId::<T>::get();
		let next = task_id.checked_add(1).ok_or(Error::<T>::TaskIdsExhausted)?;

		if let RewardAsset::Asset(_) = terms.asset {
			// Lets the escrow account hold non-sufficient assets; undone when it is emptied.
			let _ = frame_system::Pallet::<T>::inc_providers(&Self::task_account(task_id));
		}
		Self::escrow_in(task_id, &terms.asset, HoldReason::TaskReward, &who, pool)?;

		let asset = terms.asset;
		Tasks::<T>::insert(
			task_id,
			Task {
				model: model_id,
				sponsor: who.clone(),
				terms,
				status: TaskStatus::Open,
				pool,
				next_round: 0,
				trainer_count: 0,
				aggregator: None,
				idle_since: Self::now(),
				last_result: None,
			},
		);
		NextTaskId::<T>::put(next);
		Self::deposit_event(Event::TaskCreated { task_id, model_id, sponsor: who, asset, pool });
		Ok(())
	}

	/// End a task: refund the pool, return stakes and the aggregator's and verifiers' bonds, propose the final
	/// version when completed. Returns the number of trainers released.
	pub(crate) fn end_task(task_id: TaskId, task: &mut TaskOf<T>, status: TaskStatus) -> u32 {
		let asset = task.terms.asset;
		let participants: Vec<_> = Participants::<T>::drain_prefix(task_id).collect();
		let count = participants.len() as u32;
		let mut refunded = task.pool;
		let returned: Vec<(T::AccountId, BalanceOf<T>)> = match asset {
			RewardAsset::Native => {
				Self::release_native(HoldReason::TaskReward, &task.sponsor, task.pool);
				participants
					.into_iter()
					.map(|(trainer, p)| {
						Self::release_native(HoldReason::TrainerStake, &trainer, p.stake);
						(trainer, p.stake)
					})
					.collect()
			},
			RewardAsset::Asset(id) => {
				let mut owed: Vec<(T::AccountId, BalanceOf<T>, bool)> =
					participants.into_iter().map(|(t, p)| (t, p.stake, true)).collect();
				owed.push((task.sponsor.clone(), task.pool, false));
				let paid = Self::empty_asset_escrow(task_id, id, &task.sponsor, owed);
				// The sponsor's entries (its pool refund and any sweep) are its refund.
				refunded = Zero::zero();
				let mut stakes = Vec::with_capacity(paid.len());
				for (who, amount, trainer) in paid {
					if trainer {
						stakes.push((who, amount));
					} else {
						refunded = refunded.saturating_add(amount);
					}
				}
				stakes
			},
		};
		for (trainer, stake) in returned {
			Self::dec_profile(&trainer);
			Self::deposit_event(Event::TrainerLeft { task_id, trainer, stake });
		}
		task.pool = Zero::zero();
		task.trainer_count = 0;

		if let Some((aggregator, bond)) = task.aggregator.take() {
			Self::release_native(HoldReason::AggregatorBond, &aggregator, bond);
			Self::deposit_event(Event::AggregatorUnbonded { task_id, aggregator, bond });
		}
		Self::release_verifiers(task_id);
		Rounds::<T>::remove(task_id);
		PendingRounds::<T>::remove(task_id);
		// At most two rounds (one pending, one open) hold commitments and updates.
		let limit = T::MaxTrainersPerTask::get().saturating_mul(2);
		let _ = Updates::<T>::clear_prefix((task_id,), limit, None);
		let _ = Commitments::<T>::clear_prefix((task_id,), limit, None);
		let _ = UnmaskShares::<T>::clear_prefix((task_id,), limit, None);
		let _ = RoundMembers::<T>::clear_prefix(task_id, 2, None);
		let _ = SecAggKeys::<T>::clear_prefix(task_id, T::MaxTrainersPerTask::get(), None);
		task.status = status;
		if status == TaskStatus::Completed {
			if let Some(result) = task.last_result.clone() {
				Self::propose_version(task.model, task_id, result);
			}
		}
		Self::deposit_event(Event::TaskEnded { task_id, status, refunded });
		count
	}

	/// Whether `task_id` has neither an open nor a pending round.
	fn between_rounds(task_id: TaskId) -> bool {
		!Rounds::<T>::contains_key(task_id) && !PendingRounds::<T>::contains_key(task_id)
	}

	/// Cancel `task_id` on behalf of its sponsor `who`.
	pub fn do_cancel_task(who: T::AccountId, task_id: TaskId) -> DispatchResult {
		let mut task = Tasks::<T>::get(task_id).ok_or(Error::<T>::TaskNotFound)?;
		ensure!(task.sponsor == who, Error::<T>::NotSponsor);
		ensure!(task.status.is_live(), Error::<T>::TaskNotLive);
		ensure!(Self::between_rounds(task_id), Error::<T>::RoundInProgress);
		Self::end_task(task_id, &mut task, TaskStatus::Cancelled);
		Tasks::<T>::insert(task_id, task);
		Ok(())
	}

	/// Expire an idle task.
	pub fn do_expire_task(task_id: TaskId) -> DispatchResult {
		let mut task = Tasks::<T>::get(task_id).ok_or(Error::<T>::TaskNotFound)?;
		ensure!(task.status.is_live(), Error::<T>::TaskNotLive);
		ensure!(Self::between_rounds(task_id), Error::<T>::RoundInProgress);
		let timeout = Params::<T>::get().task_idle_timeout;
		ensure!(
			Self::now() > task.idle_since.saturating_add(timeout),
			Error::<T>::TaskNotIdleLongEnough
		);
		Self::end_task(task_id, &mut task, TaskStatus::Expired);
		Tasks::<T>::insert(task_id, task);
		Ok(())
	}

	/// `who` joins `task_id` as a trainer.
	pub fn do_join_task(who: T::AccountId, task_id: TaskId) -> DispatchResult {
		let mut task = Tasks::<T>::get(task_id).ok_or(Error::<T>::TaskNotFound)?;
		ensure!(task.status.is_live(), Error::<T>::TaskNotLive);
		ensure!(!Participants::<T>::contains_key(task_id, &who), Error::<T>::AlreadyJoined);
		ensure!(task.trainer_count < task.terms.max_trainers, Error::<T>::TaskFull);
		let model = Models::<T>::get(task.model).ok_or(Error::<T>::ModelNotFound)?;
		ensure!(model.status.is_usable(), Error::<T>::ModelNotUsable);
		let mut profile = TrainerProfiles::<T>::get(&who).ok_or(Error::<T>::NoTrainerProfile)?;
		ensure!(
			Self::allows(&model.jurisdictions, &profile.jurisdiction),
			Error::<T>::JurisdictionNotAllowedByModel
		);
		ensure!(
			Self::allows(&task.terms.jurisdictions, &profile.jurisdiction),
			Error::<T>::JurisdictionNotAllowedByTask
		);
		profile.active_tasks = profile.active_tasks.checked_add(1).ok_or(Error::<T>::Overflow)?;
		task.trainer_count = task.trainer_count.checked_add(1).ok_or(Error::<T>::Overflow)?;
		let first_round = match Rounds::<T>::get(task_id) {
			Some(round) => round.index.saturating_add(1),
			None => task.next_round,
		};
		let stake = task.terms.trainer_stake;
		Self::escrow_in(task_id, &task.terms.asset, HoldReason::TrainerStake, &who, stake)?;

		Participants::<T>::insert(
			task_id,
			&who,
			Participant { stake, first_round, leaving: false },
		);
		TrainerProfiles::<T>::insert(&who, profile);
		Tasks::<T>::insert(task_id, task);
		Self::deposit_event(Event::TrainerJoined { task_id, trainer: who, stake });
		Ok(())
	}

	/// Return a trainer's stake and remove it from the task. Returns false (and changes
	/// nothing) when an asset stake cannot be moved out of escrow now.
	pub(super) fn try_remove_participant(
		task_id: TaskId,
		task: &mut TaskOf<T>,
		who: &T::AccountId,
		stake: BalanceOf<T>,
	) -> bool {
		if !Self::return_escrow(task_id, &task.terms.asset, HoldReason::TrainerStake, who, stake) {
			return false;
		}
		// Only a trainer due in no live round leaves at once, so it has no commitment or
		// update to forget; a round's are cleared when it is finalized.
		Participants::<T>::remove(task_id, who);
		SecAggKeys::<T>::remove(task_id, who);
		task.trainer_count = task.trainer_count.saturating_sub(1);
		Self::dec_profile(who);
		Self::deposit_event(Event::TrainerLeft { task_id, trainer: who.clone(), stake });
		true
	}

	/// `who` leaves `task_id`, now or when the running round ends.
	pub fn do_leave_task(who: T::AccountId, task_id: TaskId) -> DispatchResult {
		let mut task = Tasks::<T>::get(task_id).ok_or(Error::<T>::TaskNotFound)?;
		ensure!(task.status.is_live(), Error::<T>::TaskNotLive);
		let mut participant =
			Participants::<T>::get(task_id, &who).ok_or(Error::<T>::NotParticipant)?;
		ensure!(!participant.leaving, Error::<T>::AlreadyLeaving);
		// The latest live round: the open one, else the pending one.
		let latest = Rounds::<T>::get(task_id).or_else(|| PendingRounds::<T>::get(task_id));
		if let Some(round) = latest {
			if participant.first_round <= round.index {
				participant.leaving = true;
				Participants::<T>::insert(task_id, &who, participant);
				Self::deposit_event(Event::TrainerLeaving { task_id, trainer: who });
				return Ok(());
			}
		}
		ensure!(
			Self::try_remove_participant(task_id, &mut task, &who, participant.stake),
			Error::<T>::AssetTransferFailed
		);
		Tasks::<T>::insert(task_id, task);
		Ok(())
	}

	/// `who` becomes `task_id`'s aggregator.
	pub fn do_bond_aggregator(who: T::AccountId, task_id: TaskId) -> DispatchResult {
		let mut task = Tasks::<T>::get(task_id).ok_or(Error::<T>::TaskNotFound)?;
		ensure!(task.status.is_live(), Error::<T>::TaskNotLive);
		ensure!(task.aggregator.is_none(), Error::<T>::AggregatorAlreadyBonded);
		ensure!(!Verifiers::<T>::contains_key(task_id, &who), Error::<T>::AggregatorCannotVerify);
		let bond = Params::<T>::get().aggregator_bond;
		Self::escrow_in(task_id, &RewardAsset::Native, HoldReason::AggregatorBond, &who, bond)?;
		task.aggregator = Some((who.clone(), bond));
		Tasks::<T>::insert(task_id, task);
		Self::deposit_event(Event::AggregatorBonded { task_id, aggregator: who, bond });
		Ok(())
	}

	/// `who` stops aggregating for `task_id`.
	pub fn do_unbond_aggregator(who: T::AccountId, task_id: TaskId) -> DispatchResult {
		let mut task = Tasks::<T>::get(task_id).ok_or(Error::<T>::TaskNotFound)?;
		let (aggregator, bond) = task.aggregator.clone().ok_or(Error::<T>::NoAggregator)?;
		ensure!(aggregator == who, Error::<T>::NotAggregator);
		ensure!(Self::between_rounds(task_id), Error::<T>::RoundInProgress);
		Self::release_native(HoldReason::AggregatorBond, &who, bond);
		task.aggregator = None;
		Tasks::<T>::insert(task_id, task);
		Self::deposit_event(Event::AggregatorUnbonded { task_id, aggregator: who, bond });
		Ok(())
	}
}
