//! Models: registration, retirement and the version a finished round proposes.

use crate::{pallet::*, types::*};
use frame_support::{
	ensure,
	pallet_prelude::*,
	traits::{fungible::MutateHold, tokens::Precision},
};
use sp_runtime::traits::Zero;

impl<T: Config> Pallet<T> {
	/// Register a model owned by `who`.
	pub fn do_register_model(
		who: T::AccountId,
		name: BoundedVec<u8, T::MaxNameLen>,
		architecture: ContentRef,
		initial_weights: ContentRef,
		licence: Licence,
		jurisdictions: Jurisdictions,
	) -> DispatchResult {
		ensure!(!name.is_empty(), Error::<T>::EmptyName);
		Self::validate_content(&architecture)?;
		Self::validate_content(&initial_weights)?;
		Self::validate_licence(&licence)?;
		Self::validate_jurisdictions(&jurisdictions)?;
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
			licence,
			jurisdictions,
			status: ModelStatus::Active,
			pending_lapse: None,
			deposit,
			registered_at: Self::now(),
			next_version: 0,
			latest_approved: None,
		};
		Models::<T>::insert(model_id, model);
		NextModelId::<T>::put(next);
		Self::deposit_event(Event::ModelRegistered { model_id, owner: who, deposit });
		Ok(())
	}

	/// Retire `model` (already checked not retired) and release its deposit.
	pub(crate) fn retire(model_id: ModelId, model: &mut ModelOf<T>) {
		let deposit = model.deposit;
		if !deposit.is_zero() {
			let _ = T::NativeBalance::release(
				&HoldReason::ModelDeposit.into(),
				&model.owner,
				deposit,
				Precision::BestEffort,
			);
		}
		model.status = ModelStatus::Retired;
		model.pending_lapse = None;
		model.deposit = Zero::zero();
		Self::deposit_event(Event::ModelRetired { model_id, deposit });
	}

	/// Retire `model_id` on behalf of its owner `who` and release the deposit.
	pub fn do_retire_model(who: T::AccountId, model_id: ModelId) -> DispatchResult {
		Models::<T>::try_mutate(model_id, |maybe| -> DispatchResult {
			let model = maybe.as_mut().ok_or(Error::<T>::ModelNotFound)?;
			ensure!(model.owner == who, Error::<T>::NotModelOwner);
			ensure!(model.status != ModelStatus::Retired, Error::<T>::ModelRetired);
			Self::retire(model_id, model);
			Ok(())
		})
	}

	/// Create a proposed version of `model_id` from a task's final result.
	pub(super) fn propose_version(model_id: ModelId, task_id: TaskId, result: RoundResult) {
		Models::<T>::mutate(model_id, |maybe| {
			let Some(model) = maybe.as_mut() else { return };
			let version = model.next_version;
			let Some(next) = version.checked_add(1) else { return };
			model.next_version = next;
			Versions::<T>::insert(
				model_id,
				version,
				ModelVersion {
					weights: result.weights,
					parent: model.latest_approved,
					provenance: Provenance {
						task: task_id,
						round: result.round,
						updates_digest: result.updates_digest,
					},
					metrics: result.metrics,
					status: VersionStatus::Proposed,
					proposed_at: Self::now(),
				},
			);
			Self::deposit_event(Event::VersionProposed {
				model_id,
				version,
				task_id,
				round: result.round,
			});
		});
	}
}
