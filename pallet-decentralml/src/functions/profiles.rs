//! Trainer profiles: the jurisdiction a trainer declares, checked against a model's list.

use crate::{pallet::*, types::*};
use frame_support::{ensure, pallet_prelude::*};

impl<T: Config> Pallet<T> {
	/// Declare `who`'s jurisdiction.
	pub fn do_set_trainer_profile(who: T::AccountId, jurisdiction: Jurisdiction) -> DispatchResult {
		Self::validate_jurisdiction(&jurisdiction)?;
		if let Some(profile) = TrainerProfiles::<T>::get(&who) {
			ensure!(profile.active_tasks == 0, Error::<T>::TrainerHasTasks);
		}
		TrainerProfiles::<T>::insert(&who, TrainerProfile { jurisdiction, active_tasks: 0 });
		Self::deposit_event(Event::TrainerProfileSet { trainer: who, jurisdiction });
		Ok(())
	}

	/// Remove `who`'s profile.
	pub fn do_clear_trainer_profile(who: T::AccountId) -> DispatchResult {
		let profile = TrainerProfiles::<T>::get(&who).ok_or(Error::<T>::NoTrainerProfile)?;
		ensure!(profile.active_tasks == 0, Error::<T>::TrainerHasTasks);
		TrainerProfiles::<T>::remove(&who);
		Self::deposit_event(Event::TrainerProfileCleared { trainer: who });
		Ok(())
	}

	pub(super) fn dec_profile(who: &T::AccountId) {
		TrainerProfiles::<T>::mutate(who, |maybe| {
			if let Some(profile) = maybe.as_mut() {
				profile.active_tasks = profile.active_tasks.saturating_sub(1);
			}
		});
	}
}
