//! The pallets whose benchmarks `node-decentralml benchmark pallet` can run.

frame_benchmarking::define_benchmarks!(
	[frame_benchmarking, BaselineBench::<Runtime>]
	[frame_system, SystemBench::<Runtime>]
	[pallet_balances, Balances]
	[pallet_timestamp, Timestamp]
	[pallet_sudo, Sudo]
	[pallet_assets, Assets]
	[pallet_collective, SafetyCouncil]
	[pallet_membership, SafetyCouncilMembership]
	[pallet_decentralml, DecentralMl]
);
