//! The pallet's logic for models, trainers, tasks and rounds: every call validates its
//! arguments and then calls one `do_*` function here, which writes storage only after every
//! check passed. Governance lives in `governance.rs`.

use crate::{
	pallet::*,
	types::{Task, *},
};
use alloc::{collections::btree_set::BTreeSet, vec::Vec};
use frame_support::{
	ensure,
	pallet_prelude::*,
	traits::{
		fungible::MutateHold,
		fungibles,
		tokens::{Fortitude, Precision, Preservation, Restriction},
	},
};
use frame_system::pallet_prelude::BlockNumberFor;
use sp_runtime::{
	helpers_128bit::multiply_by_rational_with_rounding,
	traits::{AccountIdConversion, BlakeTwo256, CheckedAdd, CheckedMul, Hash, SaturatedConversion, Saturating, Zero},
	Rounding,
};

type AssetsOf<T> = <T as Config>::Assets;

impl<T: Config> Pallet<T> {
	/// The current block number.
	pub(crate) fn now() -> BlockNumberFor<T> {
		frame_system::Pallet::<T>::block_number()
	}

	/// The escrow account of task `task_id` (asset pools and asset stakes).
	pub fn task_account(task_id: TaskId) -> T::AccountId {
		T::PalletId::get().into_sub_account_truncating(task_id)
	}

	// ---------------------------------------------------------------------------------------
	// Validation
	// ---------------------------------------------------------------------------------------

	/// Check a content reference: non-empty, not too long, a CID string, non-empty content.
	pub(crate) fn validate_content(content: &ContentRef) -> DispatchResult {
		ensure!(!content.cid.is_empty(), Error::<T>::EmptyCid);
		ensure!(content.cid.len() as u32 <= T::MaxCidLen::get(), Error::<T>::CidTooLong);
		ensure!(
			content.cid.len() >= 8 && content.cid.iter().all(|b| b.is_ascii_alphanumeric()),
			Error::<T>::MalformedCid
		);
		ensure!(content.size > 0, Error::<T>::EmptyContent);
		Ok(())
	}

	/// Check a licence: a plausible SPDX id, or valid custom terms.
	pub(crate) fn validate_licence(licence: &Licence) -> DispatchResult {
		match &licence.terms {
			LicenceTerms::Spdx(id) => ensure!(
				!id.is_empty() &&
					id.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+')),
				Error::<T>::InvalidSpdxId
			),
			LicenceTerms::Custom(content) => Self::validate_content(content)?,
		}
		Ok(())
	}

	/// Check an ISO 3166-1 alpha-2 code: two uppercase ASCII letters.
	pub(crate) fn validate_jurisdiction(code: &Jurisdiction) -> DispatchResult {
		ensure!(code.iter().all(|b| b.is_ascii_uppercase()), Error::<T>::InvalidJurisdiction);
		Ok(())
	}

	/// Check a list of jurisdictions: each valid, none twice.
	pub(crate) fn validate_jurisdictions(list: &Jurisdictions) -> DispatchResult {
		for (i, code) in list.iter().enumerate() {
			Self::validate_jurisdiction(code)?;
			ensure!(!list.iter().take(i).any(|c| c == code), Error::<T>::DuplicateJurisdiction);
		}
		Ok(())
	}

	fn allows(list: &Jurisdictions, code: &Jurisdiction) -> bool {
		list.is_empty() || list.contains(code)
	}

	// ---------------------------------------------------------------------------------------
	// Escrow: native funds are held, asset funds sit in the escrow account.
	// ---------------------------------------------------------------------------------------

	fn asset_balance(id: T::AssetId, who: &T::AccountId) -> BalanceOf<T> {
		<AssetsOf<T> as fungibles::Inspect<T::AccountId>>::balance(id, who)
	}

	/// Keep the account alive unless `amount` is its whole balance: pallet-assets sweeps a
	/// remainder below the minimum balance along with a transfer, which would break the
	/// escrow's exact accounting.
	fn preservation(id: T::AssetId, from: &T::AccountId, amount: BalanceOf<T>) -> Preservation {
		if Self::asset_balance(id, from) == amount {
			Preservation::Expendable
		} else {
			Preservation::Preserve
		}
	}

