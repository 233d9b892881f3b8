//! Benchmarks of the pallet's calls (frame-benchmarking v2).
//!
//! Every call is measured in its worst case: longest CIDs and lists, most trainers, a
//! finalization that also completes the task and proposes a version. Tasks are funded in the
//! native token (the asset path does the same number of storage accesses on pallet-assets
//! instead of pallet-balances). Components are clamped to the runtime's bounds.

use super::*;
use crate::types::*;
use alloc::vec::Vec;
use frame_benchmarking::v2::*;
use frame_support::{
	traits::{fungible::Inspect, fungible::Mutate, EnsureOrigin, Get, Hooks},
	BoundedVec,
};
use frame_system::{pallet_prelude::BlockNumberFor, RawOrigin};
use sp_runtime::traits::{Bounded, One, Saturating};

mod setup;
use setup::*;

#[benchmarks]
mod benches {
	use super::*;

	#[benchmark]
	fn register_model() {
		let caller = funded::<T>("caller", 0);
		let name: BoundedVec<u8, _> =
			BoundedVec::try_from(alloc::vec![b'n'; T::MaxNameLen::get().min(256) as usize])
				.expect("truncated to the bound");

		#[extrinsic_call]
		_(
			RawOrigin::Signed(caller.clone()),
			name,
			content::<T>(1),
			content::<T>(2),
			licence::<T>(),
			jurisdictions(),
		);

		assert_eq!(NextModelId::<T>::get(), 1);
	}

	#[benchmark]
	fn retire_model() -> Result<(), BenchmarkError> {
		let caller = funded::<T>("caller", 0);
		let id = register::<T>(&caller)?;

		#[extrinsic_call]
		_(RawOrigin::Signed(caller), id);

		assert_eq!(Models::<T>::get(id).map(|m| m.status), Some(ModelStatus::Retired));
		Ok(())
	}

	#[benchmark]
	fn set_trainer_profile() {
		let caller = funded::<T>("caller", 0);

		#[extrinsic_call]
		_(RawOrigin::Signed(caller.clone()), *b"DE");

		assert!(TrainerProfiles::<T>::contains_key(&caller));
	}

	#[benchmark]
	fn clear_trainer_profile() -> Result<(), BenchmarkError> {
		let caller = funded::<T>("caller", 0);
		Pallet::<T>::do_set_trainer_profile(caller.clone(), *b"DE")
			.map_err(|_| BenchmarkError::Stop("profile"))?;

		#[extrinsic_call]
		_(RawOrigin::Signed(caller.clone()));

		assert!(!TrainerProfiles::<T>::contains_key(&caller));
		Ok(())
	}

	#[benchmark]
	fn create_task() -> Result<(), BenchmarkError> {
		let owner = funded::<T>("owner", 0);
		let model = register::<T>(&owner)?;
		let sponsor = funded::<T>("sponsor", 0);

		#[extrinsic_call]
		_(
			RawOrigin::Signed(sponsor),
			model,
			terms::<T>(T::MaxRoundsPerTask::get(), T::MaxTrainersPerTask::get()),
		);

		assert!(Tasks::<T>::contains_key(0));
		Ok(())
	}

	#[benchmark]
	fn cancel_task(n: Linear<0, 256>) -> Result<(), BenchmarkError> {
		let n = n.min(T::MaxTrainersPerTask::get());
		let s = setup_task::<T>(n, 1)?;

		#[extrinsic_call]
		_(RawOrigin::Signed(s.sponsor), s.task);

		assert_eq!(Tasks::<T>::get(s.task).map(|t| t.status), Some(TaskStatus::Cancelled));
		Ok(())
	}

	#[benchmark]
	fn expire_task(n: Linear<0, 256>) -> Result<(), BenchmarkError> {
		let n = n.min(T::MaxTrainersPerTask::get());
		let s = setup_task::<T>(n, 1)?;
		let timeout = Params::<T>::get().task_idle_timeout;
		set_block::<T>(now::<T>().saturating_add(timeout).saturating_add(One::one()));
		let caller = funded::<T>("caller", 0);

		#[extrinsic_call]
		_(RawOrigin::Signed(caller), s.task);

		assert_eq!(Tasks::<T>::get(s.task).map(|t| t.status), Some(TaskStatus::Expired));
		Ok(())
	}

