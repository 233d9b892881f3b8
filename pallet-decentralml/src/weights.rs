//! Weights for pallet_decentralml.
//!
//! PLACEHOLDER until the first `node-decentralml benchmark pallet` run replaces this file
//! (see node-config/README.md for the command). The numbers are honest estimates from the
//! calls' storage accesses (RocksDB weights) and similar pallets, not measurements.
//! Do not edit by hand once generated.

#![allow(unused_parens, unused_imports, missing_docs)]

use core::marker::PhantomData;
use frame_support::{
	traits::Get,
	weights::{constants::RocksDbWeight, Weight},
};

/// Weight functions needed for pallet_decentralml.
pub trait WeightInfo {
	fn register_model() -> Weight;
	fn retire_model() -> Weight;
	fn set_trainer_profile() -> Weight;
	fn clear_trainer_profile() -> Weight;
	fn create_task() -> Weight;
	fn cancel_task(n: u32) -> Weight;
	fn expire_task(n: u32) -> Weight;
	fn join_task() -> Weight;
	fn leave_task() -> Weight;
	fn bond_aggregator() -> Weight;
	fn unbond_aggregator() -> Weight;
	fn start_round() -> Weight;
	fn submit_update() -> Weight;
	fn submit_aggregate(n: u32) -> Weight;
	fn challenge_aggregate() -> Weight;
	fn finalize_round(n: u32) -> Weight;
	fn submit_proposal() -> Weight;
	fn vote(v: u32) -> Weight;
	fn close_proposal() -> Weight;
	fn unlock(v: u32) -> Weight;
	fn council_suspend() -> Weight;
	fn process_lapses(n: u32) -> Weight;
}

