//! Rounds: opening a round, trainers' updates, the aggregate, finalization and payout.

use crate::{pallet::*, types::*};
use alloc::{collections::btree_set::BTreeSet, vec::Vec};
use frame_support::{ensure, pallet_prelude::*};
use frame_system::pallet_prelude::BlockNumberFor;
use sp_runtime::{
	helpers_128bit::multiply_by_rational_with_rounding,
	traits::{
		BlakeTwo256, Bounded, CheckedAdd, Hash, SaturatedConversion, Saturating, Zero,
	},
	Rounding,
};

impl<T: Config> Pallet<T> {
	/// Open `task_id`'s next round (anyone).
	pub fn do_start_round(task_id: TaskId) -> DispatchResult {
		let mut task = Tasks::<T>::get(task_id).ok_or(Error::<T>::TaskNotFound)?;
		ensure!(task.status.is_live(), Error::<T>::TaskNotLive);
		ensure!(!Rounds::<T>::contains_key(task_id), Error::<T>::RoundInProgress);
		ensure!(!PendingRounds::<T>::contains_key(task_id), Error::<T>::PreviousRoundPending);
		Self::open_round(task_id, &mut task, None)?;
		Tasks::<T>::insert(task_id, task);
		Ok(())
	}

	/// Open the next round of a live task with no open round. Writes only on success.
	/// `pipelined`: the aggregate of the pending round, which the new round starts from
	/// (its own aggregate waits until that round is finalized); otherwise the round starts
	/// from the task's last result.
	pub(super) fn open_round(
		task_id: TaskId,
		task: &mut TaskOf<T>,
		pipelined: Option<ContentRef>,
	) -> DispatchResult {
		ensure!(task.next_round < task.terms.total_rounds, Error::<T>::TaskNotLive);
		ensure!(task.aggregator.is_some(), Error::<T>::NoAggregator);
		ensure!(task.trainer_count >= task.terms.min_trainers, Error::<T>::NotEnoughTrainers);
		let model = Models::<T>::get(task.model).ok_or(Error::<T>::ModelNotFound)?;
		ensure!(model.status.is_usable(), Error::<T>::ModelNotUsable);
		let now = Self::now();
		let deadline = now.checked_add(&task.terms.round_length).ok_or(Error::<T>::Overflow)?;
		let reveal_end =
			deadline.checked_add(&Params::<T>::get().reveal_period).ok_or(Error::<T>::Overflow)?;
		let aggregation_from = if pipelined.is_some() { BlockNumberFor::<T>::max_value() } else { now };
		let index = task.next_round;
		let next = index.checked_add(1).ok_or(Error::<T>::Overflow)?;
		let (base, base_version) = match (pipelined, &task.last_result) {
			(Some(weights), _) => (weights, None),
			(None, Some(result)) => (result.weights.clone(), None),
			(None, None) => match model.latest_approved.and_then(|v| Versions::<T>::get(task.model, v)) {
				Some(version) => (version.weights, model.latest_approved),
				None => (model.initial_weights.clone(), None),
			},
		};
		if task.terms.privacy == Privacy::SecureAggregation {
			RoundMembers::<T>::insert(task_id, index, Self::keyed_participants(task_id));
		}
		task.next_round = next;
		task.status = TaskStatus::Running;
		Rounds::<T>::insert(
			task_id,
			Round {
				index,
				base: base.clone(),
				base_version,
				opened_at: now,
				deadline,
				reveal_end,
				aggregation_from,
				expected: task.trainer_count,
				commitments: 0,
				submissions: 0,
				agreements: 0,
				disagreements: 0,
				decided: false,
				status: RoundStatus::Open,
				aggregate: None,
				challenge: None,
			},
		);
		Self::deposit_event(Event::RoundOpened { task_id, round: index, base, deadline });
		Ok(())
	}

