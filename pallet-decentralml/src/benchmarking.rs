//! Benchmarks of the pallet's calls (frame-benchmarking v2).

use super::*;
use crate::types::ContentRef;
use frame_benchmarking::v2::*;
use frame_support::{
	traits::{fungible::Mutate, Get},
	BoundedVec,
};
use frame_system::RawOrigin;
use sp_runtime::traits::Bounded;

fn content(fill: u8) -> ContentRef {
	ContentRef {
		cid: BoundedVec::try_from(alloc::vec![fill; 128]).expect("128 fits MaxCidLen"),
		digest: [fill; 32],
		size: u64::MAX,
	}
}

fn funded<T: Config>() -> T::AccountId
where
	T::NativeBalance: Mutate<T::AccountId>,
{
	let who: T::AccountId = whitelisted_caller();
	let amount = BalanceOf::<T>::max_value() / 4u32.into();
	T::NativeBalance::set_balance(&who, amount);
	who
}

fn long_name() -> BoundedVec<u8, frame_support::pallet_prelude::ConstU32<256>> {
	BoundedVec::try_from(alloc::vec![b'n'; 256]).expect("256 fits")
}

#[benchmarks(where T::NativeBalance: Mutate<T::AccountId>)]
mod benches {
	use super::*;

	#[benchmark]
	fn register_model() {
		let caller = funded::<T>();
		let name: BoundedVec<u8, _> = BoundedVec::try_from(
			long_name().into_inner()[..T::MaxNameLen::get().min(256) as usize].to_vec(),
		)
		.expect("truncated to the bound");

		#[extrinsic_call]
		_(RawOrigin::Signed(caller.clone()), name, content(1), content(2));

		assert_eq!(NextModelId::<T>::get(), 1);
	}

	#[benchmark]
	fn retire_model() -> Result<(), BenchmarkError> {
		let caller = funded::<T>();
		let name = BoundedVec::try_from(alloc::vec![b'n'; 1]).expect("1 fits");
		Pallet::<T>::register_model(
			RawOrigin::Signed(caller.clone()).into(),
			name,
			content(1),
			content(2),
		)
		.map_err(|_| BenchmarkError::Stop("registering the model failed"))?;

		#[extrinsic_call]
		_(RawOrigin::Signed(caller), 0);

		assert!(matches!(
			Models::<T>::get(0).map(|m| m.status),
			Some(crate::types::ModelStatus::Retired)
		));
		Ok(())
	}

	impl_benchmark_test_suite!(Pallet, crate::mock::new_test_ext(), crate::mock::Test);
}