/// Weights for pallet_decentralml using the node's recommended hardware.
pub struct SubstrateWeight<T>(PhantomData<T>);
impl<T: frame_system::Config> WeightInfo for SubstrateWeight<T> {
	fn register_model() -> Weight {
		Weight::from_parts(40_000_000, 8000)
			.saturating_add(T::DbWeight::get().reads(3_u64))
			.saturating_add(T::DbWeight::get().writes(3_u64))
	}
	fn retire_model() -> Weight {
		Weight::from_parts(35_000_000, 8000)
			.saturating_add(T::DbWeight::get().reads(2_u64))
			.saturating_add(T::DbWeight::get().writes(2_u64))
	}
	fn set_trainer_profile() -> Weight {
		Weight::from_parts(12_000_000, 8000)
			.saturating_add(T::DbWeight::get().reads(1_u64))
			.saturating_add(T::DbWeight::get().writes(1_u64))
	}
	fn clear_trainer_profile() -> Weight {
		Weight::from_parts(12_000_000, 8000)
			.saturating_add(T::DbWeight::get().reads(1_u64))
			.saturating_add(T::DbWeight::get().writes(1_u64))
	}
	fn create_task() -> Weight {
		Weight::from_parts(60_000_000, 8000)
			.saturating_add(T::DbWeight::get().reads(5_u64))
			.saturating_add(T::DbWeight::get().writes(4_u64))
	}
	fn cancel_task(n: u32) -> Weight {
		Weight::from_parts(60_000_000, 20000)
			.saturating_add(Weight::from_parts(45_000_000, 0).saturating_mul(n.into()))
			.saturating_add(T::DbWeight::get().reads(5_u64))
			.saturating_add(T::DbWeight::get().reads((4_u64).saturating_mul(n.into())))
			.saturating_add(T::DbWeight::get().writes(5_u64))
			.saturating_add(T::DbWeight::get().writes((4_u64).saturating_mul(n.into())))
			.saturating_add(Weight::from_parts(0, 2_600).saturating_mul(n.into()))
	}
	fn expire_task(n: u32) -> Weight {
		Weight::from_parts(60_000_000, 20000)
			.saturating_add(Weight::from_parts(45_000_000, 0).saturating_mul(n.into()))
			.saturating_add(T::DbWeight::get().reads(5_u64))
			.saturating_add(T::DbWeight::get().reads((4_u64).saturating_mul(n.into())))
			.saturating_add(T::DbWeight::get().writes(5_u64))
			.saturating_add(T::DbWeight::get().writes((4_u64).saturating_mul(n.into())))
			.saturating_add(Weight::from_parts(0, 2_600).saturating_mul(n.into()))
	}
	fn join_task() -> Weight {
		Weight::from_parts(60_000_000, 8000)
			.saturating_add(T::DbWeight::get().reads(6_u64))
			.saturating_add(T::DbWeight::get().writes(4_u64))
	}
	fn leave_task() -> Weight {
		Weight::from_parts(50_000_000, 8000)
			.saturating_add(T::DbWeight::get().reads(5_u64))
			.saturating_add(T::DbWeight::get().writes(4_u64))
	}
	fn bond_aggregator() -> Weight {
		Weight::from_parts(45_000_000, 8000)
			.saturating_add(T::DbWeight::get().reads(3_u64))
			.saturating_add(T::DbWeight::get().writes(3_u64))
	}
	fn unbond_aggregator() -> Weight {
		Weight::from_parts(40_000_000, 8000)
			.saturating_add(T::DbWeight::get().reads(3_u64))
			.saturating_add(T::DbWeight::get().writes(3_u64))
	}
	fn start_round() -> Weight {
		Weight::from_parts(35_000_000, 8000)
			.saturating_add(T::DbWeight::get().reads(4_u64))
			.saturating_add(T::DbWeight::get().writes(2_u64))
	}
	fn submit_update() -> Weight {
		Weight::from_parts(30_000_000, 8000)
			.saturating_add(T::DbWeight::get().reads(4_u64))
			.saturating_add(T::DbWeight::get().writes(2_u64))
	}
	fn submit_aggregate(n: u32) -> Weight {
		Weight::from_parts(35_000_000, 20000)
			.saturating_add(Weight::from_parts(6_000_000, 0).saturating_mul(n.into()))
			.saturating_add(T::DbWeight::get().reads(4_u64))
			.saturating_add(T::DbWeight::get().reads((1_u64).saturating_mul(n.into())))
			.saturating_add(T::DbWeight::get().writes(1_u64))
			.saturating_add(Weight::from_parts(0, 2_600).saturating_mul(n.into()))
	}
	fn challenge_aggregate() -> Weight {
		Weight::from_parts(55_000_000, 8000)
			.saturating_add(T::DbWeight::get().reads(5_u64))
			.saturating_add(T::DbWeight::get().writes(5_u64))
	}
	fn finalize_round(n: u32) -> Weight {
		Weight::from_parts(80_000_000, 20000)
			.saturating_add(Weight::from_parts(60_000_000, 0).saturating_mul(n.into()))
			.saturating_add(T::DbWeight::get().reads(8_u64))
			.saturating_add(T::DbWeight::get().reads((5_u64).saturating_mul(n.into())))
			.saturating_add(T::DbWeight::get().writes(6_u64))
			.saturating_add(T::DbWeight::get().writes((5_u64).saturating_mul(n.into())))
			.saturating_add(Weight::from_parts(0, 2_600).saturating_mul(n.into()))
	}
	fn submit_proposal() -> Weight {
		Weight::from_parts(45_000_000, 8000)
			.saturating_add(T::DbWeight::get().reads(4_u64))
			.saturating_add(T::DbWeight::get().writes(4_u64))
	}
	fn vote(v: u32) -> Weight {
		Weight::from_parts(50_000_000, 20000)
			.saturating_add(Weight::from_parts(200_000, 0).saturating_mul(v.into()))
			.saturating_add(T::DbWeight::get().reads(4_u64))
			.saturating_add(T::DbWeight::get().writes(4_u64))
			.saturating_add(Weight::from_parts(0, 2_600).saturating_mul(v.into()))
	}
	fn close_proposal() -> Weight {
		Weight::from_parts(70_000_000, 8000)
			.saturating_add(T::DbWeight::get().reads(6_u64))
			.saturating_add(T::DbWeight::get().writes(5_u64))
	}
	fn unlock(v: u32) -> Weight {
		Weight::from_parts(40_000_000, 20000)
			.saturating_add(Weight::from_parts(3_000_000, 0).saturating_mul(v.into()))
			.saturating_add(T::DbWeight::get().reads(3_u64))
			.saturating_add(T::DbWeight::get().reads((1_u64).saturating_mul(v.into())))
			.saturating_add(T::DbWeight::get().writes(3_u64))
			.saturating_add(Weight::from_parts(0, 2_600).saturating_mul(v.into()))
	}
	fn council_suspend() -> Weight {
		Weight::from_parts(30_000_000, 8000)
			.saturating_add(T::DbWeight::get().reads(3_u64))
			.saturating_add(T::DbWeight::get().writes(2_u64))
	}
	fn process_lapses(n: u32) -> Weight {
		Weight::from_parts(5_000_000, 20000)
			.saturating_add(Weight::from_parts(15_000_000, 0).saturating_mul(n.into()))
			.saturating_add(T::DbWeight::get().reads(1_u64))
			.saturating_add(T::DbWeight::get().reads((1_u64).saturating_mul(n.into())))
			.saturating_add(T::DbWeight::get().writes(1_u64))
			.saturating_add(T::DbWeight::get().writes((1_u64).saturating_mul(n.into())))
			.saturating_add(Weight::from_parts(0, 2_600).saturating_mul(n.into()))
	}
}