	/// Escrow `amount` of `asset` from `who`: held under `reason` (native) or moved into the
	/// task's escrow account (asset).
	pub(crate) fn escrow_in(
		task_id: TaskId,
		asset: &RewardAssetOf<T>,
		reason: HoldReason,
		who: &T::AccountId,
		amount: BalanceOf<T>,
	) -> DispatchResult {
		match asset {
			RewardAsset::Native => {
				if amount.is_zero() {
					return Ok(());
				}
				T::NativeBalance::hold(&reason.into(), who, amount)
					.map_err(|_| Error::<T>::InsufficientBalance.into())
			},
			RewardAsset::Asset(id) => {
				ensure!(
					<AssetsOf<T> as fungibles::Inspect<T::AccountId>>::asset_exists(*id),
					Error::<T>::UnknownAsset
				);
				if amount.is_zero() {
					return Ok(());
				}
				let preservation = Self::preservation(*id, who, amount);
				let free = <AssetsOf<T> as fungibles::Inspect<T::AccountId>>::reducible_balance(
					*id,
					who,
					preservation,
					Fortitude::Polite,
				);
				ensure!(free >= amount, Error::<T>::InsufficientAssetBalance);
				<AssetsOf<T> as fungibles::Mutate<T::AccountId>>::transfer(
					*id,
					who,
					&Self::task_account(task_id),
					amount,
					preservation,
				)
				.map_err(|_| Error::<T>::AssetTransferFailed)?;
				Ok(())
			},
		}
	}

	/// Move `amount` of asset `id` out of a task's escrow account to `to`. Returns whether it
	/// moved; when not, nothing changed.
	fn asset_out(task_id: TaskId, id: T::AssetId, to: &T::AccountId, amount: BalanceOf<T>) -> bool {
		if amount.is_zero() {
			return true;
		}
		let from = Self::task_account(task_id);
		let preservation = Self::preservation(id, &from, amount);
		<AssetsOf<T> as fungibles::Mutate<T::AccountId>>::transfer(id, &from, to, amount, preservation)
			.is_ok()
	}

	/// Return escrowed funds to their owner (release the hold, or move out of the task's
	/// escrow account). Returns whether they were returned.
	pub(crate) fn return_escrow(
		task_id: TaskId,
		asset: &RewardAssetOf<T>,
		reason: HoldReason,
		owner: &T::AccountId,
		amount: BalanceOf<T>,
	) -> bool {
		if amount.is_zero() {
			return true;
		}
		match asset {
			RewardAsset::Native => {
				let _ = T::NativeBalance::release(
					&reason.into(),
					owner,
					amount,
					Precision::BestEffort,
				);
				true
			},
			RewardAsset::Asset(id) => Self::asset_out(task_id, *id, owner, amount),
		}
	}

	/// Release a native hold (bonds and deposits are always native).
	pub(crate) fn release_native(reason: HoldReason, owner: &T::AccountId, amount: BalanceOf<T>) {
		if !amount.is_zero() {
			let _ = T::NativeBalance::release(&reason.into(), owner, amount, Precision::BestEffort);
		}
	}

	/// Pay `amount` from a task's pool to `to`. Returns whether it was paid; when not, the
	/// amount stays in the pool.
	fn pay_from_pool(
		task_id: TaskId,
		asset: &RewardAssetOf<T>,
		sponsor: &T::AccountId,
		to: &T::AccountId,
		amount: BalanceOf<T>,
	) -> bool {
		if amount.is_zero() {
			return true;
		}
		match asset {
			RewardAsset::Native if to == sponsor => T::NativeBalance::release(
				&HoldReason::TaskReward.into(),
				sponsor,
				amount,
				Precision::Exact,
			)
			.is_ok(),
			RewardAsset::Native => T::NativeBalance::transfer_on_hold(
				&HoldReason::TaskReward.into(),
				sponsor,
				to,
				amount,
				Precision::Exact,
				Restriction::Free,
				Fortitude::Force,
			)
			.is_ok(),
			RewardAsset::Asset(id) => Self::asset_out(task_id, *id, to, amount),
		}
	}

