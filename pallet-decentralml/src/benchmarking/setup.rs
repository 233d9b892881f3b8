//! What the benchmarks set up: funded accounts, models, tasks with trainers, submitted rounds.

use super::*;

pub(super) fn content<T: Config>(fill: u8) -> ContentRef {
	let len = T::MaxCidLen::get().min(128) as usize;
	ContentRef {
		cid: BoundedVec::try_from(alloc::vec![b'a' + fill % 26; len]).expect("len <= 128"),
		digest: [fill; 32],
		size: u64::MAX,
	}
}

pub(super) fn jurisdictions() -> Jurisdictions {
	let list: Vec<Jurisdiction> =
		(0..<MaxJurisdictions as Get<u32>>::get()).map(|i| [b'A' + (i / 26) as u8, b'A' + (i % 26) as u8]).collect();
	BoundedVec::try_from(list).expect("MaxJurisdictions entries")
}

/// The last jurisdiction listed (the worst case for membership checks).
pub(super) fn last_jurisdiction() -> Jurisdiction {
	let i: u32 = <MaxJurisdictions as Get<u32>>::get() - 1;
	[b'A' + (i / 26) as u8, b'A' + (i % 26) as u8]
}

pub(super) fn licence<T: Config>() -> Licence {
	Licence {
		terms: LicenceTerms::Custom(content::<T>(3)),
		commercial_use: true,
		attribution: true,
		share_alike: false,
	}
}

pub(super) fn funded<T: Config>(name: &'static str, index: u32) -> T::AccountId {
	let who: T::AccountId = account(name, index, 0);
	let amount = BalanceOf::<T>::max_value() / 4096u32.into();
	T::NativeBalance::set_balance(&who, amount);
	who
}

pub(super) fn set_block<T: Config>(n: BlockNumberFor<T>) {
	frame_system::Pallet::<T>::set_block_number(n);
}

pub(super) fn now<T: Config>() -> BlockNumberFor<T> {
	frame_system::Pallet::<T>::block_number()
}

pub(super) fn register<T: Config>(owner: &T::AccountId) -> Result<ModelId, BenchmarkError> {
	let id = NextModelId::<T>::get();
	let name = BoundedVec::try_from(alloc::vec![b'n'; T::MaxNameLen::get() as usize])
		.map_err(|_| BenchmarkError::Stop("name"))?;
	Pallet::<T>::do_register_model(
		owner.clone(),
		name,
		content::<T>(1),
		content::<T>(2),
		licence::<T>(),
		jurisdictions(),
	)
	.map_err(|_| BenchmarkError::Stop("register_model failed"))?;
	Ok(id)
}

pub(super) fn terms<T: Config>(rounds: u32, max_trainers: u32) -> TaskTermsOf<T> {
	let ed = T::NativeBalance::minimum_balance().max(One::one());
	TaskTerms {
		asset: RewardAsset::Native,
		reward_per_round: ed.saturating_mul(1_000_000u32.into()),
		total_rounds: rounds,
		min_trainers: 1,
		max_trainers,
		trainer_stake: Params::<T>::get().min_trainer_stake.max(ed.saturating_mul(1000u32.into())),
		round_length: 10u32.into(),
		challenge_window: 10u32.into(),
		aggregation: AggregationRule::FedAvg,
		jurisdictions: jurisdictions(),
		privacy: Privacy::DpSgd { max_epsilon: 8_000, delta: sp_runtime::Perbill::from_parts(10_000) },
	}
}

pub(super) struct Setup<T: Config> {
	pub(super) task: TaskId,
	pub(super) sponsor: T::AccountId,
	pub(super) aggregator: T::AccountId,
	pub(super) trainers: Vec<T::AccountId>,
}

/// A model, a task with `rounds` rounds, `n` trainers and a bonded aggregator.
pub(super) fn setup_task<T: Config>(n: u32, rounds: u32) -> Result<Setup<T>, BenchmarkError> {
	setup_task_with::<T>(n, terms::<T>(rounds, T::MaxTrainersPerTask::get()))
}

/// [`setup_task`] for a secure-aggregation task, every trainer's keys published.
pub(super) fn setup_secagg<T: Config>(n: u32) -> Result<Setup<T>, BenchmarkError> {
	let t = TaskTerms {
		privacy: Privacy::SecureAggregation,
		aggregation: AggregationRule::NormClippedFedAvg(1_000_000),
		..terms::<T>(1, T::MaxTrainersPerTask::get())
	};
	let s = setup_task_with::<T>(n, t)?;
	for (i, trainer) in s.trainers.iter().enumerate() {
		Pallet::<T>::do_publish_keys(trainer.clone(), s.task, content::<T>(100 + i as u8))
			.map_err(|_| BenchmarkError::Stop("publish_keys failed"))?;
	}
	Ok(s)
}

