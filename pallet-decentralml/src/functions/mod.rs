//! The pallet's logic, one file per concern: every call validates its arguments and then
//! calls one `do_*` function, which writes storage only after every check passed.
//! [`escrow`] moves and holds funds, [`models`] and [`profiles`] keep the model registry and
//! trainers' jurisdictions, [`tasks`] the task lifecycle, [`rounds`] the round from start to
//! payout, [`challenges`] the challenge of an aggregate, [`verifiers`]
//! bonded verifiers' attestations and free-rider reports, [`secagg`] the records of
//! secure aggregation, [`try_state`] the
//! invariants. Governance lives in `governance.rs`.

use crate::{pallet::*, types::*};
use frame_support::{ensure, pallet_prelude::*};
use frame_system::pallet_prelude::BlockNumberFor;
use sp_runtime::traits::AccountIdConversion;

mod challenges;
mod escrow;
mod models;
mod profiles;
mod rounds;
mod secagg;
mod tasks;
#[cfg(any(feature = "try-runtime", test))]
mod try_state;
mod verifiers;

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
					id.iter()
						.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+')),
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

	pub(super) fn allows(list: &Jurisdictions, code: &Jurisdiction) -> bool {
		list.is_empty() || list.contains(code)
	}
}