	/// Empty an ended asset task's escrow account: trainers' stakes and the sponsor's pool,
	/// smallest first, so the account stays above the asset's minimum balance until the last
	/// payment empties it. Only when everything still owed is below that minimum does it all go
	/// with the current payment (pallet-assets cannot keep such dust apart). Whatever could not
	/// be paid goes to the sponsor, else is burned, else is recorded as stranded. Returns what
	/// each payee got, sponsor included.
	fn empty_asset_escrow(
		task_id: TaskId,
		id: T::AssetId,
		sponsor: &T::AccountId,
		mut owed: Vec<(T::AccountId, BalanceOf<T>, bool)>,
	) -> Vec<(T::AccountId, BalanceOf<T>, bool)> {
		let account = Self::task_account(task_id);
		let min = <AssetsOf<T> as fungibles::Inspect<T::AccountId>>::minimum_balance(id);
		let mut paid: Vec<(T::AccountId, BalanceOf<T>, bool)> = Vec::with_capacity(owed.len());
		owed.retain(|(who, amount, trainer)| {
			if amount.is_zero() {
				paid.push((who.clone(), Zero::zero(), *trainer));
			}
			!amount.is_zero()
		});
		owed.sort_by(|a, b| a.1.cmp(&b.1));
		let mut rest: BalanceOf<T> =
			owed.iter().fold(Zero::zero(), |acc: BalanceOf<T>, (_, a, _)| acc.saturating_add(*a));
		for (who, amount, trainer) in owed.into_iter() {
			rest = rest.saturating_sub(amount);
			let balance = Self::asset_balance(id, &account);
			if balance.is_zero() {
				paid.push((who, Zero::zero(), trainer));
				continue;
			}
			let (value, preservation) = if rest < min {
				(balance, Preservation::Expendable)
			} else {
				(amount.min(balance), Preservation::Preserve)
			};
			let moved = <AssetsOf<T> as fungibles::Mutate<T::AccountId>>::transfer(
				id,
				&account,
				&who,
				value,
				preservation,
			)
			.is_ok();
			paid.push((who, if moved { value } else { Zero::zero() }, trainer));
		}
		let left = Self::asset_balance(id, &account);
		if !left.is_zero() {
			let swept = <AssetsOf<T> as fungibles::Mutate<T::AccountId>>::transfer(
				id,
				&account,
				sponsor,
				left,
				Preservation::Expendable,
			)
			.is_ok();
			if swept {
				paid.push((sponsor.clone(), left, false));
			} else if <AssetsOf<T> as fungibles::Mutate<T::AccountId>>::burn_from(
				id,
				&account,
				left,
				Preservation::Expendable,
				Precision::BestEffort,
				Fortitude::Force,
			)
			.is_err()
			{
				StrandedAssets::<T>::insert(task_id, left);
				Self::deposit_event(Event::AssetsStranded { task_id, asset: id, amount: left });
			}
		}
		if Self::asset_balance(id, &account).is_zero() {
			let _ = frame_system::Pallet::<T>::dec_providers(&account);
		}
		paid
	}

	/// Move up to `amount` held from `from` under `reason` to `to`'s free balance (burning it
	/// if that is refused). Returns the amount taken from `from`.
	pub(crate) fn slash_held(
		reason: HoldReason,
		from: &T::AccountId,
		to: &T::AccountId,
		amount: BalanceOf<T>,
	) -> BalanceOf<T> {
		if amount.is_zero() {
			return Zero::zero();
		}
		let reason: T::RuntimeHoldReason = reason.into();
		match T::NativeBalance::transfer_on_hold(
			&reason,
			from,
			to,
			amount,
			Precision::BestEffort,
			Restriction::Free,
			Fortitude::Force,
		) {
			Ok(moved) => moved,
			Err(_) => T::NativeBalance::burn_held(
				&reason,
				from,
				amount,
				Precision::BestEffort,
				Fortitude::Force,
			)
			.unwrap_or_else(|_| Zero::zero()),
		}
	}

	/// Slash `amount` of a trainer's stake to the sponsor. Returns the amount slashed.
	fn slash_stake(
		task_id: TaskId,
		asset: &RewardAssetOf<T>,
		trainer: &T::AccountId,
		sponsor: &T::AccountId,
		amount: BalanceOf<T>,
	) -> BalanceOf<T> {
		match asset {
			RewardAsset::Native => Self::slash_held(HoldReason::TrainerStake, trainer, sponsor, amount),
			RewardAsset::Asset(id) =>
				if Self::asset_out(task_id, *id, sponsor, amount) {
					amount
				} else {
					Zero::zero()
				},
		}
	}

	// ---------------------------------------------------------------------------------------
	// Models
	// ---------------------------------------------------------------------------------------

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
	fn propose_version(model_id: ModelId, task_id: TaskId, result: RoundResult) {
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

	// ---------------------------------------------------------------------------------------
	// Trainer profiles
	// ---------------------------------------------------------------------------------------

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

	fn dec_profile(who: &T::AccountId) {
		TrainerProfiles::<T>::mutate(who, |maybe| {
			if let Some(profile) = maybe.as_mut() {
				profile.active_tasks = profile.active_tasks.saturating_sub(1);
			}
		});
	}

	// ---------------------------------------------------------------------------------------
	// Tasks
	// ---------------------------------------------------------------------------------------

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

	/// End a task: refund the pool, return stakes and the aggregator bond, propose the final
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
		Rounds::<T>::remove(task_id);
		let _ = Updates::<T>::clear_prefix(task_id, T::MaxTrainersPerTask::get(), None);
		task.status = status;
		if status == TaskStatus::Completed {
			if let Some(result) = task.last_result.clone() {
				Self::propose_version(task.model, task_id, result);
			}
		}
		Self::deposit_event(Event::TaskEnded { task_id, status, refunded });
		count
	}

