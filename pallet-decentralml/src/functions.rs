//! The pallet's logic: every call validates, then calls one `do_*` function here.

use crate::{pallet::*, types::*};
use frame_support::{
	ensure,
	pallet_prelude::*,
	traits::{
		fungible::{InspectHold, MutateHold},
		tokens::Precision,
	},
};
use sp_runtime::traits::{CheckedAdd, Zero};

impl<T: Config> Pallet<T> {
	fn validate_content(content: &ContentRef) -> DispatchResult {
		ensure!(!content.cid.is_empty(), Error::<T>::EmptyCid);
		ensure!(content.size > 0, Error::<T>::EmptyContent);
		Ok(())
	}

	/// Register a model owned by `who`. Storage is written only after every check passed.
	pub fn do_register_model(
		who: T::AccountId,
		name: BoundedVec<u8, T::MaxNameLen>,
		architecture: ContentRef,
		initial_weights: ContentRef,
	) -> DispatchResult {
		ensure!(!name.is_empty(), Error::<T>::EmptyName);
		Self::validate_content(&architecture)?;
		Self::validate_content(&initial_weights)?;
		let model_id = NextModelId::<T>::get();
		let next = model_id.checked_add(1).ok_or(Error::<T>::ModelIdsExhausted)?;

		let deposit = T::ModelDeposit::get();
		if !deposit.is_zero() {
			T::NativeBalance::hold(&HoldReason::ModelDeposit.into(), &who, deposit)
				.map_err(|_| Error::<T>::InsufficientDeposit)?;
		}

		let model = Model {
			owner: who.clone(),
			name,
			architecture,
			initial_weights,
			status: ModelStatus::Active,
			deposit,
			registered_at: frame_system::Pallet::<T>::block_number(),
		};
		Models::<T>::insert(model_id, model);
		NextModelId::<T>::put(next);
		Self::deposit_event(Event::ModelRegistered { model_id, owner: who, deposit });
		Ok(())
	}

	/// Retire `model_id` on behalf of its owner `who` and release the deposit.
	pub fn do_retire_model(who: T::AccountId, model_id: ModelId) -> DispatchResult {
		Models::<T>::try_mutate(model_id, |maybe| -> DispatchResult {
			let model = maybe.as_mut().ok_or(Error::<T>::ModelNotFound)?;
			ensure!(model.owner == who, Error::<T>::NotModelOwner);
			ensure!(model.status == ModelStatus::Active, Error::<T>::ModelRetired);
			let deposit = model.deposit;
			if !deposit.is_zero() {
				T::NativeBalance::release(
					&HoldReason::ModelDeposit.into(),
					&who,
					deposit,
					Precision::BestEffort,
				)?;
			}
			model.status = ModelStatus::Retired;
			model.deposit = Zero::zero();
			Self::deposit_event(Event::ModelRetired { model_id, deposit });
			Ok(())
		})
	}

	/// Check the pallet's invariants (see the crate docs).
	#[cfg(any(feature = "try-runtime", test))]
	pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
		use alloc::collections::btree_map::BTreeMap;
		let next = NextModelId::<T>::get();
		let mut held: BTreeMap<T::AccountId, BalanceOf<T>> = BTreeMap::new();
		for (id, model) in Models::<T>::iter() {
			ensure!(id < next, "model id at or above NextModelId");
			match model.status {
				ModelStatus::Active => {
					let entry = held.entry(model.owner.clone()).or_insert_with(Zero::zero);
					*entry = entry.checked_add(&model.deposit).ok_or("deposit sum overflows")?;
				},
				ModelStatus::Retired => {
					ensure!(model.deposit.is_zero(), "retired model still has a deposit");
					held.entry(model.owner.clone()).or_insert_with(Zero::zero);
				},
			}
		}
		for (owner, expected) in held {
			let actual = T::NativeBalance::balance_on_hold(&HoldReason::ModelDeposit.into(), &owner);
			ensure!(actual == expected, "held model deposit differs from the active models' deposits");
		}
		Ok(())
	}
}