	#[benchmark]
	fn join_task() -> Result<(), BenchmarkError> {
		let s = setup_task::<T>(0, 1)?;
		let trainer = funded::<T>("joiner", 0);
		Pallet::<T>::do_set_trainer_profile(trainer.clone(), last_jurisdiction())
			.map_err(|_| BenchmarkError::Stop("profile"))?;

		#[extrinsic_call]
		_(RawOrigin::Signed(trainer.clone()), s.task);

		assert!(Participants::<T>::contains_key(s.task, &trainer));
		Ok(())
	}

	#[benchmark]
	fn leave_task() -> Result<(), BenchmarkError> {
		let s = setup_task::<T>(1, 1)?;
		let trainer = s.trainers[0].clone();

		#[extrinsic_call]
		_(RawOrigin::Signed(trainer.clone()), s.task);

		assert!(!Participants::<T>::contains_key(s.task, &trainer));
		Ok(())
	}

	#[benchmark]
	fn bond_aggregator() -> Result<(), BenchmarkError> {
		let s = setup_task::<T>(0, 1)?;
		Pallet::<T>::do_unbond_aggregator(s.aggregator.clone(), s.task)
			.map_err(|_| BenchmarkError::Stop("unbond"))?;

		#[extrinsic_call]
		_(RawOrigin::Signed(s.aggregator.clone()), s.task);

		assert!(Tasks::<T>::get(s.task).and_then(|t| t.aggregator).is_some());
		Ok(())
	}

	#[benchmark]
	fn unbond_aggregator() -> Result<(), BenchmarkError> {
		let s = setup_task::<T>(0, 1)?;

		#[extrinsic_call]
		_(RawOrigin::Signed(s.aggregator.clone()), s.task);

		assert!(Tasks::<T>::get(s.task).and_then(|t| t.aggregator).is_none());
		Ok(())
	}

	#[benchmark]
	fn start_round() -> Result<(), BenchmarkError> {
		let s = setup_task::<T>(1, 1)?;
		let caller = funded::<T>("caller", 0);

		#[extrinsic_call]
		_(RawOrigin::Signed(caller), s.task);

		assert!(Rounds::<T>::contains_key(s.task));
		Ok(())
	}

	#[benchmark]
	fn commit_update() -> Result<(), BenchmarkError> {
		// The last expected commitment: it also moves the reveal window (the heavier path).
		let s = setup_task::<T>(1, 1)?;
		Pallet::<T>::do_start_round(s.task).map_err(|_| BenchmarkError::Stop("start"))?;
		let trainer = s.trainers[0].clone();
		let hash = commitment_of(s.task, 0, &trainer, &content::<T>(5), 1_000, &SALT);

		#[extrinsic_call]
		_(RawOrigin::Signed(trainer.clone()), s.task, 0, hash);

		assert!(Commitments::<T>::contains_key((s.task, 0, &trainer)));
		Ok(())
	}

	#[benchmark]
	fn reveal_update() -> Result<(), BenchmarkError> {
		let s = setup_task::<T>(1, 1)?;
		Pallet::<T>::do_start_round(s.task).map_err(|_| BenchmarkError::Stop("start"))?;
		let trainer = s.trainers[0].clone();
		commit::<T>(&s, &trainer, 5, 1_000)?;

		#[extrinsic_call]
		_(
			RawOrigin::Signed(trainer.clone()),
			s.task,
			0,
			content::<T>(5),
			1_000,
			Metrics::default(),
			SALT,
		);

		assert!(Updates::<T>::contains_key((s.task, 0, &trainer)));
		Ok(())
	}