	/// Cancel `task_id` on behalf of its sponsor `who`.
	pub fn do_cancel_task(who: T::AccountId, task_id: TaskId) -> DispatchResult {
		let mut task = Tasks::<T>::get(task_id).ok_or(Error::<T>::TaskNotFound)?;
		ensure!(task.sponsor == who, Error::<T>::NotSponsor);
		ensure!(task.status.is_live(), Error::<T>::TaskNotLive);
		ensure!(!Rounds::<T>::contains_key(task_id), Error::<T>::RoundInProgress);
		Self::end_task(task_id, &mut task, TaskStatus::Cancelled);
		Tasks::<T>::insert(task_id, task);
		Ok(())
	}

	/// Expire an idle task.
	pub fn do_expire_task(task_id: TaskId) -> DispatchResult {
		let mut task = Tasks::<T>::get(task_id).ok_or(Error::<T>::TaskNotFound)?;
		ensure!(task.status.is_live(), Error::<T>::TaskNotLive);
		ensure!(!Rounds::<T>::contains_key(task_id), Error::<T>::RoundInProgress);
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

		Participants::<T>::insert(task_id, &who, Participant { stake, first_round, leaving: false });
		TrainerProfiles::<T>::insert(&who, profile);
		Tasks::<T>::insert(task_id, task);
		Self::deposit_event(Event::TrainerJoined { task_id, trainer: who, stake });
		Ok(())
	}