	/// `who` commits to its update for `round` of `task_id`: only the hash is public until the
	/// deadline, so no one can copy an update before committing to its own.
	pub fn do_commit_update(
		who: T::AccountId,
		task_id: TaskId,
		round: RoundIndex,
		hash: [u8; 32],
	) -> DispatchResult {
		// A round exists only for an existing task, so the task itself need not be read.
		let mut current = Rounds::<T>::get(task_id).ok_or(Error::<T>::NoActiveRound)?;
		ensure!(current.index == round, Error::<T>::WrongRound);
		ensure!(current.status == RoundStatus::Open, Error::<T>::RoundNotOpen);
		let now = Self::now();
		ensure!(now <= current.deadline, Error::<T>::DeadlinePassed);
		let participant =
			Participants::<T>::get(task_id, &who).ok_or(Error::<T>::NotParticipant)?;
		ensure!(participant.first_round <= round, Error::<T>::NotDueThisRound);
		if let Some(members) = RoundMembers::<T>::get(task_id, round) {
			ensure!(members.contains(&who), Error::<T>::NotRoundMember);
		}
		let key = (task_id, round, &who);
		ensure!(!Commitments::<T>::contains_key(key), Error::<T>::AlreadyCommitted);
		current.commitments = current.commitments.checked_add(1).ok_or(Error::<T>::Overflow)?;
		if current.commitments >= current.expected {
			// Everyone due has committed: nothing is left to copy, so reveals open now.
			let end = now.saturating_add(Params::<T>::get().reveal_period);
			current.reveal_end = current.reveal_end.min(end);
		}
		Commitments::<T>::insert(key, Commitment { round, hash, committed_at: now });
		Rounds::<T>::insert(task_id, current);
		Self::deposit_event(Event::UpdateCommitted { task_id, round, trainer: who });
		Ok(())
	}

	/// Whether `round` accepts reveals at `now`: after the commitment deadline (or once every
	/// expected trainer committed) and up to the reveal end.
	pub(super) fn reveals_open(current: &RoundOf<T>, now: BlockNumberFor<T>) -> bool {
		(now > current.deadline || current.commitments >= current.expected) &&
			now <= current.reveal_end
	}

	/// Whether `round` is past its reveal phase at `now`: the reveal end passed, or every
	/// commitment was revealed once reveals opened.
	pub(super) fn reveals_done(current: &RoundOf<T>, now: BlockNumberFor<T>) -> bool {
		now > current.reveal_end ||
			(Self::reveals_open(current, now) && current.submissions >= current.commitments)
	}

	/// `who` opens its commitment for `round` of `task_id` with the update it committed to.
	/// A reveal that does not match is rejected with no state change and may be retried
	/// within the window.
	#[allow(clippy::too_many_arguments)]
	pub fn do_reveal_update(
		who: T::AccountId,
		task_id: TaskId,
		round: RoundIndex,
		update: ContentRef,
		samples: u64,
		metrics: Metrics,
		salt: [u8; 32],
	) -> DispatchResult {
		Self::validate_content(&update)?;
		ensure!(samples > 0, Error::<T>::ZeroSamples);
		let mut current = Rounds::<T>::get(task_id).ok_or(Error::<T>::NoActiveRound)?;
		ensure!(current.index == round, Error::<T>::WrongRound);
		ensure!(current.status == RoundStatus::Open, Error::<T>::RoundNotOpen);
		let now = Self::now();
		ensure!(now <= current.reveal_end, Error::<T>::RevealPeriodOver);
		ensure!(Self::reveals_open(&current, now), Error::<T>::RevealNotOpen);
		let key = (task_id, round, &who);
		let commitment = Commitments::<T>::get(key).ok_or(Error::<T>::NotCommitted)?;
		ensure!(!Updates::<T>::contains_key(key), Error::<T>::AlreadyRevealed);
		ensure!(
			commitment_of(task_id, round, &who, &update, samples, &salt) == commitment.hash,
			Error::<T>::CommitmentMismatch
		);
		current.submissions = current.submissions.checked_add(1).ok_or(Error::<T>::Overflow)?;
		Updates::<T>::insert(
			key,
			Update { round, content: update, samples, metrics, submitted_at: now, flags: 0 },
		);
		Rounds::<T>::insert(task_id, current);
		Self::deposit_event(Event::UpdateRevealed { task_id, round, trainer: who, samples });
		Ok(())
	}

	/// The block after which `current`'s aggregate is no longer accepted (and the
	/// aggregator missed it): `aggregation_period` after both its reveal end and the
	/// finalization of the previous round, which it waits for.
	pub(super) fn aggregation_end(
		current: &RoundOf<T>,
		period: BlockNumberFor<T>,
	) -> BlockNumberFor<T> {
		current.reveal_end.max(current.aggregation_from).saturating_add(period)
	}