	#[benchmark]
	fn submit_aggregate(n: Linear<1, 256>) -> Result<(), BenchmarkError> {
		let n = n.min(T::MaxTrainersPerTask::get());
		// Two rounds: the worst case opens the next (pipelined) round too.
		let s = setup_task::<T>(n, 2)?;
		submit_all::<T>(&s)?;
		let list = included::<T>(&s)?;

		#[extrinsic_call]
		_(RawOrigin::Signed(s.aggregator.clone()), s.task, 0, content::<T>(9), list, Metrics::default());

		assert_eq!(PendingRounds::<T>::get(s.task).map(|r| r.status), Some(RoundStatus::Aggregated));
		assert_eq!(Rounds::<T>::get(s.task).map(|r| r.index), Some(1));
		Ok(())
	}

	#[benchmark]
	fn challenge_aggregate() -> Result<(), BenchmarkError> {
		let s = setup_task::<T>(1, 1)?;
		aggregate_all::<T>(&s)?;
		let challenger = funded::<T>("challenger", 0);

		#[extrinsic_call]
		_(RawOrigin::Signed(challenger), s.task, 0, content::<T>(11));

		assert_eq!(PendingRounds::<T>::get(s.task).map(|r| r.status), Some(RoundStatus::Challenged));
		Ok(())
	}

	#[benchmark]
	fn finalize_round(n: Linear<1, 256>) -> Result<(), BenchmarkError> {
		let n = n.min(T::MaxTrainersPerTask::get());
		// The last round: finalizing it also ends the task and releases every stake, which
		// costs more than the pipelined alternatives (unblocking the open round, or voiding
		// it: clearing its commitments and updates).
		let s = setup_task::<T>(n, 1)?;
		aggregate_all::<T>(&s)?;
		set_block::<T>(now::<T>().saturating_add(20u32.into()));
		let caller = funded::<T>("caller", 0);

		#[extrinsic_call]
		_(RawOrigin::Signed(caller), s.task, 0);

		assert_eq!(Tasks::<T>::get(s.task).map(|t| t.status), Some(TaskStatus::Completed));
		Ok(())
	}

	#[benchmark]
	fn submit_proposal() {
		let caller = funded::<T>("caller", 0);
		let kind = ProposalKind::SetParameter(ParameterChange::AggregatorFee(
			sp_runtime::Perbill::from_percent(5),
		));

		#[extrinsic_call]
		_(RawOrigin::Signed(caller), kind);

		assert!(Proposals::<T>::contains_key(0));
	}

	#[benchmark]
	fn vote(v: Linear<1, 64>) -> Result<(), BenchmarkError> {
		let v = v.min(T::MaxVotesPerAccount::get());
		let proposer = funded::<T>("proposer", 0);
		let voter = funded::<T>("voter", 0);
		let balance = T::NativeBalance::minimum_balance().max(One::one());
		for i in 1..v {
			let id = propose::<T>(&proposer, i)?;
			Pallet::<T>::do_vote(voter.clone(), id, true, balance, Conviction::Locked6x)
				.map_err(|_| BenchmarkError::Stop("vote"))?;
		}
		let id = propose::<T>(&proposer, 0)?;

		#[extrinsic_call]
		_(RawOrigin::Signed(voter.clone()), id, true, balance, Conviction::Locked6x);

		assert_eq!(VotingOf::<T>::get(&voter).len() as u32, v);
		Ok(())
	}

	#[benchmark]
	fn close_proposal() -> Result<(), BenchmarkError> {
		let proposer = funded::<T>("proposer", 0);
		let id = propose::<T>(&proposer, 5)?;
		// One voter with most of the issuance, so the proposal passes and is enacted.
		let voter: T::AccountId = account("whale", 0, 0);
		let whale = BalanceOf::<T>::max_value() / 4u32.into();
		T::NativeBalance::set_balance(&voter, whale);
		Pallet::<T>::do_vote(voter, id, true, whale, Conviction::Locked1x)
			.map_err(|_| BenchmarkError::Stop("vote"))?;
		let ends = Proposals::<T>::get(id).map(|p| p.ends_at).ok_or(BenchmarkError::Stop("p"))?;
		set_block::<T>(ends.saturating_add(One::one()));
		let caller = funded::<T>("caller", 0);

		#[extrinsic_call]
		_(RawOrigin::Signed(caller), id);

		assert_eq!(Proposals::<T>::get(id).map(|p| p.status), Some(ProposalStatus::Passed));
		Ok(())
	}