// For backwards compatibility and tests.
impl WeightInfo for () {
	fn register_model() -> Weight {
		Weight::from_parts(40_000_000, 8000)
			.saturating_add(RocksDbWeight::get().reads(3_u64))
			.saturating_add(RocksDbWeight::get().writes(3_u64))
	}
	fn retire_model() -> Weight {
		Weight::from_parts(35_000_000, 8000)
			.saturating_add(RocksDbWeight::get().reads(2_u64))
			.saturating_add(RocksDbWeight::get().writes(2_u64))
	}
	fn set_trainer_profile() -> Weight {
		Weight::from_parts(12_000_000, 8000)
			.saturating_add(RocksDbWeight::get().reads(1_u64))
			.saturating_add(RocksDbWeight::get().writes(1_u64))
	}
	fn clear_trainer_profile() -> Weight {
		Weight::from_parts(12_000_000, 8000)
			.saturating_add(RocksDbWeight::get().reads(1_u64))
			.saturating_add(RocksDbWeight::get().writes(1_u64))
	}
	fn create_task() -> Weight {
		Weight::from_parts(60_000_000, 8000)
			.saturating_add(RocksDbWeight::get().reads(5_u64))
			.saturating_add(RocksDbWeight::get().writes(4_u64))
	}
	fn cancel_task(n: u32) -> Weight {
		Weight::from_parts(60_000_000, 20000)
			.saturating_add(Weight::from_parts(45_000_000, 0).saturating_mul(n.into()))
			.saturating_add(RocksDbWeight::get().reads(5_u64))
			.saturating_add(RocksDbWeight::get().reads((4_u64).saturating_mul(n.into())))
			.saturating_add(RocksDbWeight::get().writes(5_u64))
			.saturating_add(RocksDbWeight::get().writes((4_u64).saturating_mul(n.into())))
			.saturating_add(Weight::from_parts(0, 2_600).saturating_mul(n.into()))
	}
	fn expire_task(n: u32) -> Weight {
		Weight::from_parts(60_000_000, 20000)
			.saturating_add(Weight::from_parts(45_000_000, 0).saturating_mul(n.into()))
			.saturating_add(RocksDbWeight::get().reads(5_u64))
			.saturating_add(RocksDbWeight::get().reads((4_u64).saturating_mul(n.into())))
			.saturating_add(RocksDbWeight::get().writes(5_u64))
			.saturating_add(RocksDbWeight::get().writes((4_u64).saturating_mul(n.into())))
			.saturating_add(Weight::from_parts(0, 2_600).saturating_mul(n.into()))
	}
	fn join_task() -> Weight {
		Weight::from_parts(60_000_000, 8000)
			.saturating_add(RocksDbWeight::get().reads(6_u64))
			.saturating_add(RocksDbWeight::get().writes(4_u64))
	}
	fn leave_task() -> Weight {
		Weight::from_parts(50_000_000, 8000)
			.saturating_add(RocksDbWeight::get().reads(5_u64))
			.saturating_add(RocksDbWeight::get().writes(4_u64))
	}
	fn bond_aggregator() -> Weight {
		Weight::from_parts(45_000_000, 8000)
			.saturating_add(RocksDbWeight::get().reads(3_u64))
			.saturating_add(RocksDbWeight::get().writes(3_u64))
	}
	fn unbond_aggregator() -> Weight {
		Weight::from_parts(40_000_000, 8000)
			.saturating_add(RocksDbWeight::get().reads(3_u64))
			.saturating_add(RocksDbWeight::get().writes(3_u64))
	}
	fn start_round() -> Weight {
		Weight::from_parts(35_000_000, 8000)
			.saturating_add(RocksDbWeight::get().reads(4_u64))
			.saturating_add(RocksDbWeight::get().writes(2_u64))
	}
	fn submit_update() -> Weight {
		Weight::from_parts(30_000_000, 8000)
			.saturating_add(RocksDbWeight::get().reads(4_u64))
			.saturating_add(RocksDbWeight::get().writes(2_u64))
	}
	fn submit_aggregate(n: u32) -> Weight {
		Weight::from_parts(35_000_000, 20000)
			.saturating_add(Weight::from_parts(6_000_000, 0).saturating_mul(n.into()))
			.saturating_add(RocksDbWeight::get().reads(4_u64))
			.saturating_add(RocksDbWeight::get().reads((1_u64).saturating_mul(n.into())))
			.saturating_add(RocksDbWeight::get().writes(1_u64))
			.saturating_add(Weight::from_parts(0, 2_600).saturating_mul(n.into()))
	}
	fn challenge_aggregate() -> Weight {
		Weight::from_parts(55_000_000, 8000)
			.saturating_add(RocksDbWeight::get().reads(5_u64))
			.saturating_add(RocksDbWeight::get().writes(5_u64))
	}
	fn finalize_round(n: u32) -> Weight {
		Weight::from_parts(80_000_000, 20000)
			.saturating_add(Weight::from_parts(60_000_000, 0).saturating_mul(n.into()))
			.saturating_add(RocksDbWeight::get().reads(8_u64))
			.saturating_add(RocksDbWeight::get().reads((5_u64).saturating_mul(n.into())))
			.saturating_add(RocksDbWeight::get().writes(6_u64))
			.saturating_add(RocksDbWeight::get().writes((5_u64).saturating_mul(n.into())))
			.saturating_add(Weight::from_parts(0, 2_600).saturating_mul(n.into()))
	}
	fn submit_proposal() -> Weight {
		Weight::from_parts(45_000_000, 8000)
			.saturating_add(RocksDbWeight::get().reads(4_u64))
			.saturating_add(RocksDbWeight::get().writes(4_u64))
	}
	fn vote(v: u32) -> Weight {
		Weight::from_parts(50_000_000, 20000)
			.saturating_add(Weight::from_parts(200_000, 0).saturating_mul(v.into()))
			.saturating_add(RocksDbWeight::get().reads(4_u64))
			.saturating_add(RocksDbWeight::get().writes(4_u64))
			.saturating_add(Weight::from_parts(0, 2_600).saturating_mul(v.into()))
	}
	fn close_proposal() -> Weight {
		Weight::from_parts(70_000_000, 8000)
			.saturating_add(RocksDbWeight::get().reads(6_u64))
			.saturating_add(RocksDbWeight::get().writes(5_u64))
	}
	fn unlock(v: u32) -> Weight {
		Weight::from_parts(40_000_000, 20000)
			.saturating_add(Weight::from_parts(3_000_000, 0).saturating_mul(v.into()))
			.saturating_add(RocksDbWeight::get().reads(3_u64))
			.saturating_add(RocksDbWeight::get().reads((1_u64).saturating_mul(v.into())))
			.saturating_add(RocksDbWeight::get().writes(3_u64))
			.saturating_add(Weight::from_parts(0, 2_600).saturating_mul(v.into()))
	}
	fn council_suspend() -> Weight {
		Weight::from_parts(30_000_000, 8000)
			.saturating_add(RocksDbWeight::get().reads(3_u64))
			.saturating_add(RocksDbWeight::get().writes(2_u64))
	}
	fn process_lapses(n: u32) -> Weight {
		Weight::from_parts(5_000_000, 20000)
			.saturating_add(Weight::from_parts(15_000_000, 0).saturating_mul(n.into()))
			.saturating_add(RocksDbWeight::get().reads(1_u64))
			.saturating_add(RocksDbWeight::get().reads((1_u64).saturating_mul(n.into())))
			.saturating_add(RocksDbWeight::get().writes(1_u64))
			.saturating_add(RocksDbWeight::get().writes((1_u64).saturating_mul(n.into())))
			.saturating_add(Weight::from_parts(0, 2_600).saturating_mul(n.into()))
	}
}
