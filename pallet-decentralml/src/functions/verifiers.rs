//! Verifiers: bonded per task, they attest the digest they recomputed for each aggregate and
//! report free riders. When `attestation_threshold` of them agree, their verdict takes effect
//! without a vote: a challenge is upheld or dismissed, an unchallenged wrong aggregate fails
//! its round, a reported update earns nothing and its trainer is slashed as a no-show. Only a
//! split (neither side at the threshold when the vote closes) is left to governance.

use crate::{pallet::*, types::*};
use alloc::vec::Vec;
use frame_support::{ensure, pallet_prelude::*};
use sp_runtime::traits::Saturating;

impl<T: Config> Pallet<T> {
	/// `who` bonds `verifier_bond` to verify `task_id`.
	pub fn do_bond_verifier(who: T::AccountId, task_id: TaskId) -> DispatchResult {
		let task = Tasks::<T>::get(task_id).ok_or(Error::<T>::TaskNotFound)?;
		ensure!(task.status.is_live(), Error::<T>::TaskNotLive);
		ensure!(
			task.aggregator.as_ref().map(|(a, _)| a != &who).unwrap_or(true),
			Error::<T>::AggregatorCannotVerify
		);
		ensure!(!Verifiers::<T>::contains_key(task_id, &who), Error::<T>::AlreadyVerifier);
		let count = VerifierCount::<T>::get(task_id);
		ensure!(count < T::MaxVerifiersPerTask::get(), Error::<T>::TooManyVerifiers);
		let bond = Params::<T>::get().verifier_bond;
		Self::escrow_in(task_id, &RewardAsset::Native, HoldReason::VerifierBond, &who, bond)?;
		Verifiers::<T>::insert(task_id, &who, bond);
		VerifierCount::<T>::insert(task_id, count.saturating_add(1));
		Self::deposit_event(Event::VerifierBonded { task_id, verifier: who, bond });
		Ok(())
	}

	/// `who` stops verifying `task_id`; not while its attestation of the pending round's
	/// aggregate is undecided (it must stay slashable until then).
	pub fn do_unbond_verifier(who: T::AccountId, task_id: TaskId) -> DispatchResult {
		let bond = Verifiers::<T>::get(task_id, &who).ok_or(Error::<T>::NotVerifier)?;
		if let (Some(current), Some(attestation)) =
			(PendingRounds::<T>::get(task_id), Attestations::<T>::get(task_id, &who))
		{
			let pending =
				matches!(current.status, RoundStatus::Aggregated | RoundStatus::Challenged);
			ensure!(!(pending && attestation.round == current.index), Error::<T>::VerifierBusy);
		}
		Self::remove_verifier(task_id, &who, bond);
		Ok(())
	}

	/// Release `who`'s `bond` and forget it as a verifier of `task_id`.
	fn remove_verifier(task_id: TaskId, who: &T::AccountId, bond: BalanceOf<T>) {
		Self::release_native(HoldReason::VerifierBond, who, bond);
		Verifiers::<T>::remove(task_id, who);
		Attestations::<T>::remove(task_id, who);
		VerifierCount::<T>::mutate(task_id, |count| *count = count.saturating_sub(1));
		Self::deposit_event(Event::VerifierUnbonded { task_id, verifier: who.clone(), bond });
	}

	/// `who`, a bonded verifier, attests `digest` as the aggregate it recomputed for `round` of
	/// `task_id` (during the challenge window, or while a challenge is pending). Returns the
	/// verifiers settled (for weight): non-zero when this attestation decided the aggregate.
	pub fn do_attest_aggregate(
		who: T::AccountId,
		task_id: TaskId,
		round: RoundIndex,
		digest: [u8; 32],
	) -> Result<u32, DispatchError> {
		ensure!(Verifiers::<T>::contains_key(task_id, &who), Error::<T>::NotVerifier);
		let mut task = Tasks::<T>::get(task_id).ok_or(Error::<T>::TaskNotFound)?;
		let mut current = PendingRounds::<T>::get(task_id).ok_or(Error::<T>::NotAggregated)?;
		ensure!(current.index == round, Error::<T>::WrongRound);
		let aggregate = match current.status {
			RoundStatus::Open => return Err(Error::<T>::NotAggregated.into()),
			RoundStatus::Failed => return Err(Error::<T>::AttestationClosed.into()),
			RoundStatus::Aggregated | RoundStatus::Challenged => {
				current.aggregate.as_ref().ok_or(Error::<T>::NotAggregated)?
			},
		};
		ensure!(aggregate.aggregator != who, Error::<T>::AggregatorCannotVerify);
		let now = Self::now();
		let in_window = now <= aggregate.submitted_at.saturating_add(task.terms.challenge_window);
		ensure!(
			!current.decided && (in_window || current.status == RoundStatus::Challenged),
			Error::<T>::AttestationClosed
		);
		ensure!(
			Attestations::<T>::get(task_id, &who).map(|a| a.round != round).unwrap_or(true),
			Error::<T>::AlreadyAttested
		);
		let agrees = digest == aggregate.weights.digest;
		if agrees {
			current.agreements = current.agreements.saturating_add(1);
		} else {
			current.disagreements = current.disagreements.saturating_add(1);
		}
		Attestations::<T>::insert(task_id, &who, Attestation { round, digest, agrees });
		Self::deposit_event(Event::AggregateAttested {
			task_id,
			round,
			verifier: who,
			digest,
			agrees,
		});
		let threshold = Params::<T>::get().attestation_threshold;
		let challenged = current.challenge.clone();
		let verdict = if current.disagreements >= threshold {
			Some(true)
		} else if challenged.is_some() && current.agreements >= threshold {
			Some(false)
		} else {
			None
		};
		let mut settled = 0;
		if let Some(upheld) = verdict {
			if let Some(challenge) = challenged {
				Self::close_attested(challenge.proposal);
			}
			settled = Self::decide_aggregate(task_id, &mut task, &mut current, upheld);
			Tasks::<T>::insert(task_id, task);
		}
		PendingRounds::<T>::insert(task_id, current);
		Ok(settled)
	}