	#[benchmark]
	fn unlock(v: Linear<1, 64>) -> Result<(), BenchmarkError> {
		let v = v.min(T::MaxVotesPerAccount::get());
		let proposer = funded::<T>("proposer", 0);
		let voter = funded::<T>("voter", 0);
		let balance = T::NativeBalance::minimum_balance().max(One::one());
		let mut ids = Vec::new();
		for i in 0..v {
			let id = propose::<T>(&proposer, i)?;
			Pallet::<T>::do_vote(voter.clone(), id, false, balance, Conviction::None)
				.map_err(|_| BenchmarkError::Stop("vote"))?;
			ids.push(id);
		}
		let ends = Proposals::<T>::get(ids[ids.len() - 1])
			.map(|p| p.ends_at)
			.ok_or(BenchmarkError::Stop("p"))?;
		set_block::<T>(ends.saturating_add(One::one()));
		for id in ids {
			Pallet::<T>::do_close_proposal(id).map_err(|_| BenchmarkError::Stop("close"))?;
		}

		#[extrinsic_call]
		_(RawOrigin::Signed(proposer), voter.clone());

		assert!(VotingOf::<T>::get(&voter).is_empty());
		Ok(())
	}

	#[benchmark]
	fn council_suspend() -> Result<(), BenchmarkError> {
		let owner = funded::<T>("owner", 0);
		let id = register::<T>(&owner)?;
		let origin =
			T::SafetyOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, id);

