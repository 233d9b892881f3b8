//! Escrow: native funds are held on their owner's account, asset funds sit in the task's
//! escrow account; paying out, refunding and slashing.

use crate::{pallet::*, types::*};
use alloc::vec::Vec;
use frame_support::{
	ensure,
	pallet_prelude::*,
	traits::{
		fungible::MutateHold,
		fungibles,
		tokens::{Fortitude, Precision, Preservation, Restriction},
	},
};
use sp_runtime::traits::{Saturating, Zero};

type AssetsOf<T> = <T as Config>::Assets;

impl<T: Config> Pallet<T> {
	pub(super) fn asset_balance(id: T::AssetId, who: &T::AccountId) -> BalanceOf<T> {
		<AssetsOf<T> as fungibles::Inspect<T::AccountId>>::balance(id, who)
	}

	/// Keep the account alive unless `amount` is its whole balance: pallet-assets sweeps a
	/// remainder below the minimum balance along with a transfer, which would break the
	/// escrow's exact accounting.
	pub(super) fn preservation(
		id: T::AssetId,
		from: &T::AccountId,
		amount: BalanceOf<T>,
	) -> Preservation {
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
	pub(super) fn asset_out(
		task_id: TaskId,
		id: T::AssetId,
		to: &T::AccountId,
		amount: BalanceOf<T>,
	) -> bool {
		if amount.is_zero() {
			return true;
		}
		let from = Self::task_account(task_id);
		let preservation = Self::preservation(id, &from, amount);
		<AssetsOf<T> as fungibles::Mutate<T::AccountId>>::transfer(
			id,
			&from,
			to,
			amount,
			preservation,
		)
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
				let _ =
					T::NativeBalance::release(&reason.into(), owner, amount, Precision::BestEffort);
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
	pub(super) fn pay_from_pool(
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
	pub(super) fn empty_asset_escrow(
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
	pub(super) fn slash_stake(
		task_id: TaskId,
		asset: &RewardAssetOf<T>,
		trainer: &T::AccountId,
		sponsor: &T::AccountId,
		amount: BalanceOf<T>,
	) -> BalanceOf<T> {
		match asset {
			RewardAsset::Native => {
				Self::slash_held(HoldReason::TrainerStake, trainer, sponsor, amount)
			},
			RewardAsset::Asset(id) => {
				if Self::asset_out(task_id, *id, sponsor, amount) {
					amount
				} else {
					Zero::zero()
				}
			},
		}
	}
}
