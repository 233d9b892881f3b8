//! Challenges: a participant disputes an aggregate, governance resolves it.

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
		let mut current = Rounds::<T>::get(task_id).ok_or(Error::<T>::NoActiveRound)?;
		ensure!(current.index == round, Error::<T>::WrongRound);
		ensure!(current.status == RoundStatus::Aggregated, Error::<T>::NotAggregated);
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
		Rounds::<T>::insert(task_id, current);
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
		let Some(mut current) = Rounds::<T>::get(task_id) else { return };
		let Some(mut task) = Tasks::<T>::get(task_id) else { return };
		if current.index != round || current.status != RoundStatus::Challenged {
			return;
		}
		let Some(challenge) = current.challenge.take() else { return };
		if challenge.proposal != proposal_id {
			return;
		}
		let Some(aggregator) = current.aggregate.as_ref().map(|a| a.aggregator.clone()) else {
			return;
		};
		let challenger = challenge.challenger;
		if upheld {
			Self::release_native(HoldReason::ChallengeBond, &challenger, challenge.bond);
			let mut slashed = Zero::zero();
			if let Some((bonded, bond)) = task.aggregator.take() {
				slashed = Self::slash_held(HoldReason::AggregatorBond, &bonded, &challenger, bond);
				// Anything that could not be moved is released.
				Self::release_native(
					HoldReason::AggregatorBond,
					&bonded,
					bond.saturating_sub(slashed),
				);
			}
			current.status = RoundStatus::Failed;
			current.aggregate = None;
			Self::deposit_event(Event::ChallengeUpheld {
				task_id,
				round,
				challenger,
				aggregator,
				slashed,
			});
		} else {
			let slashed = Self::slash_held(
				HoldReason::ChallengeBond,
				&challenger,
				&aggregator,
				challenge.bond,
			);
			Self::release_native(
				HoldReason::ChallengeBond,
				&challenger,
				challenge.bond.saturating_sub(slashed),
			);
			current.status = RoundStatus::Aggregated;
			Self::deposit_event(Event::ChallengeDismissed {
				task_id,
				round,
				challenger,
				aggregator,
				slashed,
			});
		}
		Rounds::<T>::insert(task_id, current);
		Tasks::<T>::insert(task_id, task);
	}
}
