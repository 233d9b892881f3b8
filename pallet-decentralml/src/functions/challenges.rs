//! Challenges: a participant disputes an aggregate; the bonded verifiers' attestations decide
//! it when enough of them agree (see `verifiers`), governance otherwise.

use crate::{pallet::*, types::*};
use frame_support::{ensure, pallet_prelude::*};
use sp_runtime::traits::{Saturating, Zero};

impl<T: Config> Pallet<T> {
	/// `who` challenges the aggregate of `round` of `task_id`, opening a proposal.
	pub fn do_challenge_aggregate(
		who: T::AccountId,
		task_id: TaskId,
		round: RoundIndex,
		evidence: ContentRef,
	) -> DispatchResult {
		Self::validate_content(&evidence)?;
		let task = Tasks::<T>::get(task_id).ok_or(Error::<T>::TaskNotFound)?;
		let mut current = PendingRounds::<T>::get(task_id).ok_or(Error::<T>::NotAggregated)?;
		ensure!(current.index == round, Error::<T>::WrongRound);
		ensure!(current.status == RoundStatus::Aggregated, Error::<T>::NotAggregated);
		ensure!(!current.decided, Error::<T>::ChallengeWindowClosed);
		let aggregate = current.aggregate.as_ref().ok_or(Error::<T>::NotAggregated)?;
		let now = Self::now();
		ensure!(
			now <= aggregate.submitted_at.saturating_add(task.terms.challenge_window),
			Error::<T>::ChallengeWindowClosed
		);
		ensure!(aggregate.aggregator != who, Error::<T>::ChallengeOwnAggregate);
		let params = Params::<T>::get();
		let proposal_id = NextProposalId::<T>::get();
		let next = proposal_id.checked_add(1).ok_or(Error::<T>::ProposalIdsExhausted)?;
		let bond = params.challenge_bond;
		Self::escrow_in(task_id, &RewardAsset::Native, HoldReason::ChallengeBond, &who, bond)?;

		let ends_at = now.saturating_add(params.voting_period);
		Proposals::<T>::insert(
			proposal_id,
			Proposal {
				proposer: who.clone(),
				deposit: Zero::zero(),
				kind: ProposalKind::ResolveChallenge { task: task_id, round },
				created_at: now,
				ends_at,
				tally: Tally::default(),
				status: ProposalStatus::Ongoing,
			},
		);
		NextProposalId::<T>::put(next);
		current.status = RoundStatus::Challenged;
		current.challenge =
			Some(Challenge { challenger: who.clone(), bond, proposal: proposal_id, evidence });
		PendingRounds::<T>::insert(task_id, current);
		Self::deposit_event(Event::ProposalSubmitted {
			proposal_id,
			proposer: who.clone(),
			deposit: Zero::zero(),
			ends_at,
		});
		Self::deposit_event(Event::AggregateChallenged {
			task_id,
			round,
			challenger: who,
			proposal_id,
		});
		Ok(())
	}

	/// Decide the challenge of `round` of `task_id` (from closing proposal `proposal_id`).
	pub(crate) fn resolve_challenge(
		proposal_id: ProposalId,
		task_id: TaskId,
		round: RoundIndex,
		upheld: bool,
	) {
		let Some(mut current) = PendingRounds::<T>::get(task_id) else { return };
		let Some(mut task) = Tasks::<T>::get(task_id) else { return };
		if current.index != round || current.status != RoundStatus::Challenged {
			return;
		}
		if current.challenge.as_ref().map(|c| c.proposal) != Some(proposal_id) {
			return;
		}
		Self::decide_aggregate(task_id, &mut task, &mut current, upheld);
		PendingRounds::<T>::insert(task_id, current);
		Tasks::<T>::insert(task_id, task);
	}

	/// Decide the aggregate of the pending round `current` of `task_id`, by the vote on its
	/// challenge or by the verifiers' attestations. Upheld: the aggregator's bond goes to the
	/// challenger (to the sponsor when no one challenged) and the round fails. Dismissed (only
	/// with a challenge): the challenger's bond goes to the aggregator and the aggregate
	/// stands, open to no further challenge. Either way the verifiers whose attestation says
	/// otherwise lose their bond to the side that was right. Returns the verifiers settled.
	pub(crate) fn decide_aggregate(
		task_id: TaskId,
		task: &mut TaskOf<T>,
		current: &mut RoundOf<T>,
		upheld: bool,
	) -> u32 {
		let Some(aggregator) = current.aggregate.as_ref().map(|a| a.aggregator.clone()) else {
			return 0;
		};
		let round = current.index;
		let challenge = current.challenge.take();
		let winner = if upheld {
			let beneficiary =
				challenge.as_ref().map(|c| c.challenger.clone()).unwrap_or(task.sponsor.clone());
			if let Some(challenge) = challenge.as_ref() {
				Self::release_native(HoldReason::ChallengeBond, &challenge.challenger, challenge.bond);
			}
			let mut slashed = Zero::zero();
			if let Some((bonded, bond)) = task.aggregator.take() {
				slashed = Self::slash_held(HoldReason::AggregatorBond, &bonded, &beneficiary, bond);
				// Anything that could not be moved is released.
				Self::release_native(
					HoldReason::AggregatorBond,
					&bonded,
					bond.saturating_sub(slashed),
				);
			}
			current.status = RoundStatus::Failed;
			current.aggregate = None;
			match challenge {
				Some(challenge) => Self::deposit_event(Event::ChallengeUpheld {
					task_id,
					round,
					challenger: challenge.challenger,
					aggregator: aggregator.clone(),
					slashed,
				}),
				None => Self::deposit_event(Event::AggregateRejectedByVerifiers {
					task_id,
					round,
					aggregator: aggregator.clone(),
					slashed,
				}),
			}
			beneficiary
		} else {
			let Some(challenge) = challenge else { return 0 };
			let slashed = Self::slash_held(
				HoldReason::ChallengeBond,
				&challenge.challenger,
				&aggregator,
				challenge.bond,
			);
			Self::release_native(
				HoldReason::ChallengeBond,
				&challenge.challenger,
				challenge.bond.saturating_sub(slashed),
			);
			current.status = RoundStatus::Aggregated;
			current.decided = true;
			Self::deposit_event(Event::ChallengeDismissed {
				task_id,
				round,
				challenger: challenge.challenger,
				aggregator: aggregator.clone(),
				slashed,
			});
			aggregator
		};
		Self::settle_verifiers(task_id, round, upheld, &winner)
	}
}
