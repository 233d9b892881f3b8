//! # DecentralML pallet
//!
//! ## Overview
//!
//! DecentralML coordinates federated machine learning on chain: models are registered by
//! content reference, training is funded and paid for, and a collective governs which model
//! versions, licences and jurisdictions apply. This first version provides the model
//! registry; tasks, rounds, staking and governance build on it.
//!
//! ## Terminology
//!
//! - **Content reference** ([`types::ContentRef`]): a CID with the sha256 digest and size of
//!   the bytes it names. The chain never stores model bytes, data or credentials; every
//!   off-chain reader verifies fetched bytes against the digest.
//! - **Model deposit**: an amount of the native token held (not transferred) from the owner
//!   while a model is registered and active, paying for its storage. It is released when the
//!   owner retires the model.
//!
//! ## Interface
//!
//! ### Permissionless calls
//!
//! - [`Pallet::register_model`]: register a model, holding [`Config::ModelDeposit`].
//!
//! ### Owner calls
//!
//! - [`Pallet::retire_model`]: retire one's model and get its deposit back.
//!
//! ## Invariants
//!
//! Checked by `do_try_state` after every unit test:
//! - the amount held for [`HoldReason::ModelDeposit`] from each account equals the sum of the
//!   deposits of that account's active models;
//! - every model id is below `NextModelId`.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

pub mod types;
pub mod weights;
pub use weights::WeightInfo;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;

mod functions;

#[frame_support::pallet]
pub mod pallet {
	use super::{types::*, WeightInfo};
	use frame_support::{
		pallet_prelude::*,
		traits::fungible::{Inspect, MutateHold},
	};
	use frame_system::pallet_prelude::*;

	/// Balance type of the native currency.
	pub type BalanceOf<T> =
		<<T as Config>::NativeBalance as Inspect<<T as frame_system::Config>::AccountId>>::Balance;

	/// The model record as stored.
	pub type ModelOf<T> = Model<
		<T as frame_system::Config>::AccountId,
		BalanceOf<T>,
		BlockNumberFor<T>,
		<T as Config>::MaxNameLen,
	>;

	const STORAGE_VERSION: StorageVersion = StorageVersion::new(0);

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	/// Configuration of the pallet.
	#[pallet::config]
	pub trait Config: frame_system::Config {
		/// The overarching event type.
		#[allow(deprecated)]
		type RuntimeEvent: From<Event<Self>> + IsType<<Self as frame_system::Config>::RuntimeEvent>;

		/// The native currency, through which deposits are held.
		type NativeBalance: MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>;

		/// The overarching hold reason.
		type RuntimeHoldReason: From<HoldReason>;

		/// Deposit held from a model's owner while the model is active.
		#[pallet::constant]
		type ModelDeposit: Get<BalanceOf<Self>>;

		/// Longest model name, in bytes.
		#[pallet::constant]
		type MaxNameLen: Get<u32>;

		/// Weights of the calls, from the pallet's benchmarks.
		type WeightInfo: WeightInfo;
	}

	/// Why the pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// Held from a model's owner while the model is active.
		ModelDeposit,
	}

	/// The id the next registered model gets.
	#[pallet::storage]
	pub type NextModelId<T> = StorageValue<_, ModelId, ValueQuery>;

	/// Registered models by id.
	#[pallet::storage]
	pub type Models<T: Config> = StorageMap<_, Blake2_128Concat, ModelId, ModelOf<T>, OptionQuery>;

	/// Events of the pallet.
	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A model was registered.
		ModelRegistered {
			/// The new model's id.
			model_id: ModelId,
			/// Its owner.
			owner: T::AccountId,
			/// The deposit held from the owner.
			deposit: BalanceOf<T>,
		},
		/// A model was retired by its owner and its deposit released.
		ModelRetired {
			/// The retired model.
			model_id: ModelId,
			/// The deposit released to the owner.
			deposit: BalanceOf<T>,
		},
	}

	/// Errors of the pallet.
	#[pallet::error]
	pub enum Error<T> {
		/// The model name is empty.
		EmptyName,
		/// The model name is longer than `MaxNameLen`.
		NameTooLong,
		/// A content reference has an empty CID.
		EmptyCid,
		/// A content reference declares a size of zero bytes.
		EmptyContent,
		/// No model has this id.
		ModelNotFound,
		/// Only the model's owner may do this.
		NotModelOwner,
		/// The model is already retired.
		ModelRetired,
		/// Every model id has been used.
		ModelIdsExhausted,
		/// The account cannot afford the model deposit.
		InsufficientDeposit,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn integrity_test() {
			assert!(T::MaxNameLen::get() > 0, "MaxNameLen must allow at least one byte");
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Register a model: its name, architecture file and initial weights by content
		/// reference. Holds [`Config::ModelDeposit`] from the caller until the model is retired.
		///
		/// Emits [`Event::ModelRegistered`].
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::register_model())]
		pub fn register_model(
			origin: OriginFor<T>,
			name: BoundedVec<u8, ConstU32<256>>,
			architecture: ContentRef,
			initial_weights: ContentRef,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let name: BoundedVec<u8, T::MaxNameLen> =
				name.into_inner().try_into().map_err(|_| Error::<T>::NameTooLong)?;
			Self::do_register_model(who, name, architecture, initial_weights)
		}

		/// Retire a model one owns and release its deposit. A retired model stays in the
		/// registry for provenance.
		///
		/// Emits [`Event::ModelRetired`].
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::retire_model())]
		pub fn retire_model(origin: OriginFor<T>, model_id: ModelId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_retire_model(who, model_id)
		}
	}
}