	/// Close the challenge proposal `proposal_id`, decided by attestations: its votes no
	/// longer count (and their locks run from now as after any close).
	fn close_attested(proposal_id: ProposalId) {
		Proposals::<T>::mutate(proposal_id, |maybe| {
			if let Some(proposal) = maybe.as_mut() {
				proposal.status = ProposalStatus::Attested;
				Self::deposit_event(Event::ProposalClosed {
					proposal_id,
					status: ProposalStatus::Attested,
					tally: proposal.tally,
				});
			}
		});
	}

	/// After `round`'s aggregate was decided (`upheld` or not), slash the bond of every
	/// verifier whose attestation of it says otherwise to `winner`, and unbond it.
	pub(crate) fn settle_verifiers(
		task_id: TaskId,
		round: RoundIndex,
		upheld: bool,
		winner: &T::AccountId,
	) -> u32 {
		let attestations: Vec<_> = Attestations::<T>::iter_prefix(task_id).collect();
		let count = attestations.len() as u32;
		for (verifier, attestation) in attestations {
			// Agreeing with an upheld aggregate's digest, or disagreeing with a dismissed one.
			if attestation.round != round || attestation.agrees != upheld {
				continue;
			}
			let Some(bond) = Verifiers::<T>::get(task_id, &verifier) else { continue };
			let amount = Self::slash_held(HoldReason::VerifierBond, &verifier, winner, bond);
			Self::deposit_event(Event::VerifierSlashed {
				task_id,
				round,
				verifier: verifier.clone(),
				amount,
			});
			Self::remove_verifier(task_id, &verifier, bond.saturating_sub(amount));
		}
		count
	}

	/// `who`, a bonded verifier, reports `trainer`'s revealed update of `round` of `task_id`
	/// as a free rider of `kind`, with `evidence` (what it duplicates, or a report). Anyone
	/// can check the claim from the two content references; at the attestation threshold the
	/// update is confirmed: it earns nothing and its trainer is slashed as a no-show.
	pub fn do_report_free_rider(
		who: T::AccountId,
		task_id: TaskId,
		round: RoundIndex,
		trainer: T::AccountId,
		kind: FreeRiderKind,
		evidence: ContentRef,
	) -> DispatchResult {
		Self::validate_content(&evidence)?;
		ensure!(Verifiers::<T>::contains_key(task_id, &who), Error::<T>::NotVerifier);
		// Updates of a round exist until it is finalized, open or pending.
		let mut update =
			Updates::<T>::get((task_id, round, &trainer)).ok_or(Error::<T>::UpdateNotFound)?;
		let key = (task_id, trainer.clone(), who.clone());
		ensure!(FreeRiderReports::<T>::get(&key) != Some(round), Error::<T>::AlreadyReported);
		update.flags = update.flags.saturating_add(1);
		let confirmed = update.flags == Params::<T>::get().attestation_threshold;
		FreeRiderReports::<T>::insert(&key, round);
		let content = update.content.clone();
		Updates::<T>::insert((task_id, round, &trainer), update);
		Self::deposit_event(Event::FreeRiderReported {
			task_id,
			round,
			trainer: trainer.clone(),
			verifier: who,
			kind,
			update: content,
			evidence,
		});
		if confirmed {
			Self::deposit_event(Event::FreeRiderConfirmed { task_id, round, trainer });
		}
		Ok(())
	}

	/// Release every verifier of an ended task and forget its attestations and reports.
	/// Returns the verifiers released.
	pub(crate) fn release_verifiers(task_id: TaskId) -> u32 {
		let verifiers: Vec<_> = Verifiers::<T>::drain_prefix(task_id).collect();
		for (verifier, bond) in verifiers.iter() {
			Self::release_native(HoldReason::VerifierBond, verifier, *bond);
			Self::deposit_event(Event::VerifierUnbonded {
				task_id,
				verifier: verifier.clone(),
				bond: *bond,
			});
		}
		VerifierCount::<T>::remove(task_id);
		let _ = Attestations::<T>::clear_prefix(task_id, T::MaxVerifiersPerTask::get(), None);
		let reports = T::MaxVerifiersPerTask::get().saturating_mul(T::MaxTrainersPerTask::get());
		let _ = FreeRiderReports::<T>::clear_prefix((task_id,), reports, None);
		verifiers.len() as u32
	}
}