	/// `who`, the aggregator, submits the aggregate of `round` of `task_id`. The round
	/// becomes pending (its challenge window runs) and the next round opens at once on this
	/// aggregate, so trainers train while the window runs.
	pub fn do_submit_aggregate(
		who: T::AccountId,
		task_id: TaskId,
		round: RoundIndex,
		weights: ContentRef,
		included: IncludedOf<T>,
		metrics: Metrics,
	) -> DispatchResult {
		Self::validate_content(&weights)?;
		ensure!(!included.is_empty(), Error::<T>::EmptyAggregate);
		let mut task = Tasks::<T>::get(task_id).ok_or(Error::<T>::TaskNotFound)?;
		let mut current = Rounds::<T>::get(task_id).ok_or(Error::<T>::NoActiveRound)?;
		ensure!(current.index == round, Error::<T>::WrongRound);
		ensure!(current.status == RoundStatus::Open, Error::<T>::RoundNotOpen);
		ensure!(
			task.aggregator.as_ref().map(|(a, _)| a == &who).unwrap_or(false),
			Error::<T>::NotAggregator
		);
		let now = Self::now();
		// Set to the maximum block while the previous round is pending.
		ensure!(now >= current.aggregation_from, Error::<T>::PreviousRoundPending);
		ensure!(Self::reveals_done(&current, now), Error::<T>::RoundStillOpen);
		let period = Params::<T>::get().aggregation_period;
		ensure!(now <= Self::aggregation_end(&current, period), Error::<T>::AggregationPeriodOver);
		let mut seen = BTreeSet::new();
		let mut digests = Vec::with_capacity(included.len().saturating_mul(32));
		for trainer in included.iter() {
			ensure!(seen.insert(trainer.clone()), Error::<T>::DuplicateIncluded);
			let update =
				Updates::<T>::get((task_id, round, trainer)).ok_or(Error::<T>::UpdateNotFound)?;
			digests.extend_from_slice(&update.content.digest);
		}
		let updates_digest: [u8; 32] = BlakeTwo256::hash(&digests).0;
		let count = included.len() as u32;
		current.status = RoundStatus::Aggregated;
		current.aggregate = Some(Aggregate {
			aggregator: who.clone(),
			weights: weights.clone(),
			included,
			updates_digest,
			metrics,
			submitted_at: now,
		});
		Rounds::<T>::remove(task_id);
		PendingRounds::<T>::insert(task_id, current);
		Self::deposit_event(Event::AggregateSubmitted {
			task_id,
			round,
			aggregator: who,
			weights: weights.clone(),
			included: count,
			updates_digest,
		});
		// Pipelining: the next round starts from this aggregate now. If it cannot open (the
		// last round, too few trainers), finalizing this round tries again.
		if Self::open_round(task_id, &mut task, Some(weights)).is_ok() {
			Tasks::<T>::insert(task_id, task);
		}
		Ok(())
	}

	/// Finalize `round` of `task_id`: the pending round once its challenge window is over
	/// (or it failed), or the open round once it can no longer get an aggregate. Returns
	/// the number of trainers processed (for weight).
	pub fn do_finalize_round(task_id: TaskId, round: RoundIndex) -> Result<u32, DispatchError> {
		let mut task = Tasks::<T>::get(task_id).ok_or(Error::<T>::TaskNotFound)?;
		let pending = PendingRounds::<T>::get(task_id);
		let (current, was_pending) = match pending {
			Some(pending) if pending.index == round => (pending, true),
			pending => {
				let open = Rounds::<T>::get(task_id).ok_or(Error::<T>::NoActiveRound)?;
				ensure!(open.index == round, Error::<T>::WrongRound);
				ensure!(pending.is_none(), Error::<T>::PreviousRoundPending);
				(open, false)
			},
		};
		let now = Self::now();
		let params = Params::<T>::get();
		let succeeded = match current.status {
			RoundStatus::Open => {
				ensure!(now > current.reveal_end, Error::<T>::RoundStillOpen);
				if current.submissions > 0 && task.aggregator.is_some() {
					ensure!(
						now > Self::aggregation_end(&current, params.aggregation_period),
						Error::<T>::AwaitingAggregate
					);
				}
				false
			},
			RoundStatus::Aggregated => {
				let aggregate = current.aggregate.as_ref().ok_or(Error::<T>::NotAggregated)?;
				ensure!(
					now > aggregate.submitted_at.saturating_add(task.terms.challenge_window),
					Error::<T>::ChallengeWindowOpen
				);
				true
			},
			RoundStatus::Challenged => return Err(Error::<T>::RoundUnderChallenge.into()),
			RoundStatus::Failed => false,
		};

		let paid = if succeeded {
			Self::pay_round(task_id, &mut task, &current, &params)
		} else {
			if current.status == RoundStatus::Open &&
				current.submissions > 0 &&
				Self::unmaskable(task_id, round)
			{
				Self::slash_missing_aggregator(task_id, &mut task, round, &params);
			}
			Zero::zero()
		};
		// The round opened on this one's aggregate, if any: it goes on when the aggregate
		// stood (its aggregator may proceed from now on), and is voided when it did not.
		let mut next = None;
		if let Some(mut open) = was_pending.then(|| Rounds::<T>::get(task_id)).flatten() {
			if succeeded {
				open.aggregation_from = now;
				next = Some(open);
			} else {
				Self::void_round(task_id, &mut task, &open, round);
			}
		}
		let trainers =
			Self::settle_participants(task_id, &mut task, &current, &params, next.as_mut());
		let next_open = next.is_some();
		if let Some(open) = next {
			Rounds::<T>::insert(task_id, open);
		}
		Self::clear_round(task_id, round);
		if was_pending {
			PendingRounds::<T>::remove(task_id);
		} else {
			Rounds::<T>::remove(task_id);
		}
		task.idle_since = now;
		Self::deposit_event(Event::RoundFinalized { task_id, round, succeeded, paid });

		if !next_open {
			if task.next_round >= task.terms.total_rounds {
				Self::end_task(task_id, &mut task, TaskStatus::Completed);
			} else {
				// Open the next round at once when possible; otherwise `start_round` does later.
				let _ = Self::open_round(task_id, &mut task, None);
			}
		}
		Tasks::<T>::insert(task_id, task);
		Ok(trainers)
	}

