//! Secure aggregation: trainers publish their key documents, each round snapshots the
//! members its updates are masked among, and members publish their unmasking shares once the
//! reveals are done. The chain only orders and records these (as IPFS content references);
//! the masking, the shares and the unmasking are computed off chain, and anyone can recompute
//! the unmasked sum from what is recorded.

use crate::{pallet::*, types::*};
use alloc::vec::Vec;
use frame_support::{ensure, pallet_prelude::*};

impl<T: Config> Pallet<T> {
	/// `who`, a trainer of the secure-aggregation task `task_id`, publishes its key document.
	pub fn do_publish_keys(who: T::AccountId, task_id: TaskId, keys: ContentRef) -> DispatchResult {
		Self::validate_content(&keys)?;
		let task = Tasks::<T>::get(task_id).ok_or(Error::<T>::TaskNotFound)?;
		ensure!(task.status.is_live(), Error::<T>::TaskNotLive);
		ensure!(task.terms.privacy == Privacy::SecureAggregation, Error::<T>::NotSecureAggregation);
		ensure!(Participants::<T>::contains_key(task_id, &who), Error::<T>::NotParticipant);
		ensure!(!SecAggKeys::<T>::contains_key(task_id, &who), Error::<T>::KeysAlreadyPublished);
		SecAggKeys::<T>::insert(task_id, &who, keys.clone());
		Self::deposit_event(Event::KeysPublished { task_id, trainer: who, keys });
		Ok(())
	}

	/// `who`, a member of the open round `round` of `task_id`, publishes its unmasking shares
	/// after the reveals (when the set of submitted updates is fixed), once.
	pub fn do_publish_shares(
		who: T::AccountId,
		task_id: TaskId,
		round: RoundIndex,
		shares: ContentRef,
	) -> DispatchResult {
		Self::validate_content(&shares)?;
		let current = Rounds::<T>::get(task_id).ok_or(Error::<T>::NoActiveRound)?;
		ensure!(current.index == round, Error::<T>::WrongRound);
		ensure!(current.status == RoundStatus::Open, Error::<T>::RoundNotOpen);
		let members = RoundMembers::<T>::get(task_id, round).ok_or(Error::<T>::NotSecureAggregation)?;
		ensure!(members.contains(&who), Error::<T>::NotRoundMember);
		ensure!(Self::reveals_done(&current, Self::now()), Error::<T>::RoundStillOpen);
		let key = (task_id, round, &who);
		ensure!(!UnmaskShares::<T>::contains_key(key), Error::<T>::SharesAlreadyPublished);
		UnmaskShares::<T>::insert(key, shares);
		Self::deposit_event(Event::SharesPublished { task_id, round, trainer: who });
		Ok(())
	}

	/// Whether the aggregator could have aggregated `round` as far as secure aggregation goes:
	/// always for a round in the clear; for a masked one, once at least the shares threshold
	/// (all members but a third) published their share documents. An aggregator short of
	/// shares is not slashed for a missed aggregate.
	pub(super) fn unmaskable(task_id: TaskId, round: RoundIndex) -> bool {
		let Some(members) = RoundMembers::<T>::get(task_id, round) else { return true };
		let count = members.len() as u32;
		let threshold = count.saturating_sub(count / 3).max(1);
		UnmaskShares::<T>::iter_prefix((task_id, round)).count() as u32 >= threshold
	}

	/// The task's participants with published keys, sorted: a new round's members (every
	/// participant is due in a round that opens now).
	pub(crate) fn keyed_participants(
		task_id: TaskId,
	) -> BoundedVec<T::AccountId, T::MaxTrainersPerTask> {
		let mut members: Vec<T::AccountId> = SecAggKeys::<T>::iter_key_prefix(task_id)
			.filter(|who| Participants::<T>::contains_key(task_id, who))
			.take(T::MaxTrainersPerTask::get() as usize)
			.collect();
		members.sort();
		BoundedVec::truncate_from(members)
	}
}