		assert_eq!(Models::<T>::get(id).map(|m| m.status), Some(ModelStatus::Suspended));
		Ok(())
	}

	#[benchmark]
	fn process_lapses(n: Linear<0, 32>) -> Result<(), BenchmarkError> {
		let n = n.min(T::MaxLapsesPerBlock::get());
		let owner = funded::<T>("owner", 0);
		for _ in 0..n {
			let id = register::<T>(&owner)?;
			Pallet::<T>::do_council_suspend(id).map_err(|_| BenchmarkError::Stop("suspend"))?;
		}
		let at = now::<T>().saturating_add(Params::<T>::get().ratification_period);
		set_block::<T>(at);

		#[block]
		{
			Pallet::<T>::on_initialize(at);
		}

		assert_eq!(PendingLapses::<T>::get(at).len(), 0);
		Ok(())
	}

	#[benchmark]
	fn bond_verifier() -> Result<(), BenchmarkError> {
		let s = setup_task::<T>(1, 1)?;
		let verifier = funded::<T>("verifier", 0);

		#[extrinsic_call]
		_(RawOrigin::Signed(verifier.clone()), s.task);

		assert!(Verifiers::<T>::contains_key(s.task, &verifier));
		Ok(())
	}

	#[benchmark]
	fn unbond_verifier() -> Result<(), BenchmarkError> {
		let s = setup_task::<T>(1, 1)?;
		let verifier = funded::<T>("verifier", 0);
		Pallet::<T>::do_bond_verifier(verifier.clone(), s.task)
			.map_err(|_| BenchmarkError::Stop("bond verifier"))?;
		aggregate_all::<T>(&s)?;

		#[extrinsic_call]
		_(RawOrigin::Signed(verifier.clone()), s.task);

		assert!(!Verifiers::<T>::contains_key(s.task, &verifier));
		Ok(())
	}

	/// Worst case: the `v`-th attestation decides the aggregate (threshold 1, no challenge, so
	/// the `v - 1` earlier agreeing attestations did not) and slashes the `v - 1` overruled.
	#[benchmark]
	fn attest_aggregate(v: Linear<1, 16>) -> Result<(), BenchmarkError> {
		let v = v.min(T::MaxVerifiersPerTask::get()).max(1);
		let s = setup_task::<T>(1, 1)?;
		let verifiers = bond_verifiers::<T>(&s, v)?;
		aggregate_all::<T>(&s)?;
		let right = content::<T>(9).digest;
		for verifier in verifiers.iter().take(v as usize - 1) {
			Pallet::<T>::do_attest_aggregate(verifier.clone(), s.task, 0, right)
				.map_err(|_| BenchmarkError::Stop("attest"))?;
		}
		Params::<T>::mutate(|p| p.attestation_threshold = 1);
		let last = verifiers[v as usize - 1].clone();

		#[extrinsic_call]
		_(RawOrigin::Signed(last), s.task, 0, [0u8; 32]);

		assert_eq!(PendingRounds::<T>::get(s.task).map(|r| r.status), Some(RoundStatus::Failed));
		Ok(())
	}

	/// Worst case: the report that confirms the free rider (threshold 1).
	#[benchmark]
	fn report_free_rider() -> Result<(), BenchmarkError> {
		let s = setup_task::<T>(1, 1)?;
		let verifier = bond_verifiers::<T>(&s, 1)?.remove(0);
		submit_all::<T>(&s)?;
		Params::<T>::mutate(|p| p.attestation_threshold = 1);
		let trainer = s.trainers[0].clone();

		#[extrinsic_call]
		_(
			RawOrigin::Signed(verifier),
			s.task,
			0,
			trainer.clone(),
			FreeRiderKind::Copy,
			content::<T>(12),
		);

		assert_eq!(Updates::<T>::get((s.task, 0, &trainer)).map(|u| u.flags), Some(1));
		Ok(())
	}

	/// Settling (or releasing) `v` verifiers: all of them overruled and slashed.
	#[benchmark]
	fn settle_verifiers(v: Linear<0, 16>) -> Result<(), BenchmarkError> {
		let v = v.min(T::MaxVerifiersPerTask::get());
		let s = setup_task::<T>(1, 1)?;
		let verifiers = bond_verifiers::<T>(&s, v)?;
		aggregate_all::<T>(&s)?;
		let right = content::<T>(9).digest;
		for verifier in verifiers.iter() {
			Pallet::<T>::do_attest_aggregate(verifier.clone(), s.task, 0, right)
				.map_err(|_| BenchmarkError::Stop("attest"))?;
		}

		#[block]
		{
			Pallet::<T>::settle_verifiers(s.task, 0, true, &s.sponsor);
		}

		assert_eq!(VerifierCount::<T>::get(s.task), 0);
		Ok(())
	}

	#[benchmark]
	fn publish_keys() -> Result<(), BenchmarkError> {
		let s = setup_task_with::<T>(
			1,
			TaskTerms {
				privacy: Privacy::SecureAggregation,
				aggregation: AggregationRule::NormClippedFedAvg(1_000_000),
				..terms::<T>(1, T::MaxTrainersPerTask::get())
			},
		)?;
		let trainer = s.trainers[0].clone();

		#[extrinsic_call]
		_(RawOrigin::Signed(trainer.clone()), s.task, content::<T>(3));

		assert!(SecAggKeys::<T>::contains_key(s.task, &trainer));
		Ok(())
	}

	#[benchmark]
	fn publish_shares() -> Result<(), BenchmarkError> {
		let s = setup_secagg::<T>(1)?;
		// Every member committed and revealed: the reveals are done.
		submit_all::<T>(&s)?;
		let trainer = s.trainers[0].clone();

		#[extrinsic_call]
		_(RawOrigin::Signed(trainer.clone()), s.task, 0, content::<T>(4));

		assert!(UnmaskShares::<T>::contains_key((s.task, 0, &trainer)));
		Ok(())
	}

	/// A secure-aggregation round's member snapshot over `n` keyed participants (part of
	/// opening a round).
	#[benchmark]
	fn snapshot_members(n: Linear<1, 256>) -> Result<(), BenchmarkError> {
		let n = n.min(T::MaxTrainersPerTask::get());
		let s = setup_secagg::<T>(n)?;
		let members;

		#[block]
		{
			members = Pallet::<T>::keyed_participants(s.task);
		}

		assert_eq!(members.len() as u32, n);
		Ok(())
	}

	impl_benchmark_test_suite!(Pallet, crate::mock::new_test_ext(), crate::mock::Test);
}