	/// Take a departed trainer's commitment and update out of the open round `open`.
	fn withdraw_from(task_id: TaskId, open: &mut RoundOf<T>, trainer: &T::AccountId) {
		let key = (task_id, open.index, trainer);
		if Commitments::<T>::take(key).is_some() {
			open.commitments = open.commitments.saturating_sub(1);
		}
		if Updates::<T>::take(key).is_some() {
			open.submissions = open.submissions.saturating_sub(1);
		}
		open.expected = open.expected.saturating_sub(1);
	}

	/// Forget the commitments and updates of `round` of `task_id`.
	pub(super) fn clear_round(task_id: TaskId, round: RoundIndex) {
		let limit = T::MaxTrainersPerTask::get();
		let _ = Updates::<T>::clear_prefix((task_id, round), limit, None);
		let _ = Commitments::<T>::clear_prefix((task_id, round), limit, None);
		let _ = UnmaskShares::<T>::clear_prefix((task_id, round), limit, None);
		RoundMembers::<T>::remove(task_id, round);
	}

	/// Void the open round `next` of `task_id`, which started from the overturned aggregate
	/// of round `overturned`: its trainers trained on a rejected model through no fault of
	/// their own, so no one is paid or slashed for it and its commitments and updates go.
	/// The task gets a round in its place (`total_rounds` grows by one; the voided round paid
	/// nothing, so the pool still covers it), which opens from the last standing result.
	fn void_round(
		task_id: TaskId,
		task: &mut TaskOf<T>,
		next: &RoundOf<T>,
		overturned: RoundIndex,
	) {
		task.terms.total_rounds = task.terms.total_rounds.saturating_add(1);
		Self::clear_round(task_id, next.index);
		Rounds::<T>::remove(task_id);
		Self::deposit_event(Event::RoundVoided { task_id, round: next.index, overturned });
	}