pub(super) fn setup_task_with<T: Config>(n: u32, terms: TaskTermsOf<T>) -> Result<Setup<T>, BenchmarkError> {
	let owner = funded::<T>("owner", 0);
	let model = register::<T>(&owner)?;
	let sponsor = funded::<T>("sponsor", 0);
	let task = NextTaskId::<T>::get();
	Pallet::<T>::do_create_task(sponsor.clone(), model, terms)
		.map_err(|_| BenchmarkError::Stop("create_task failed"))?;
	let mut trainers = Vec::new();
	for i in 0..n {
		let trainer = funded::<T>("trainer", i);
		Pallet::<T>::do_set_trainer_profile(trainer.clone(), last_jurisdiction())
			.map_err(|_| BenchmarkError::Stop("profile failed"))?;
		Pallet::<T>::do_join_task(trainer.clone(), task)
			.map_err(|_| BenchmarkError::Stop("join failed"))?;
		trainers.push(trainer);
	}
	let aggregator = funded::<T>("aggregator", 0);
	Pallet::<T>::do_bond_aggregator(aggregator.clone(), task)
		.map_err(|_| BenchmarkError::Stop("bond failed"))?;
	Ok(Setup { task, sponsor, aggregator, trainers })
}

/// Open round 0 and have every trainer submit.
pub(super) fn submit_all<T: Config>(s: &Setup<T>) -> Result<(), BenchmarkError> {
	Pallet::<T>::do_start_round(s.task).map_err(|_| BenchmarkError::Stop("start failed"))?;
	for (i, trainer) in s.trainers.iter().enumerate() {
		commit::<T>(s, trainer, i as u8, 1_000 + i as u64)?;
	}
	// Every trainer committed, so reveals are open at once.
	for (i, trainer) in s.trainers.iter().enumerate() {
		Pallet::<T>::do_reveal_update(
			trainer.clone(),
			s.task,
			0,
			content::<T>(i as u8),
			1_000 + i as u64,
			Metrics::default(),
			SALT,
		)
		.map_err(|_| BenchmarkError::Stop("reveal failed"))?;
	}
	Ok(())
}

/// Bond `v` verifiers for `s.task`.
pub(super) fn bond_verifiers<T: Config>(s: &Setup<T>, v: u32) -> Result<Vec<T::AccountId>, BenchmarkError> {
	(0..v)
		.map(|i| {
			let verifier = funded::<T>("verifier", i);
			Pallet::<T>::do_bond_verifier(verifier.clone(), s.task)
				.map_err(|_| BenchmarkError::Stop("bond verifier"))?;
			Ok(verifier)
		})
		.collect()
}

/// Open round 0, have every trainer submit, and submit the aggregate `content(9)`.
pub(super) fn aggregate_all<T: Config>(s: &Setup<T>) -> Result<(), BenchmarkError> {
	submit_all::<T>(s)?;
	Pallet::<T>::do_submit_aggregate(
		s.aggregator.clone(),
		s.task,
		0,
		content::<T>(9),
		included::<T>(s)?,
		Metrics::default(),
	)
	.map_err(|_| BenchmarkError::Stop("aggregate"))
}

pub(super) const SALT: [u8; 32] = [7; 32];

/// `trainer` commits to update `content(fill)` with `samples` for round 0 of `s.task`.
pub(super) fn commit<T: Config>(
	s: &Setup<T>,
	trainer: &T::AccountId,
	fill: u8,
	samples: u64,
) -> Result<(), BenchmarkError> {
	let hash = commitment_of(s.task, 0, trainer, &content::<T>(fill), samples, &SALT);
	Pallet::<T>::do_commit_update(trainer.clone(), s.task, 0, hash)
		.map_err(|_| BenchmarkError::Stop("commit failed"))
}

pub(super) fn included<T: Config>(s: &Setup<T>) -> Result<IncludedOf<T>, BenchmarkError> {
	BoundedVec::try_from(s.trainers.clone()).map_err(|_| BenchmarkError::Stop("too many"))
}

pub(super) fn propose<T: Config>(who: &T::AccountId, fee: u32) -> Result<ProposalId, BenchmarkError> {
	let id = NextProposalId::<T>::get();
	Pallet::<T>::do_submit_proposal(
		who.clone(),
		ProposalKind::SetParameter(ParameterChange::AggregatorFee(
			sp_runtime::Perbill::from_percent(fee % 50),
		)),
	)
	.map_err(|_| BenchmarkError::Stop("proposal failed"))?;
	Ok(id)
}
