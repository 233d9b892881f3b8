//! Genesis: period overrides for development chains.

use frame_support::pallet_macros::pallet_section;

/// Imported into [`crate::pallet`] by `#[import_section(genesis::genesis)]`.
#[pallet_section]
mod genesis {
	/// Genesis: optional overrides of the protocol periods in [`Config::DefaultParams`], so a
	/// development chain can run a whole federation and a vote within minutes. Fields left
	/// `None` keep the defaults; the result must pass the same checks as a governance change.
	#[pallet::genesis_config]
	#[derive(frame_support::DefaultNoBound)]
	pub struct GenesisConfig<T: Config> {
		/// Overrides [`types::ProtocolParams::voting_period`].
		pub voting_period: Option<BlockNumberFor<T>>,
		/// Overrides [`types::ProtocolParams::aggregation_period`].
		pub aggregation_period: Option<BlockNumberFor<T>>,
		/// Overrides [`types::ProtocolParams::task_idle_timeout`].
		pub task_idle_timeout: Option<BlockNumberFor<T>>,
		/// Overrides [`types::ProtocolParams::ratification_period`].
		pub ratification_period: Option<BlockNumberFor<T>>,
		/// Overrides [`types::ProtocolParams::reveal_period`].
		pub reveal_period: Option<BlockNumberFor<T>>,
	}

	#[pallet::genesis_build]
	impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
		fn build(&self) {
			if self.voting_period.is_none() &&
				self.aggregation_period.is_none() &&
				self.task_idle_timeout.is_none() &&
				self.ratification_period.is_none() &&
				self.reveal_period.is_none()
			{
				return;
			}
			let mut params = T::DefaultParams::get();
			if let Some(v) = self.voting_period {
				params.voting_period = v;
			}
			if let Some(v) = self.aggregation_period {
				params.aggregation_period = v;
			}
			if let Some(v) = self.task_idle_timeout {
				params.task_idle_timeout = v;
			}
			if let Some(v) = self.ratification_period {
				params.ratification_period = v;
			}
			if let Some(v) = self.reveal_period {
				params.reveal_period = v;
			}
			// Genesis building runs once, off chain, before any block: a bad chain spec must
			// stop the node with a clear message rather than start a chain with invalid rules.
			assert!(
				Pallet::<T>::validate_params(&params).is_ok(),
				"DecentralMl genesis: period overrides must be non-zero"
			);
			Params::<T>::put(params);
		}
	}
}