	/// Pay a successful round's reward: the aggregator's fee, then pro rata to samples.
	pub(super) fn pay_round(
		task_id: TaskId,
		task: &mut TaskOf<T>,
		current: &RoundOf<T>,
		params: &ParamsOf<T>,
	) -> BalanceOf<T> {
		let Some(aggregate) = current.aggregate.as_ref() else { return Zero::zero() };
		let round = current.index;
		let asset = task.terms.asset;
		let sponsor = task.sponsor.clone();
		let amount = task.terms.reward_per_round.min(task.pool);
		let fee = params.aggregator_fee.mul_floor(amount);
		let mut paid: BalanceOf<T> = Zero::zero();
		let mut pay = |task: &mut TaskOf<T>, account: &T::AccountId, value: BalanceOf<T>| {
			if value.is_zero() {
				return;
			}
			if Self::pay_from_pool(task_id, &asset, &sponsor, account, value) {
				task.pool = task.pool.saturating_sub(value);
				paid = paid.saturating_add(value);
				Self::deposit_event(Event::RewardPaid {
					task_id,
					round,
					account: account.clone(),
					amount: value,
				});
			} else {
				Self::deposit_event(Event::RewardUnpaid {
					task_id,
					round,
					account: account.clone(),
					amount: value,
				});
			}
		};
		pay(task, &aggregate.aggregator, fee);
		let rest: u128 = amount.saturating_sub(fee).saturated_into();
		// A confirmed free rider earns nothing even if the aggregator included it.
		let threshold = params.attestation_threshold;
		let shares: Vec<(T::AccountId, u64)> = aggregate
			.included
			.iter()
			.filter_map(|t| Updates::<T>::get((task_id, round, t)).map(|u| (t.clone(), u)))
			.filter(|(_, u)| u.flags < threshold)
			.map(|(t, u)| (t, u.samples))
			.collect();
		let total = shares.iter().fold(0u128, |acc, (_, s)| acc.saturating_add(*s as u128));
		if total > 0 {
			for (trainer, samples) in shares.iter() {
				let share = multiply_by_rational_with_rounding(
					rest,
					*samples as u128,
					total,
					Rounding::Down,
				)
				.unwrap_or(0);
				pay(task, trainer, share.saturated_into());
			}
		}
		task.last_result = Some(RoundResult {
			round,
			weights: aggregate.weights.clone(),
			base: current.base.clone(),
			updates_digest: aggregate.updates_digest,
			metrics: aggregate.metrics,
		});
		paid
	}

	/// The aggregator missed a round it could have aggregated: slash a share of its bond to
	/// the sponsor and unbond it.
	pub(super) fn slash_missing_aggregator(
		task_id: TaskId,
		task: &mut TaskOf<T>,
		round: RoundIndex,
		params: &ParamsOf<T>,
	) {
		let Some((aggregator, bond)) = task.aggregator.take() else { return };
		let amount = params.non_submit_slash.mul_floor(bond);
		let slashed =
			Self::slash_held(HoldReason::AggregatorBond, &aggregator, &task.sponsor, amount);
		let rest = bond.saturating_sub(slashed);
		Self::release_native(HoldReason::AggregatorBond, &aggregator, rest);
		Self::deposit_event(Event::AggregatorSlashed {
			task_id,
			round,
			aggregator: aggregator.clone(),
			amount: slashed,
		});
		Self::deposit_event(Event::AggregatorUnbonded { task_id, aggregator, bond: rest });
	}

	/// Slash trainers that were due and did not submit (or whose update the verifiers
	/// confirmed as a free rider); let leavers go.
	pub(super) fn settle_participants(
		task_id: TaskId,
		task: &mut TaskOf<T>,
		current: &RoundOf<T>,
		params: &ParamsOf<T>,
		mut next: Option<&mut RoundOf<T>>,
	) -> u32 {
		let participants: Vec<_> = Participants::<T>::iter_prefix(task_id).collect();
		let count = participants.len() as u32;
		let asset = task.terms.asset;
		let sponsor = task.sponsor.clone();
		// Under secure aggregation only the round's members could submit.
		let members = RoundMembers::<T>::get(task_id, current.index);
		for (trainer, mut participant) in participants {
			let due = participant.first_round <= current.index &&
				members.as_ref().map_or(true, |m| m.contains(&trainer));
			// A confirmed free rider is slashed as if it had not submitted.
			let submitted = Updates::<T>::get((task_id, current.index, &trainer))
				.map(|u| u.flags < params.attestation_threshold)
				.unwrap_or(false);
			if due && !submitted {
				let amount = params.non_submit_slash.mul_floor(participant.stake);
				if !amount.is_zero() {
					let slashed = Self::slash_stake(task_id, &asset, &trainer, &sponsor, amount);
					participant.stake = participant.stake.saturating_sub(slashed);
					Self::deposit_event(Event::StakeSlashed {
						task_id,
						round: current.index,
						trainer: trainer.clone(),
						amount: slashed,
					});
				}
			}
			// A leaver whose asset stake cannot move out now stays until the task ends.
			Participants::<T>::insert(task_id, &trainer, participant.clone());
			if participant.leaving &&
				Self::try_remove_participant(task_id, task, &trainer, participant.stake)
			{
				// It asked to leave while due in this round: it owes the open (pipelined)
				// round nothing, and what it sent there goes with it.
				if let Some(open) = next.as_deref_mut() {
					Self::withdraw_from(task_id, open, &trainer);
				}
			}
		}
		count
	}
}