	/// Return a trainer's stake and remove it from the task. Returns false (and changes
	/// nothing) when an asset stake cannot be moved out of escrow now.
	fn try_remove_participant(
		task_id: TaskId,
		task: &mut TaskOf<T>,
		who: &T::AccountId,
		stake: BalanceOf<T>,
	) -> bool {
		if !Self::return_escrow(task_id, &task.terms.asset, HoldReason::TrainerStake, who, stake) {
			return false;
		}
		Participants::<T>::remove(task_id, who);
		let _ = Updates::<T>::take(task_id, who).map(|_| ());
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
		if let Some(round) = Rounds::<T>::get(task_id) {
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
		ensure!(!Rounds::<T>::contains_key(task_id), Error::<T>::RoundInProgress);
		Self::release_native(HoldReason::AggregatorBond, &who, bond);
		task.aggregator = None;
		Tasks::<T>::insert(task_id, task);
		Self::deposit_event(Event::AggregatorUnbonded { task_id, aggregator: who, bond });
		Ok(())
	}

	// ---------------------------------------------------------------------------------------
	// Rounds
	// ---------------------------------------------------------------------------------------

	/// Open `task_id`'s next round (anyone).
	pub fn do_start_round(task_id: TaskId) -> DispatchResult {
		let mut task = Tasks::<T>::get(task_id).ok_or(Error::<T>::TaskNotFound)?;
		ensure!(task.status.is_live(), Error::<T>::TaskNotLive);
		ensure!(!Rounds::<T>::contains_key(task_id), Error::<T>::RoundInProgress);
		Self::open_round(task_id, &mut task)?;
		Tasks::<T>::insert(task_id, task);
		Ok(())
	}

	/// Open the next round of a live task with no running round. Writes only on success.
	fn open_round(task_id: TaskId, task: &mut TaskOf<T>) -> DispatchResult {
		ensure!(task.next_round < task.terms.total_rounds, Error::<T>::TaskNotLive);
		ensure!(task.aggregator.is_some(), Error::<T>::NoAggregator);
		ensure!(task.trainer_count >= task.terms.min_trainers, Error::<T>::NotEnoughTrainers);
		let model = Models::<T>::get(task.model).ok_or(Error::<T>::ModelNotFound)?;
		ensure!(model.status.is_usable(), Error::<T>::ModelNotUsable);
		let now = Self::now();
		let deadline = now.checked_add(&task.terms.round_length).ok_or(Error::<T>::Overflow)?;
		let index = task.next_round;
		let next = index.checked_add(1).ok_or(Error::<T>::Overflow)?;
		let (base, base_version) = match &task.last_result {
			Some(result) => (result.weights.clone(), None),
			None => match model.latest_approved.and_then(|v| Versions::<T>::get(task.model, v)) {
				Some(version) => (version.weights, model.latest_approved),
				None => (model.initial_weights.clone(), None),
			},
		};
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
				submissions: 0,
				status: RoundStatus::Open,
				aggregate: None,
				challenge: None,
			},
		);
		Self::deposit_event(Event::RoundOpened { task_id, round: index, base, deadline });
		Ok(())
	}

	/// `who` submits its update for `round` of `task_id`.
	pub fn do_submit_update(
		who: T::AccountId,
		task_id: TaskId,
		round: RoundIndex,
		update: ContentRef,
		samples: u64,
		metrics: Metrics,
	) -> DispatchResult {
		Self::validate_content(&update)?;
		ensure!(samples > 0, Error::<T>::ZeroSamples);
		ensure!(Tasks::<T>::contains_key(task_id), Error::<T>::TaskNotFound);
		let mut current = Rounds::<T>::get(task_id).ok_or(Error::<T>::NoActiveRound)?;
		ensure!(current.index == round, Error::<T>::WrongRound);
		ensure!(current.status == RoundStatus::Open, Error::<T>::RoundNotOpen);
		let now = Self::now();
		ensure!(now <= current.deadline, Error::<T>::DeadlinePassed);
		let participant =
			Participants::<T>::get(task_id, &who).ok_or(Error::<T>::NotParticipant)?;
		ensure!(participant.first_round <= round, Error::<T>::NotDueThisRound);
		ensure!(!Updates::<T>::contains_key(task_id, &who), Error::<T>::AlreadySubmitted);
		current.submissions = current.submissions.checked_add(1).ok_or(Error::<T>::Overflow)?;

		Updates::<T>::insert(
			task_id,
			&who,
			Update { round, content: update, samples, metrics, submitted_at: now },
		);
		Rounds::<T>::insert(task_id, current);
		Self::deposit_event(Event::UpdateSubmitted { task_id, round, trainer: who, samples });
		Ok(())
	}

	/// `who`, the aggregator, submits the aggregate of `round` of `task_id`.
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
		let task = Tasks::<T>::get(task_id).ok_or(Error::<T>::TaskNotFound)?;
		let mut current = Rounds::<T>::get(task_id).ok_or(Error::<T>::NoActiveRound)?;
		ensure!(current.index == round, Error::<T>::WrongRound);
		ensure!(current.status == RoundStatus::Open, Error::<T>::RoundNotOpen);
		ensure!(
			task.aggregator.as_ref().map(|(a, _)| a == &who).unwrap_or(false),
			Error::<T>::NotAggregator
		);
		let now = Self::now();
		ensure!(
			now > current.deadline || current.submissions >= task.trainer_count,
			Error::<T>::RoundStillOpen
		);
		let period = Params::<T>::get().aggregation_period;
		ensure!(now <= current.deadline.saturating_add(period), Error::<T>::AggregationPeriodOver);
		let mut seen = BTreeSet::new();
		let mut digests = Vec::with_capacity(included.len().saturating_mul(32));
		for trainer in included.iter() {
			ensure!(seen.insert(trainer.clone()), Error::<T>::DuplicateIncluded);
			let update = Updates::<T>::get(task_id, trainer).ok_or(Error::<T>::UpdateNotFound)?;
			ensure!(update.round == round, Error::<T>::UpdateNotFound);
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
		Rounds::<T>::insert(task_id, current);
		Self::deposit_event(Event::AggregateSubmitted {
			task_id,
			round,
			aggregator: who,
			weights,
			included: count,
			updates_digest,
		});
		Ok(())
	}

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
				Self::release_native(HoldReason::AggregatorBond, &bonded, bond.saturating_sub(slashed));
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
			let slashed =
				Self::slash_held(HoldReason::ChallengeBond, &challenger, &aggregator, challenge.bond);
			Self::release_native(HoldReason::ChallengeBond, &challenger, challenge.bond.saturating_sub(slashed));
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

	/// Finalize `round` of `task_id`. Returns the number of trainers processed (for weight).
	pub fn do_finalize_round(task_id: TaskId, round: RoundIndex) -> Result<u32, DispatchError> {
		let mut task = Tasks::<T>::get(task_id).ok_or(Error::<T>::TaskNotFound)?;
		let current = Rounds::<T>::get(task_id).ok_or(Error::<T>::NoActiveRound)?;
		ensure!(current.index == round, Error::<T>::WrongRound);
		let now = Self::now();
		let params = Params::<T>::get();
		let succeeded = match current.status {
			RoundStatus::Open => {
				ensure!(now > current.deadline, Error::<T>::RoundStillOpen);
				if current.submissions > 0 && task.aggregator.is_some() {
					ensure!(
						now > current.deadline.saturating_add(params.aggregation_period),
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
			if current.status == RoundStatus::Open && current.submissions > 0 {
				Self::slash_missing_aggregator(task_id, &mut task, round, &params);
			}
			Zero::zero()
		};
		let trainers = Self::settle_participants(task_id, &mut task, &current, &params);
		let _ = Updates::<T>::clear_prefix(task_id, T::MaxTrainersPerTask::get(), None);
		Rounds::<T>::remove(task_id);
		task.idle_since = now;
		Self::deposit_event(Event::RoundFinalized { task_id, round, succeeded, paid });

		if task.next_round >= task.terms.total_rounds {
			Self::end_task(task_id, &mut task, TaskStatus::Completed);
		} else {
			// Open the next round at once when possible; otherwise `start_round` does later.
			let _ = Self::open_round(task_id, &mut task);
		}
		Tasks::<T>::insert(task_id, task);
		Ok(trainers)
	}

	/// Pay a successful round's reward: the aggregator's fee, then pro rata to samples.
	fn pay_round(
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
		let shares: Vec<(T::AccountId, u64)> = aggregate
			.included
			.iter()
			.filter_map(|t| Updates::<T>::get(task_id, t).map(|u| (t.clone(), u.samples)))
			.collect();
		let total = shares.iter().fold(0u128, |acc, (_, s)| acc.saturating_add(*s as u128));
		if total > 0 {
			for (trainer, samples) in shares.iter() {
				let share =
					multiply_by_rational_with_rounding(rest, *samples as u128, total, Rounding::Down)
						.unwrap_or(0);
				pay(task, trainer, share.saturated_into());
			}
		}
		task.last_result = Some(RoundResult {
			round,
			weights: aggregate.weights.clone(),
			updates_digest: aggregate.updates_digest,
			metrics: aggregate.metrics,
		});
		paid
	}

	/// The aggregator missed a round it could have aggregated: slash a share of its bond to
	/// the sponsor and unbond it.
	fn slash_missing_aggregator(
		task_id: TaskId,
		task: &mut TaskOf<T>,
		round: RoundIndex,
		params: &ParamsOf<T>,
	) {
		let Some((aggregator, bond)) = task.aggregator.take() else { return };
		let amount = params.non_submit_slash.mul_floor(bond);
		let slashed = Self::slash_held(HoldReason::AggregatorBond, &aggregator, &task.sponsor, amount);
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

	/// Slash trainers that were due and did not submit; let leavers go.
	fn settle_participants(
		task_id: TaskId,
		task: &mut TaskOf<T>,
		current: &RoundOf<T>,
		params: &ParamsOf<T>,
	) -> u32 {
		let participants: Vec<_> = Participants::<T>::iter_prefix(task_id).collect();
		let count = participants.len() as u32;
		let asset = task.terms.asset;
		let sponsor = task.sponsor.clone();
		for (trainer, mut participant) in participants {
			let due = participant.first_round <= current.index;
			if due && !Updates::<T>::contains_key(task_id, &trainer) {
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
			if participant.leaving {
				let _ = Self::try_remove_participant(task_id, task, &trainer, participant.stake);
			}
		}
		count
	}

	// ---------------------------------------------------------------------------------------
	// Invariants
	// ---------------------------------------------------------------------------------------

	/// Check the pallet's invariants (see the crate docs).
	#[cfg(any(feature = "try-runtime", test))]
	pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
		use alloc::collections::btree_map::BTreeMap;
		use frame_support::traits::fungible::{InspectFreeze, InspectHold};
		type Sums<A, B> = BTreeMap<A, B>;
		fn add<K: Ord, B: Saturating + Zero + Copy>(map: &mut Sums<K, B>, key: K, value: B) {
			let entry = map.entry(key).or_insert_with(Zero::zero);
			*entry = entry.saturating_add(value);
		}

		let mut model_deposits: Sums<T::AccountId, BalanceOf<T>> = BTreeMap::new();
		let mut rewards: Sums<T::AccountId, BalanceOf<T>> = BTreeMap::new();
		let mut stakes: Sums<T::AccountId, BalanceOf<T>> = BTreeMap::new();
		let mut bonds: Sums<T::AccountId, BalanceOf<T>> = BTreeMap::new();
		let mut challenge_bonds: Sums<T::AccountId, BalanceOf<T>> = BTreeMap::new();
		let mut deposits: Sums<T::AccountId, BalanceOf<T>> = BTreeMap::new();
		let mut escrowed: BTreeMap<TaskId, (T::AssetId, BalanceOf<T>)> = BTreeMap::new();
		let mut profile_tasks: Sums<T::AccountId, u32> = BTreeMap::new();

		let next_model = NextModelId::<T>::get();
		for (id, model) in Models::<T>::iter() {
			ensure!(id < next_model, "model id at or above NextModelId");
			if model.status == ModelStatus::Retired {
				ensure!(model.deposit.is_zero(), "retired model still has a deposit");
			} else {
				add(&mut model_deposits, model.owner.clone(), model.deposit);
			}
			if model.pending_lapse.is_some() {
				ensure!(model.status == ModelStatus::Suspended, "pending lapse on unsuspended model");
			}
			if let Some(v) = model.latest_approved {
				ensure!(
					Versions::<T>::get(id, v).map(|v| v.status) == Some(VersionStatus::Approved),
					"latest approved version is not approved"
				);
			}
		}
		for (model_id, version, _) in Versions::<T>::iter() {
			let model = Models::<T>::get(model_id).ok_or("version of unknown model")?;
			ensure!(version < model.next_version, "version at or above next_version");
		}

		let next_task = NextTaskId::<T>::get();
		for (task_id, task) in Tasks::<T>::iter() {
			ensure!(task_id < next_task, "task id at or above NextTaskId");
			let mut count = 0u32;
			for (trainer, participant) in Participants::<T>::iter_prefix(task_id) {
				ensure!(task.status.is_live(), "participant of an ended task");
				count = count.saturating_add(1);
				add(&mut profile_tasks, trainer.clone(), 1);
				match task.terms.asset {
					RewardAsset::Native => add(&mut stakes, trainer, participant.stake),
					RewardAsset::Asset(id) => {
						let entry = escrowed.entry(task_id).or_insert((id, Zero::zero()));
						entry.1 = entry.1.saturating_add(participant.stake);
					},
				}
			}
			ensure!(count == task.trainer_count, "trainer_count differs from participants");
			ensure!(count <= task.terms.max_trainers, "more trainers than max_trainers");
			if let RewardAsset::Asset(id) = task.terms.asset {
				let entry = escrowed.entry(task_id).or_insert((id, Zero::zero()));
				if task.status.is_live() {
					entry.1 = entry.1.saturating_add(task.pool);
				} else {
					entry.1 = entry.1.saturating_add(StrandedAssets::<T>::get(task_id));
				}
			} else {
				ensure!(!StrandedAssets::<T>::contains_key(task_id), "stranded native task");
			}
			if task.status.is_live() {
				if task.terms.asset == RewardAsset::Native {
					add(&mut rewards, task.sponsor.clone(), task.pool);
				}
				if let Some((aggregator, bond)) = &task.aggregator {
					add(&mut bonds, aggregator.clone(), *bond);
				}
			} else {
				ensure!(task.pool.is_zero(), "ended task still has a pool");
				ensure!(task.aggregator.is_none(), "ended task still has an aggregator");
				ensure!(!Rounds::<T>::contains_key(task_id), "ended task has a round");
			}
			ensure!(task.next_round <= task.terms.total_rounds, "more rounds than total_rounds");
		}
		for (task_id, round) in Rounds::<T>::iter() {
			let task = Tasks::<T>::get(task_id).ok_or("round of unknown task")?;
			ensure!(round.index.saturating_add(1) == task.next_round, "round index mismatch");
			let updates = Updates::<T>::iter_prefix(task_id).count() as u32;
			ensure!(updates == round.submissions, "submissions differ from updates");
			ensure!(
				round.aggregate.is_some() ==
					matches!(round.status, RoundStatus::Aggregated | RoundStatus::Challenged),
				"aggregate presence does not match status"
			);
			ensure!(
				round.challenge.is_some() == (round.status == RoundStatus::Challenged),
				"challenge presence does not match status"
			);
			if let Some(challenge) = &round.challenge {
				add(&mut challenge_bonds, challenge.challenger.clone(), challenge.bond);
				let proposal =
					Proposals::<T>::get(challenge.proposal).ok_or("challenge without proposal")?;
				ensure!(proposal.status == ProposalStatus::Ongoing, "challenge proposal closed");
			}
		}
		for (task_id, trainer, update) in Updates::<T>::iter() {
			let round = Rounds::<T>::get(task_id).ok_or("update without a round")?;
			ensure!(update.round == round.index, "stale update");
			ensure!(Participants::<T>::contains_key(task_id, &trainer), "update of non-participant");
		}
		for (trainer, profile) in TrainerProfiles::<T>::iter() {
			let expected = profile_tasks.remove(&trainer).unwrap_or(0);
			ensure!(profile.active_tasks == expected, "profile task count differs");
		}
		ensure!(profile_tasks.is_empty(), "participant without a profile");

		// Governance: deposits, tallies and freezes.
		let next_proposal = NextProposalId::<T>::get();
		let mut tallies: BTreeMap<ProposalId, Tally<BalanceOf<T>>> = BTreeMap::new();
		for (id, proposal) in Proposals::<T>::iter() {
			ensure!(id < next_proposal, "proposal id at or above NextProposalId");
			if proposal.status == ProposalStatus::Ongoing {
				add(&mut deposits, proposal.proposer.clone(), proposal.deposit);
				tallies.insert(id, Tally::default());
			}
		}
		for (voter, votes) in VotingOf::<T>::iter() {
			ensure!(!votes.is_empty(), "empty vote list stored");
			let mut largest: BalanceOf<T> = Zero::zero();
			for record in votes.iter() {
				largest = largest.max(record.balance);
				if let Some(tally) = tallies.get_mut(&record.proposal) {
					let weight = record.conviction.votes(record.balance);
					if record.aye {
						tally.ayes = tally.ayes.saturating_add(weight);
					} else {
						tally.nays = tally.nays.saturating_add(weight);
					}
					tally.support = tally.support.saturating_add(record.balance);
				}
			}
			let frozen = T::NativeBalance::balance_frozen(&FreezeReason::Voting.into(), &voter);
			ensure!(frozen == largest, "voting freeze differs from the largest vote");
		}
		for (id, tally) in tallies {
			let proposal = Proposals::<T>::get(id).ok_or("missing proposal")?;
			ensure!(proposal.tally == tally, "tally differs from the recorded votes");
		}

		// Holds: every account the system knows, plus every one we expect something from.
		let mut accounts: BTreeSet<T::AccountId> = frame_system::Account::<T>::iter_keys().collect();
		for map in [&model_deposits, &rewards, &stakes, &bonds, &challenge_bonds, &deposits] {
			accounts.extend(map.keys().cloned());
		}
		for who in accounts {
			let expects_none = [&model_deposits, &rewards, &stakes, &bonds, &challenge_bonds, &deposits]
				.iter()
				.all(|map| !map.contains_key(&who));
			if expects_none {
				// One read instead of one per reason: nothing held means nothing held here.
				ensure!(
					T::NativeBalance::total_balance_on_hold(&who).is_zero() ||
						[
							HoldReason::ModelDeposit,
							HoldReason::TaskReward,
							HoldReason::TrainerStake,
							HoldReason::AggregatorBond,
							HoldReason::ChallengeBond,
							HoldReason::ProposalDeposit,
						]
						.into_iter()
						.all(|r| T::NativeBalance::balance_on_hold(&r.into(), &who).is_zero()),
					"hold without a record"
				);
				ensure!(
					VotingOf::<T>::contains_key(&who) ||
						T::NativeBalance::balance_frozen(&FreezeReason::Voting.into(), &who)
							.is_zero(),
					"voting freeze without votes"
				);
				continue;
			}
			for (reason, map, what) in [
				(HoldReason::ModelDeposit, &model_deposits, "held model deposit differs"),
				(HoldReason::TaskReward, &rewards, "held task reward differs from unpaid pools"),
				(HoldReason::TrainerStake, &stakes, "held stake differs from participants' stakes"),
				(HoldReason::AggregatorBond, &bonds, "held aggregator bond differs"),
				(HoldReason::ChallengeBond, &challenge_bonds, "held challenge bond differs"),
				(HoldReason::ProposalDeposit, &deposits, "held proposal deposit differs"),
			] {
				let held = T::NativeBalance::balance_on_hold(&reason.into(), &who);
				let expected = map.get(&who).copied().unwrap_or_else(Zero::zero);
				ensure!(held == expected, what);
			}
			if !VotingOf::<T>::contains_key(&who) {
				ensure!(
					T::NativeBalance::balance_frozen(&FreezeReason::Voting.into(), &who).is_zero(),
					"voting freeze without votes"
				);
			}
		}

		// Asset escrow: each task's account holds exactly its pool and stakes (or, once
		// ended, what was stranded).
		for (task_id, (asset, expected)) in escrowed {
			let actual = Self::asset_balance(asset, &Self::task_account(task_id));
			ensure!(actual == expected, "task escrow differs from its unpaid pool and stakes");
		}
		Ok(())
	}
}
