//! Unit tests: each call's success and each of its errors. Every test runs through
//! `build_and_execute`, which checks the pallet's invariants afterwards.

use crate::{
	mock::*, types::*, Error, Event, HoldReason, Models, NextModelId, NextProposalId,
	NextTaskId, Params, Participants, PendingLapses, Proposals, Rounds, Tasks, TrainerProfiles,
	Updates, Versions, VotingOf,
};
use frame_support::{
	assert_noop, assert_ok,
	pallet_prelude::ConstU32,
	traits::{
		fungible::{Inspect, InspectFreeze, InspectHold},
		fungibles::Inspect as FsInspect,
	},
	BoundedVec,
};
use sp_runtime::{BuildStorage, DispatchError, Perbill};

type E = Error<Test>;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn cref(tag: &str) -> ContentRef {
	let mut cid = b"bafy".to_vec();
	cid.extend_from_slice(tag.as_bytes());
	while cid.len() < 8 {
		cid.push(b'a');
	}
	ContentRef { cid: BoundedVec::try_from(cid).unwrap(), digest: [7; 32], size: 1_000 }
}

fn raw_cid(bytes: &[u8]) -> ContentRef {
	ContentRef { cid: BoundedVec::try_from(bytes.to_vec()).unwrap(), digest: [1; 32], size: 1 }
}

fn name(s: &str) -> BoundedVec<u8, ConstU32<256>> {
	BoundedVec::try_from(s.as_bytes().to_vec()).unwrap()
}

fn spdx(id: &str) -> Licence {
	Licence {
		terms: LicenceTerms::Spdx(BoundedVec::try_from(id.as_bytes().to_vec()).unwrap()),
		commercial_use: true,
		attribution: true,
		share_alike: false,
	}
}

fn juris(codes: &[&[u8; 2]]) -> Jurisdictions {
	BoundedVec::try_from(codes.iter().map(|c| **c).collect::<Vec<_>>()).unwrap()
}

fn register_with(owner: AccountId, codes: &[&[u8; 2]]) -> ModelId {
	let id = NextModelId::<Test>::get();
	assert_ok!(DecentralMl::register_model(
		RuntimeOrigin::signed(owner),
		name("digits-mlp"),
		cref("arch"),
		cref("weights"),
		spdx("Apache-2.0"),
		juris(codes),
	));
	id
}

fn register(owner: AccountId) -> ModelId {
	register_with(owner, &[])
}

fn terms(asset: RewardAsset<u32>) -> TaskTerms<Balance, u64, u32> {
	TaskTerms {
		asset,
		reward_per_round: 1_000,
		total_rounds: 2,
		min_trainers: 1,
		max_trainers: 4,
		trainer_stake: 100,
		round_length: 10,
		challenge_window: 5,
		aggregation: AggregationRule::FedAvg,
		jurisdictions: juris(&[]),
	}
}

fn create(sponsor: AccountId, model: ModelId, t: TaskTerms<Balance, u64, u32>) -> TaskId {
	let id = NextTaskId::<Test>::get();
	assert_ok!(DecentralMl::create_task(RuntimeOrigin::signed(sponsor), model, t));
	id
}

fn profile(who: AccountId, code: &[u8; 2]) {
	assert_ok!(DecentralMl::set_trainer_profile(RuntimeOrigin::signed(who), *code));
}

fn join(who: AccountId, task: TaskId) {
	profile(who, b"DE");
	assert_ok!(DecentralMl::join_task(RuntimeOrigin::signed(who), task));
}

fn held(reason: HoldReason, who: AccountId) -> Balance {
	Balances::balance_on_hold(&RuntimeHoldReason::DecentralMl(reason), &who)
}

fn frozen(who: AccountId) -> Balance {
	Balances::balance_frozen(&RuntimeFreezeReason::DecentralMl(crate::FreezeReason::Voting), &who)
}

fn asset_balance(id: u32, who: AccountId) -> Balance {
	<Assets as FsInspect<AccountId>>::balance(id, &who)
}

/// The escrow account of task 0.
fn escrow() -> AccountId {
	DecentralMl::task_account(0)
}

/// Model 0 (owner 1), task 0 sponsored by 2 in `asset`, trainers 3, 4 and 6, aggregator 5,
/// round 0 open at block 1 (deadline 11).
fn running(asset: RewardAsset<u32>) -> TaskId {
	let model = register(1);
	let task = create(2, model, terms(asset));
	for who in [3, 4, 6] {
		join(who, task);
	}
	assert_ok!(DecentralMl::bond_aggregator(RuntimeOrigin::signed(5), task));
	assert_ok!(DecentralMl::start_round(RuntimeOrigin::signed(9), task));
	task
}

fn update(who: AccountId, task: TaskId, round: RoundIndex, samples: u64) {
	assert_ok!(DecentralMl::submit_update(
		RuntimeOrigin::signed(who),
		task,
		round,
		cref(&format!("upd{who}r{round}")),
		samples,
		Metrics { loss_micros: 500_000, accuracy: Perbill::from_percent(90) },
	));
}

fn included(list: &[AccountId]) -> BoundedVec<AccountId, ConstU32<8>> {
	BoundedVec::try_from(list.to_vec()).unwrap()
}

fn aggregate(task: TaskId, round: RoundIndex, list: &[AccountId]) {
	assert_ok!(DecentralMl::submit_aggregate(
		RuntimeOrigin::signed(5),
		task,
		round,
		cref(&format!("agg{round}")),
		included(list),
		Metrics::default(),
	));
}

fn propose(who: AccountId, kind: ProposalKind<Balance, u64>) -> ProposalId {
	let id = NextProposalId::<Test>::get();
	assert_ok!(DecentralMl::submit_proposal(RuntimeOrigin::signed(who), kind));
	id
}

fn vote(who: AccountId, id: ProposalId, aye: bool, balance: Balance, conviction: Conviction) {
	assert_ok!(DecentralMl::vote(RuntimeOrigin::signed(who), id, aye, balance, conviction));
}

fn close_after_voting(id: ProposalId) {
	let ends = Proposals::<Test>::get(id).unwrap().ends_at;
	if System::block_number() <= ends {
		run_to_block(ends + 1);
	}
	assert_ok!(DecentralMl::close_proposal(RuntimeOrigin::signed(9), id));
}

fn fee_change(p: u32) -> ProposalKind<Balance, u64> {
	ProposalKind::SetParameter(ParameterChange::AggregatorFee(Perbill::from_percent(p)))
}

// ---------------------------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------------------------

#[test]
fn register_model_holds_deposit_and_stores_model() {
	build_and_execute(|| {
		let id = register_with(1, &[b"DE", b"FR"]);
		let model = Models::<Test>::get(id).expect("stored");
		assert_eq!(model.owner, 1);
		assert_eq!(model.name.to_vec(), b"digits-mlp".to_vec());
		assert_eq!(model.status, ModelStatus::Active);
		assert_eq!(model.deposit, 100);
		assert_eq!(model.jurisdictions.len(), 2);
		assert_eq!(model.licence, spdx("Apache-2.0"));
		assert_eq!(NextModelId::<Test>::get(), 1);
		assert_eq!(held(HoldReason::ModelDeposit, 1), 100);
		System::assert_last_event(
			Event::ModelRegistered { model_id: 0, owner: 1, deposit: 100 }.into(),
		);
		// Custom licence terms by content reference.
		assert_ok!(DecentralMl::register_model(
			RuntimeOrigin::signed(1),
			name("m2"),
			cref("a"),
			cref("b"),
			Licence { terms: LicenceTerms::Custom(cref("terms")), ..spdx("MIT") },
			juris(&[]),
		));
		assert_eq!(held(HoldReason::ModelDeposit, 1), 200);
	});
}

#[test]
fn register_model_rejects_bad_input() {
	build_and_execute(|| {
		let reg = |n: &str, a: ContentRef, l: Licence, j: Jurisdictions| {
			DecentralMl::register_model(RuntimeOrigin::signed(1), name(n), a, cref("w"), l, j)
		};
		let ok_l = spdx("MIT");
		assert_noop!(reg("", cref("a"), ok_l.clone(), juris(&[])), E::EmptyName);
		assert_noop!(reg(&"x".repeat(65), cref("a"), ok_l.clone(), juris(&[])), E::NameTooLong);
		assert_noop!(reg("m", raw_cid(b""), ok_l.clone(), juris(&[])), E::EmptyCid);
		assert_noop!(reg("m", raw_cid(&[b'a'; 101]), ok_l.clone(), juris(&[])), E::CidTooLong);
		assert_noop!(reg("m", raw_cid(b"bafy/../x"), ok_l.clone(), juris(&[])), E::MalformedCid);
		assert_noop!(reg("m", raw_cid(b"short"), ok_l.clone(), juris(&[])), E::MalformedCid);
		let mut empty = cref("a");
		empty.size = 0;
		assert_noop!(reg("m", empty, ok_l.clone(), juris(&[])), E::EmptyContent);
		assert_noop!(reg("m", cref("a"), spdx(""), juris(&[])), E::InvalidSpdxId);
		assert_noop!(reg("m", cref("a"), spdx("MIT OR GPL"), juris(&[])), E::InvalidSpdxId);
		assert_noop!(
			reg("m", cref("a"), Licence { terms: LicenceTerms::Custom(raw_cid(b"")), ..ok_l.clone() }, juris(&[])),
			E::EmptyCid
		);
		assert_noop!(reg("m", cref("a"), ok_l.clone(), juris(&[b"de"])), E::InvalidJurisdiction);
		assert_noop!(reg("m", cref("a"), ok_l.clone(), juris(&[b"D1"])), E::InvalidJurisdiction);
		assert_noop!(
			reg("m", cref("a"), ok_l.clone(), juris(&[b"DE", b"FR", b"DE"])),
			E::DuplicateJurisdiction
		);
	});
}

#[test]
fn register_model_requires_deposit_origin_and_ids() {
	build_and_execute(|| {
		assert_noop!(
			DecentralMl::register_model(
				RuntimeOrigin::signed(50),
				name("m"),
				cref("a"),
				cref("b"),
				spdx("MIT"),
				juris(&[])
			),
			E::InsufficientDeposit
		);
		assert_noop!(
			DecentralMl::register_model(
				RuntimeOrigin::root(),
				name("m"),
				cref("a"),
				cref("b"),
				spdx("MIT"),
				juris(&[])
			),
			DispatchError::BadOrigin
		);
		NextModelId::<Test>::put(u32::MAX);
		assert_noop!(
			DecentralMl::register_model(
				RuntimeOrigin::signed(1),
				name("m"),
				cref("a"),
				cref("b"),
				spdx("MIT"),
				juris(&[])
			),
			E::ModelIdsExhausted
		);
	});
}

#[test]
fn retire_model_releases_the_deposit_and_errors() {
	build_and_execute(|| {
		assert_noop!(DecentralMl::retire_model(RuntimeOrigin::signed(1), 0), E::ModelNotFound);
		let id = register(2);
		assert_noop!(DecentralMl::retire_model(RuntimeOrigin::signed(1), id), E::NotModelOwner);
		assert_ok!(DecentralMl::retire_model(RuntimeOrigin::signed(2), id));
		assert_eq!(held(HoldReason::ModelDeposit, 2), 0);
		assert_eq!(Balances::balance(&2), 10_000);
		assert_eq!(Models::<Test>::get(id).unwrap().status, ModelStatus::Retired);
		System::assert_last_event(Event::ModelRetired { model_id: id, deposit: 100 }.into());
		assert_noop!(DecentralMl::retire_model(RuntimeOrigin::signed(2), id), E::ModelRetired);
	});
}

// ---------------------------------------------------------------------------------------------
// Trainer profiles
// ---------------------------------------------------------------------------------------------

#[test]
fn trainer_profiles() {
	build_and_execute(|| {
		assert_noop!(
			DecentralMl::set_trainer_profile(RuntimeOrigin::signed(3), *b"de"),
			E::InvalidJurisdiction
		);
		assert_noop!(
			DecentralMl::clear_trainer_profile(RuntimeOrigin::signed(3)),
			E::NoTrainerProfile
		);
		profile(3, b"DE");
		System::assert_last_event(
			Event::TrainerProfileSet { trainer: 3, jurisdiction: *b"DE" }.into(),
		);
		profile(3, b"FR");
		assert_eq!(TrainerProfiles::<Test>::get(3).unwrap().jurisdiction, *b"FR");
		let model = register(1);
		let task = create(2, model, terms(RewardAsset::Native));
		assert_ok!(DecentralMl::join_task(RuntimeOrigin::signed(3), task));
		assert_noop!(
			DecentralMl::set_trainer_profile(RuntimeOrigin::signed(3), *b"DE"),
			E::TrainerHasTasks
		);
		assert_noop!(DecentralMl::clear_trainer_profile(RuntimeOrigin::signed(3)), E::TrainerHasTasks);
		assert_ok!(DecentralMl::leave_task(RuntimeOrigin::signed(3), task));
		assert_ok!(DecentralMl::clear_trainer_profile(RuntimeOrigin::signed(3)));
		System::assert_last_event(Event::TrainerProfileCleared { trainer: 3 }.into());
		assert!(TrainerProfiles::<Test>::get(3).is_none());
	});
}

// ---------------------------------------------------------------------------------------------
// Tasks
// ---------------------------------------------------------------------------------------------

#[test]
fn create_task_escrows_native_pool() {
	build_and_execute(|| {
		let model = register(1);
		let task = create(2, model, terms(RewardAsset::Native));
		assert_eq!(held(HoldReason::TaskReward, 2), 2_000);
		assert_eq!(Balances::balance(&2), 8_000);
		let t = Tasks::<Test>::get(task).unwrap();
		assert_eq!(t.pool, 2_000);
		assert_eq!(t.status, TaskStatus::Open);
		System::assert_last_event(
			Event::TaskCreated {
				task_id: task,
				model_id: model,
				sponsor: 2,
				asset: RewardAsset::Native,
				pool: 2_000,
			}
			.into(),
		);
	});
}

#[test]
fn create_task_escrows_asset_pool() {
	build_and_execute(|| {
		let model = register(1);
		create(2, model, terms(RewardAsset::Asset(ASSET)));
		assert_eq!(asset_balance(ASSET, 2), 8_000);
		assert_eq!(asset_balance(ASSET, escrow()), 2_000);
		assert_eq!(held(HoldReason::TaskReward, 2), 0);
	});
}

#[test]
fn create_task_errors() {
	build_and_execute(|| {
		let c = |sponsor: AccountId, model: ModelId, t| {
			DecentralMl::create_task(RuntimeOrigin::signed(sponsor), model, t)
		};
		let native = terms(RewardAsset::Native);
		assert_noop!(c(2, 0, native.clone()), E::ModelNotFound);
		let model = register_with(1, &[b"DE", b"FR"]);
		assert_noop!(c(2, model, TaskTerms { reward_per_round: 0, ..native.clone() }), E::ZeroReward);
		assert_noop!(c(2, model, TaskTerms { total_rounds: 0, ..native.clone() }), E::ZeroRounds);
		assert_noop!(c(2, model, TaskTerms { total_rounds: 11, ..native.clone() }), E::TooManyRounds);
		assert_noop!(c(2, model, TaskTerms { min_trainers: 0, ..native.clone() }), E::ZeroMinTrainers);
		assert_noop!(
			c(2, model, TaskTerms { min_trainers: 3, max_trainers: 2, ..native.clone() }),
			E::MaxTrainersBelowMin
		);
		assert_noop!(c(2, model, TaskTerms { max_trainers: 9, ..native.clone() }), E::TooManyTrainers);
		assert_noop!(c(2, model, TaskTerms { trainer_stake: 9, ..native.clone() }), E::StakeBelowMinimum);
		assert_noop!(c(2, model, TaskTerms { round_length: 0, ..native.clone() }), E::ZeroRoundLength);
		assert_noop!(
			c(2, model, TaskTerms { challenge_window: 0, ..native.clone() }),
			E::ZeroChallengeWindow
		);
		assert_noop!(
			c(2, model, TaskTerms { jurisdictions: juris(&[b"xx"]), ..native.clone() }),
			E::InvalidJurisdiction
		);
		assert_noop!(
			c(2, model, TaskTerms { jurisdictions: juris(&[b"DE", b"DE"]), ..native.clone() }),
			E::DuplicateJurisdiction
		);
		assert_noop!(
			c(2, model, TaskTerms { jurisdictions: juris(&[b"US"]), ..native.clone() }),
			E::JurisdictionOutsideModel
		);
		assert_noop!(
			c(2, model, TaskTerms { reward_per_round: u64::MAX, ..native.clone() }),
			E::Overflow
		);
		assert_noop!(c(50, model, native.clone()), E::InsufficientBalance);
		assert_noop!(c(2, model, terms(RewardAsset::Asset(1234))), E::UnknownAsset);
		assert_noop!(c(50, model, terms(RewardAsset::Asset(ASSET))), E::InsufficientAssetBalance);
		// A pool below the asset's minimum balance cannot enter the (empty) escrow account.
		assert_noop!(
			c(
				2,
				model,
				TaskTerms {
					reward_per_round: 10,
					total_rounds: 2,
					..terms(RewardAsset::Asset(DUSTY_ASSET))
				}
			),
			E::AssetTransferFailed
		);
		NextTaskId::<Test>::put(u32::MAX);
		assert_noop!(c(2, model, native.clone()), E::TaskIdsExhausted);
		NextTaskId::<Test>::put(0);
		assert_ok!(DecentralMl::council_suspend(RuntimeOrigin::signed(COUNCIL), model));
		assert_noop!(c(2, model, native), E::ModelNotUsable);
	});
}

#[test]
fn cancel_task_refunds_pool_stakes_and_bond() {
	build_and_execute(|| {
		let model = register(1);
		let task = create(2, model, terms(RewardAsset::Asset(ASSET)));
		join(3, task);
		assert_eq!(asset_balance(ASSET, escrow()), 2_100);
		assert_ok!(DecentralMl::bond_aggregator(RuntimeOrigin::signed(5), task));
		assert_noop!(DecentralMl::cancel_task(RuntimeOrigin::signed(3), task), E::NotSponsor);
		assert_noop!(DecentralMl::cancel_task(RuntimeOrigin::signed(2), 9), E::TaskNotFound);
		assert_ok!(DecentralMl::cancel_task(RuntimeOrigin::signed(2), task));
		System::assert_last_event(
			Event::TaskEnded { task_id: task, status: TaskStatus::Cancelled, refunded: 2_000 }.into(),
		);
		assert_eq!(asset_balance(ASSET, 2), 10_000);
		assert_eq!(asset_balance(ASSET, 3), 10_000);
		assert_eq!(asset_balance(ASSET, escrow()), 0);
		assert_eq!(held(HoldReason::AggregatorBond, 5), 0);
		assert_eq!(TrainerProfiles::<Test>::get(3).unwrap().active_tasks, 0);
		assert_noop!(DecentralMl::cancel_task(RuntimeOrigin::signed(2), task), E::TaskNotLive);
	});
}

#[test]
fn cancel_task_not_during_a_round() {
	build_and_execute(|| {
		let task = running(RewardAsset::Native);
		assert_noop!(DecentralMl::cancel_task(RuntimeOrigin::signed(2), task), E::RoundInProgress);
	});
}

#[test]
fn expire_task_after_idle_timeout() {
	build_and_execute(|| {
		let model = register(1);
		let task = create(2, model, terms(RewardAsset::Native));
		join(3, task);
		assert_noop!(DecentralMl::expire_task(RuntimeOrigin::signed(9), 7), E::TaskNotFound);
		assert_noop!(
			DecentralMl::expire_task(RuntimeOrigin::signed(9), task),
			E::TaskNotIdleLongEnough
		);
		run_to_block(22);
		assert_ok!(DecentralMl::expire_task(RuntimeOrigin::signed(9), task));
		assert_eq!(held(HoldReason::TaskReward, 2), 0);
		assert_eq!(held(HoldReason::TrainerStake, 3), 0);
		assert_eq!(Tasks::<Test>::get(task).unwrap().status, TaskStatus::Expired);
		assert_noop!(DecentralMl::expire_task(RuntimeOrigin::signed(9), task), E::TaskNotLive);
		let other = running(RewardAsset::Native);
		run_to_block(100);
		assert_noop!(DecentralMl::expire_task(RuntimeOrigin::signed(9), other), E::RoundInProgress);
	});
}

#[test]
fn join_task_holds_stake_and_checks_rules() {
	build_and_execute(|| {
		let model = register_with(1, &[b"DE", b"FR"]);
		let t = TaskTerms { jurisdictions: juris(&[b"DE"]), max_trainers: 2, ..terms(RewardAsset::Native) };
		let task = create(2, model, t);
		assert_noop!(DecentralMl::join_task(RuntimeOrigin::signed(3), 5), E::TaskNotFound);
		assert_noop!(DecentralMl::join_task(RuntimeOrigin::signed(3), task), E::NoTrainerProfile);
		profile(3, b"US");
		assert_noop!(
			DecentralMl::join_task(RuntimeOrigin::signed(3), task),
			E::JurisdictionNotAllowedByModel
		);
		profile(3, b"FR");
		assert_noop!(
			DecentralMl::join_task(RuntimeOrigin::signed(3), task),
			E::JurisdictionNotAllowedByTask
		);
		profile(3, b"DE");
		assert_ok!(DecentralMl::join_task(RuntimeOrigin::signed(3), task));
		System::assert_last_event(Event::TrainerJoined { task_id: task, trainer: 3, stake: 100 }.into());
		assert_eq!(held(HoldReason::TrainerStake, 3), 100);
		assert_eq!(Tasks::<Test>::get(task).unwrap().trainer_count, 1);
		assert_noop!(DecentralMl::join_task(RuntimeOrigin::signed(3), task), E::AlreadyJoined);
		profile(50, b"DE");
		assert_noop!(DecentralMl::join_task(RuntimeOrigin::signed(50), task), E::InsufficientBalance);
		join(4, task);
		profile(6, b"DE");
		assert_noop!(DecentralMl::join_task(RuntimeOrigin::signed(6), task), E::TaskFull);
		assert_ok!(DecentralMl::council_suspend(RuntimeOrigin::signed(COUNCIL), model));
		assert_ok!(DecentralMl::leave_task(RuntimeOrigin::signed(4), task));
		assert_noop!(DecentralMl::join_task(RuntimeOrigin::signed(6), task), E::ModelNotUsable);
		assert_ok!(DecentralMl::cancel_task(RuntimeOrigin::signed(2), task));
		assert_noop!(DecentralMl::join_task(RuntimeOrigin::signed(6), task), E::TaskNotLive);
	});
}

#[test]
fn join_asset_task_needs_the_asset() {
	build_and_execute(|| {
		let model = register(1);
		let task = create(2, model, terms(RewardAsset::Asset(ASSET)));
		profile(50, b"DE");
		assert_noop!(
			DecentralMl::join_task(RuntimeOrigin::signed(50), task),
			E::InsufficientAssetBalance
		);
		join(3, task);
		assert_eq!(asset_balance(ASSET, 3), 9_900);
		assert_eq!(held(HoldReason::TrainerStake, 3), 0);
	});
}

#[test]
fn leave_task_now_or_after_the_round() {
	build_and_execute(|| {
		let model = register(1);
		let task = create(2, model, terms(RewardAsset::Native));
		assert_noop!(DecentralMl::leave_task(RuntimeOrigin::signed(3), 9), E::TaskNotFound);
		assert_noop!(DecentralMl::leave_task(RuntimeOrigin::signed(3), task), E::NotParticipant);
		join(3, task);
		assert_ok!(DecentralMl::leave_task(RuntimeOrigin::signed(3), task));
		System::assert_last_event(Event::TrainerLeft { task_id: task, trainer: 3, stake: 100 }.into());
		assert_eq!(held(HoldReason::TrainerStake, 3), 0);

		// During a round the trainer leaves when the round is finalized.
		let task = running(RewardAsset::Native);
		assert_ok!(DecentralMl::leave_task(RuntimeOrigin::signed(3), task));
		System::assert_last_event(Event::TrainerLeaving { task_id: task, trainer: 3 }.into());
		assert_noop!(DecentralMl::leave_task(RuntimeOrigin::signed(3), task), E::AlreadyLeaving);
		assert_eq!(held(HoldReason::TrainerStake, 3), 100);
		update(3, task, 0, 10);
		update(4, task, 0, 10);
		update(6, task, 0, 10);
		aggregate(task, 0, &[3, 4, 6]);
		run_to_block(20);
		assert_ok!(DecentralMl::finalize_round(RuntimeOrigin::signed(9), task, 0));
		assert!(!Participants::<Test>::contains_key(task, 3));
		assert_eq!(held(HoldReason::TrainerStake, 3), 0);
		// A trainer that joined mid-round (not due) leaves at once.
		join(7, task);
		assert_ok!(DecentralMl::leave_task(RuntimeOrigin::signed(7), task));
		assert_eq!(held(HoldReason::TrainerStake, 7), 0);
	});
}

#[test]
fn leave_ended_task_fails() {
	build_and_execute(|| {
		let model = register(1);
		let task = create(2, model, terms(RewardAsset::Native));
		assert_ok!(DecentralMl::cancel_task(RuntimeOrigin::signed(2), task));
		assert_noop!(DecentralMl::leave_task(RuntimeOrigin::signed(3), task), E::TaskNotLive);
	});
}

#[test]
fn aggregator_bonding() {
	build_and_execute(|| {
		let model = register(1);
		let task = create(2, model, terms(RewardAsset::Native));
		assert_noop!(DecentralMl::bond_aggregator(RuntimeOrigin::signed(5), 9), E::TaskNotFound);
		assert_noop!(DecentralMl::unbond_aggregator(RuntimeOrigin::signed(5), 9), E::TaskNotFound);
		assert_noop!(DecentralMl::unbond_aggregator(RuntimeOrigin::signed(5), task), E::NoAggregator);
		assert_noop!(
			DecentralMl::bond_aggregator(RuntimeOrigin::signed(50), task),
			E::InsufficientBalance
		);
		assert_ok!(DecentralMl::bond_aggregator(RuntimeOrigin::signed(5), task));
		System::assert_last_event(
			Event::AggregatorBonded { task_id: task, aggregator: 5, bond: 50 }.into(),
		);
		assert_eq!(held(HoldReason::AggregatorBond, 5), 50);
		assert_noop!(
			DecentralMl::bond_aggregator(RuntimeOrigin::signed(6), task),
			E::AggregatorAlreadyBonded
		);
		assert_noop!(DecentralMl::unbond_aggregator(RuntimeOrigin::signed(6), task), E::NotAggregator);
		assert_ok!(DecentralMl::unbond_aggregator(RuntimeOrigin::signed(5), task));
		assert_eq!(held(HoldReason::AggregatorBond, 5), 0);
		assert_ok!(DecentralMl::cancel_task(RuntimeOrigin::signed(2), task));
		assert_noop!(DecentralMl::bond_aggregator(RuntimeOrigin::signed(5), task), E::TaskNotLive);
		let task = running(RewardAsset::Native);
		assert_noop!(
			DecentralMl::unbond_aggregator(RuntimeOrigin::signed(5), task),
			E::RoundInProgress
		);
	});
}

// ---------------------------------------------------------------------------------------------
// Rounds
// ---------------------------------------------------------------------------------------------

#[test]
fn start_round_errors_and_success() {
	build_and_execute(|| {
		assert_noop!(DecentralMl::start_round(RuntimeOrigin::signed(9), 0), E::TaskNotFound);
		let model = register(1);
		let task = create(2, model, TaskTerms { min_trainers: 2, ..terms(RewardAsset::Native) });
		assert_noop!(DecentralMl::start_round(RuntimeOrigin::signed(9), task), E::NoAggregator);
		assert_ok!(DecentralMl::bond_aggregator(RuntimeOrigin::signed(5), task));
		join(3, task);
		assert_noop!(DecentralMl::start_round(RuntimeOrigin::signed(9), task), E::NotEnoughTrainers);
		join(4, task);
		assert_ok!(DecentralMl::council_suspend(RuntimeOrigin::signed(COUNCIL), model));
		assert_noop!(DecentralMl::start_round(RuntimeOrigin::signed(9), task), E::ModelNotUsable);
		run_to_block(16); // the suspension lapses
		assert_ok!(DecentralMl::start_round(RuntimeOrigin::signed(9), task));
		let round = Rounds::<Test>::get(task).unwrap();
		assert_eq!(round.index, 0);
		assert_eq!(round.base, cref("weights"));
		assert_eq!(round.deadline, 26);
		System::assert_last_event(
			Event::RoundOpened { task_id: task, round: 0, base: cref("weights"), deadline: 26 }.into(),
		);
		assert_eq!(Tasks::<Test>::get(task).unwrap().status, TaskStatus::Running);
		assert_noop!(DecentralMl::start_round(RuntimeOrigin::signed(9), task), E::RoundInProgress);
		assert_ok!(DecentralMl::leave_task(RuntimeOrigin::signed(3), task));
		run_to_block(40);
		// Round failed without updates; the next one cannot open with 1 trainer.
		assert_ok!(DecentralMl::finalize_round(RuntimeOrigin::signed(9), task, 0));
		assert!(Rounds::<Test>::get(task).is_none());
		assert_noop!(DecentralMl::start_round(RuntimeOrigin::signed(9), task), E::NotEnoughTrainers);
		assert_ok!(DecentralMl::cancel_task(RuntimeOrigin::signed(2), task));
		assert_noop!(DecentralMl::start_round(RuntimeOrigin::signed(9), task), E::TaskNotLive);
	});
}

#[test]
fn submit_update_success_and_errors() {
	build_and_execute(|| {
		let task = running(RewardAsset::Native);
		let s = |who: AccountId, task: TaskId, round: RoundIndex, c: ContentRef, samples: u64| {
			DecentralMl::submit_update(RuntimeOrigin::signed(who), task, round, c, samples, Metrics::default())
		};
		assert_noop!(s(3, task, 0, raw_cid(b""), 10), E::EmptyCid);
		assert_noop!(s(3, task, 0, raw_cid(&[b'a'; 128]), 10), E::CidTooLong);
		assert_noop!(s(3, task, 0, raw_cid(b"bafy bad cid"), 10), E::MalformedCid);
		assert_noop!(s(3, task, 0, cref("u"), 0), E::ZeroSamples);
		assert_noop!(s(3, 9, 0, cref("u"), 10), E::TaskNotFound);
		assert_noop!(s(3, task, 1, cref("u"), 10), E::WrongRound);
		assert_noop!(s(8, task, 0, cref("u"), 10), E::NotParticipant);
		join(7, task);
		assert_noop!(s(7, task, 0, cref("u"), 10), E::NotDueThisRound);
		update(3, task, 0, 10);
		System::assert_last_event(
			Event::UpdateSubmitted { task_id: task, round: 0, trainer: 3, samples: 10 }.into(),
		);
		assert_eq!(Rounds::<Test>::get(task).unwrap().submissions, 1);
		assert_noop!(s(3, task, 0, cref("u2"), 10), E::AlreadySubmitted);
		run_to_block(12);
		assert_noop!(s(4, task, 0, cref("u"), 10), E::DeadlinePassed);
		aggregate(task, 0, &[3]);
		assert_noop!(s(4, task, 0, cref("u"), 10), E::RoundNotOpen);

		let model = register(1);
		let other = create(2, model, terms(RewardAsset::Native));
		assert_noop!(s(3, other, 0, cref("u"), 10), E::NoActiveRound);
	});
}

#[test]
fn submit_aggregate_success_and_errors() {
	build_and_execute(|| {
		let task = running(RewardAsset::Native);
		let a = |who: AccountId, task: TaskId, round: RoundIndex, c: ContentRef, list: &[AccountId]| {
			DecentralMl::submit_aggregate(
				RuntimeOrigin::signed(who),
				task,
				round,
				c,
				included(list),
				Metrics::default(),
			)
		};
		update(3, task, 0, 30);
		update(4, task, 0, 10);
		assert_noop!(a(5, task, 0, raw_cid(b"x"), &[3]), E::MalformedCid);
		assert_noop!(a(5, task, 0, cref("g"), &[]), E::EmptyAggregate);
		assert_noop!(a(5, 9, 0, cref("g"), &[3]), E::TaskNotFound);
		assert_noop!(a(5, task, 1, cref("g"), &[3]), E::WrongRound);
		assert_noop!(a(4, task, 0, cref("g"), &[3]), E::NotAggregator);
		assert_noop!(a(5, task, 0, cref("g"), &[3]), E::RoundStillOpen);
		run_to_block(12);
		assert_noop!(a(5, task, 0, cref("g"), &[3, 3]), E::DuplicateIncluded);
		assert_noop!(a(5, task, 0, cref("g"), &[3, 6]), E::UpdateNotFound);
		assert_ok!(a(5, task, 0, cref("g"), &[3, 4]));
		let round = Rounds::<Test>::get(task).unwrap();
		assert_eq!(round.status, RoundStatus::Aggregated);
		let agg = round.aggregate.unwrap();
		assert_eq!(agg.included.to_vec(), vec![3, 4]);
		let mut bytes = [7u8; 32].to_vec();
		bytes.extend_from_slice(&[7u8; 32]);
		assert_eq!(agg.updates_digest, sp_io::hashing::blake2_256(&bytes));
		assert_noop!(a(5, task, 0, cref("g"), &[3]), E::RoundNotOpen);

		let model = register(1);
		let other = create(2, model, terms(RewardAsset::Native));
		assert_noop!(a(5, other, 0, cref("g"), &[3]), E::NoActiveRound);
	});
}

#[test]
fn submit_aggregate_early_when_all_submitted_and_not_after_period() {
	build_and_execute(|| {
		let task = running(RewardAsset::Native);
		update(3, task, 0, 1);
		update(4, task, 0, 1);
		update(6, task, 0, 1);
		aggregate(task, 0, &[3, 4, 6]);

		let task2 = create(2, 0, terms(RewardAsset::Native));
		join(7, task2);
		assert_ok!(DecentralMl::bond_aggregator(RuntimeOrigin::signed(5), task2));
		assert_ok!(DecentralMl::start_round(RuntimeOrigin::signed(9), task2));
		update(7, task2, 0, 1);
		run_to_block(17); // deadline 11 + aggregation period 5
		assert_noop!(
			DecentralMl::submit_aggregate(
				RuntimeOrigin::signed(5),
				task2,
				0,
				cref("g"),
				included(&[7]),
				Metrics::default()
			),
			E::AggregationPeriodOver
		);
	});
}

#[test]
fn full_native_lifecycle_pays_pro_rata_slashes_and_proposes_a_version() {
	build_and_execute(|| {
		let task = running(RewardAsset::Native);
		update(3, task, 0, 300);
		update(4, task, 0, 100);
		run_to_block(12);
		aggregate(task, 0, &[3, 4]);
		run_to_block(17);
		assert_noop!(
			DecentralMl::finalize_round(RuntimeOrigin::signed(9), task, 0),
			E::ChallengeWindowOpen
		);
		run_to_block(18);
		assert_noop!(DecentralMl::finalize_round(RuntimeOrigin::signed(9), task, 1), E::WrongRound);
		assert_ok!(DecentralMl::finalize_round(RuntimeOrigin::signed(9), task, 0));
		System::assert_has_event(
			Event::RewardPaid { task_id: task, round: 0, account: 5, amount: 100 }.into(),
		);
		System::assert_has_event(
			Event::RewardPaid { task_id: task, round: 0, account: 3, amount: 675 }.into(),
		);
		System::assert_has_event(
			Event::RewardPaid { task_id: task, round: 0, account: 4, amount: 225 }.into(),
		);
		System::assert_has_event(
			Event::StakeSlashed { task_id: task, round: 0, trainer: 6, amount: 20 }.into(),
		);
		System::assert_has_event(
			Event::RoundFinalized { task_id: task, round: 0, succeeded: true, paid: 1_000 }.into(),
		);
		// Round 1 opened at once from the aggregate.
		let round = Rounds::<Test>::get(task).unwrap();
		assert_eq!((round.index, round.base.clone(), round.deadline), (1, cref("agg0"), 28));
		assert_eq!(held(HoldReason::TaskReward, 2), 1_000);

		update(3, task, 1, 50);
		run_to_block(29);
		aggregate(task, 1, &[3]);
		run_to_block(35);
		assert_ok!(DecentralMl::finalize_round(RuntimeOrigin::signed(9), task, 1));
		let t = Tasks::<Test>::get(task).unwrap();
		assert_eq!(t.status, TaskStatus::Completed);
		assert_eq!(t.pool, 0);
		assert_eq!(Balances::balance(&3), 10_000 + 675 + 900);
		assert_eq!(Balances::balance(&4), 10_000 + 225 - 20);
		assert_eq!(Balances::balance(&6), 10_000 - 20 - 16);
		assert_eq!(Balances::balance(&5), 10_000 + 100 + 100);
		assert_eq!(Balances::balance(&2), 10_000 - 2_000 + 20 + 20 + 16);
		for who in [2, 3, 4, 5, 6] {
			assert_eq!(Balances::total_balance_on_hold(&who), 0);
		}
		let version = Versions::<Test>::get(0, 0).unwrap();
		assert_eq!(version.status, VersionStatus::Proposed);
		assert_eq!(version.weights, cref("agg1"));
		assert_eq!(version.provenance.task, task);
		assert_eq!(version.provenance.round, 1);
		System::assert_has_event(
			Event::VersionProposed { model_id: 0, version: 0, task_id: task, round: 1 }.into(),
		);

		// Governance approves it; the next task starts from it.
		let id = propose(7, ProposalKind::ApproveVersion { model: 0, version: 0 });
		vote(8, id, true, 5_000, Conviction::Locked1x);
		close_after_voting(id);
		assert_eq!(Versions::<Test>::get(0, 0).unwrap().status, VersionStatus::Approved);
		assert_eq!(Models::<Test>::get(0).unwrap().latest_approved, Some(0));
		let next = create(2, 0, terms(RewardAsset::Native));
		join(3, next);
		assert_ok!(DecentralMl::bond_aggregator(RuntimeOrigin::signed(5), next));
		assert_ok!(DecentralMl::start_round(RuntimeOrigin::signed(9), next));
		let round = Rounds::<Test>::get(next).unwrap();
		assert_eq!((round.base, round.base_version), (cref("agg1"), Some(0)));
	});
}

#[test]
fn asset_lifecycle_pays_in_the_asset() {
	build_and_execute(|| {
		let task = running(RewardAsset::Asset(ASSET));
		assert_eq!(asset_balance(ASSET, escrow()), 2_300);
		update(3, task, 0, 1);
		update(4, task, 0, 1);
		run_to_block(12);
		aggregate(task, 0, &[3, 4]);
		run_to_block(18);
		assert_ok!(DecentralMl::finalize_round(RuntimeOrigin::signed(9), task, 0));
		assert_eq!(asset_balance(ASSET, 3), 9_900 + 450);
		assert_eq!(asset_balance(ASSET, 5), 10_000 + 100);
		assert_eq!(asset_balance(ASSET, 2), 8_000 + 20);
		// Nobody submits in round 1: it fails without rewards and everyone is slashed.
		run_to_block(30);
		assert_ok!(DecentralMl::finalize_round(RuntimeOrigin::signed(9), task, 1));
		assert_eq!(Tasks::<Test>::get(task).unwrap().status, TaskStatus::Completed);
		assert_eq!(asset_balance(ASSET, escrow()), 0);
		assert_eq!(asset_balance(ASSET, 2), 8_000 + 20 + 1_000 + 20 + 20 + 16);
		assert_eq!(asset_balance(ASSET, 3), 9_900 + 450 + 80);
	});
}

#[test]
fn reward_below_minimum_balance_is_refunded_not_lost() {
	build_and_execute(|| {
		let model = register(1);
		let t = TaskTerms {
			reward_per_round: 100,
			total_rounds: 1,
			..terms(RewardAsset::Asset(DUSTY_ASSET))
		};
		let task = create(2, model, t);
		join(3, task);
		// Account 50 holds none of the asset: a fee of 10 is below its minimum of 50.
		assert_ok!(Balances::force_set_balance(RuntimeOrigin::root(), 50, 1_000));
		assert_ok!(DecentralMl::bond_aggregator(RuntimeOrigin::signed(50), task));
		assert_ok!(DecentralMl::start_round(RuntimeOrigin::signed(9), task));
		update(3, task, 0, 1);
		assert_ok!(DecentralMl::submit_aggregate(
			RuntimeOrigin::signed(50),
			task,
			0,
			cref("g"),
			included(&[3]),
			Metrics::default()
		));
		run_to_block(10);
		assert_ok!(DecentralMl::finalize_round(RuntimeOrigin::signed(9), task, 0));
		System::assert_has_event(
			Event::RewardUnpaid { task_id: task, round: 0, account: 50, amount: 10 }.into(),
		);
		System::assert_has_event(
			Event::TaskEnded { task_id: task, status: TaskStatus::Completed, refunded: 10 }.into(),
		);
		assert_eq!(asset_balance(DUSTY_ASSET, 2), 10_000 - 100 + 10);
		assert_eq!(asset_balance(DUSTY_ASSET, escrow()), 0);
	});
}

#[test]
fn finalize_round_errors() {
	build_and_execute(|| {
		assert_noop!(DecentralMl::finalize_round(RuntimeOrigin::signed(9), 0, 0), E::TaskNotFound);
		let task = running(RewardAsset::Native);
		assert_noop!(DecentralMl::finalize_round(RuntimeOrigin::signed(9), task, 0), E::RoundStillOpen);
		update(3, task, 0, 1);
		run_to_block(12);
		assert_noop!(
			DecentralMl::finalize_round(RuntimeOrigin::signed(9), task, 0),
			E::AwaitingAggregate
		);
		aggregate(task, 0, &[3]);
		assert_ok!(DecentralMl::challenge_aggregate(RuntimeOrigin::signed(7), task, 0, cref("ev")));
		run_to_block(30);
		assert_noop!(
			DecentralMl::finalize_round(RuntimeOrigin::signed(9), task, 0),
			E::RoundUnderChallenge
		);
		let model = register(1);
		let other = create(2, model, terms(RewardAsset::Native));
		assert_noop!(DecentralMl::finalize_round(RuntimeOrigin::signed(9), other, 0), E::NoActiveRound);
	});
}

#[test]
fn missed_aggregation_slashes_the_aggregator() {
	build_and_execute(|| {
		let task = running(RewardAsset::Native);
		update(3, task, 0, 1);
		run_to_block(17);
		assert_ok!(DecentralMl::finalize_round(RuntimeOrigin::signed(9), task, 0));
		System::assert_has_event(
			Event::AggregatorSlashed { task_id: task, round: 0, aggregator: 5, amount: 10 }.into(),
		);
		System::assert_has_event(
			Event::RoundFinalized { task_id: task, round: 0, succeeded: false, paid: 0 }.into(),
		);
		assert_eq!(held(HoldReason::AggregatorBond, 5), 0);
		assert_eq!(Balances::balance(&5), 10_000 - 10);
		assert!(Tasks::<Test>::get(task).unwrap().aggregator.is_none());
		// No round opens without an aggregator; the pool is intact.
		assert!(Rounds::<Test>::get(task).is_none());
		assert_eq!(Tasks::<Test>::get(task).unwrap().pool, 2_000);
	});
}

// ---------------------------------------------------------------------------------------------
// Challenges
// ---------------------------------------------------------------------------------------------

fn challenged() -> (TaskId, ProposalId) {
	let task = running(RewardAsset::Native);
	update(3, task, 0, 10);
	update(4, task, 0, 10);
	run_to_block(12);
	aggregate(task, 0, &[3, 4]);
	let id = NextProposalId::<Test>::get();
	assert_ok!(DecentralMl::challenge_aggregate(RuntimeOrigin::signed(7), task, 0, cref("ev")));
	(task, id)
}

#[test]
fn challenge_aggregate_errors() {
	build_and_execute(|| {
		let task = running(RewardAsset::Native);
		let c = |who: AccountId, task: TaskId, round: RoundIndex, ev: ContentRef| {
			DecentralMl::challenge_aggregate(RuntimeOrigin::signed(who), task, round, ev)
		};
		assert_noop!(c(7, task, 0, raw_cid(b"")), E::EmptyCid);
		assert_noop!(c(7, 9, 0, cref("e")), E::TaskNotFound);
		assert_noop!(c(7, task, 1, cref("e")), E::WrongRound);
		assert_noop!(c(7, task, 0, cref("e")), E::NotAggregated);
		update(3, task, 0, 10);
		run_to_block(12);
		aggregate(task, 0, &[3]);
		assert_noop!(c(5, task, 0, cref("e")), E::ChallengeOwnAggregate);
		assert_noop!(c(100, task, 0, cref("e")), E::InsufficientBalance);
		NextProposalId::<Test>::put(u32::MAX);
		assert_noop!(c(7, task, 0, cref("e")), E::ProposalIdsExhausted);
		NextProposalId::<Test>::put(0);
		run_to_block(18);
		assert_noop!(c(7, task, 0, cref("e")), E::ChallengeWindowClosed);
		let model = register(1);
		let other = create(2, model, terms(RewardAsset::Native));
		assert_noop!(c(7, other, 0, cref("e")), E::NoActiveRound);
	});
}

#[test]
fn upheld_challenge_slashes_the_aggregator() {
	build_and_execute(|| {
		let (task, id) = challenged();
		System::assert_last_event(
			Event::AggregateChallenged { task_id: task, round: 0, challenger: 7, proposal_id: id }
				.into(),
		);
		assert_eq!(held(HoldReason::ChallengeBond, 7), 40);
		assert_eq!(Rounds::<Test>::get(task).unwrap().status, RoundStatus::Challenged);
		vote(8, id, true, 5_000, Conviction::Locked1x);
		close_after_voting(id);
		System::assert_has_event(
			Event::ChallengeUpheld { task_id: task, round: 0, challenger: 7, aggregator: 5, slashed: 50 }
				.into(),
		);
		assert_eq!(Balances::balance(&7), 10_000 + 50);
		assert_eq!(held(HoldReason::AggregatorBond, 5), 0);
		assert_eq!(Rounds::<Test>::get(task).unwrap().status, RoundStatus::Failed);
		// The failed round pays nothing and finalizes at once.
		assert_ok!(DecentralMl::finalize_round(RuntimeOrigin::signed(9), task, 0));
		assert_eq!(Tasks::<Test>::get(task).unwrap().pool, 2_000);
	});
}

#[test]
fn dismissed_challenge_slashes_the_challenger() {
	build_and_execute(|| {
		let (task, id) = challenged();
		vote(8, id, false, 5_000, Conviction::Locked1x);
		close_after_voting(id);
		System::assert_has_event(
			Event::ChallengeDismissed {
				task_id: task,
				round: 0,
				challenger: 7,
				aggregator: 5,
				slashed: 40,
			}
			.into(),
		);
		assert_eq!(Balances::balance(&7), 10_000 - 40);
		assert_eq!(Balances::balance(&5), 10_000 - 50 + 40);
		assert_eq!(Rounds::<Test>::get(task).unwrap().status, RoundStatus::Aggregated);
		assert_ok!(DecentralMl::finalize_round(RuntimeOrigin::signed(9), task, 0));
		System::assert_has_event(
			Event::RoundFinalized { task_id: task, round: 0, succeeded: true, paid: 1_000 }.into(),
		);
	});
}

// ---------------------------------------------------------------------------------------------
// Governance
// ---------------------------------------------------------------------------------------------

#[test]
fn submit_proposal_success_and_errors() {
	build_and_execute(|| {
		let s = |who: AccountId, kind| DecentralMl::submit_proposal(RuntimeOrigin::signed(who), kind);
		assert_noop!(s(7, ProposalKind::ApproveVersion { model: 0, version: 0 }), E::ModelNotFound);
		let model = register(1);
		assert_noop!(s(7, ProposalKind::RejectVersion { model, version: 0 }), E::VersionNotFound);
		assert_noop!(
			s(7, ProposalKind::SetLicence { model, licence: spdx("a b") }),
			E::InvalidSpdxId
		);
		assert_noop!(
			s(7, ProposalKind::SetJurisdictions { model, jurisdictions: juris(&[b"d1"]) }),
			E::InvalidJurisdiction
		);
		assert_noop!(s(7, ProposalKind::ResolveChallenge { task: 0, round: 0 }), E::NotSubmittable);
		assert_noop!(s(7, fee_change(51)), E::InvalidParameter);
		assert_noop!(
			s(7, ProposalKind::SetParameter(ParameterChange::VotingPeriod(0))),
			E::InvalidParameter
		);
		assert_noop!(
			s(7, ProposalKind::SetParameter(ParameterChange::SafetyApproval(Perbill::from_percent(50)))),
			E::InvalidParameter
		);
		assert_noop!(s(100, fee_change(5)), E::InsufficientDeposit);
		let id = propose(7, fee_change(5));
		System::assert_last_event(
			Event::ProposalSubmitted { proposal_id: id, proposer: 7, deposit: 30, ends_at: 11 }.into(),
		);
		assert_eq!(held(HoldReason::ProposalDeposit, 7), 30);
		NextProposalId::<Test>::put(u32::MAX);
		assert_noop!(s(7, fee_change(5)), E::ProposalIdsExhausted);
		NextProposalId::<Test>::put(1);
		assert_ok!(DecentralMl::retire_model(RuntimeOrigin::signed(1), model));
		assert_noop!(
			s(7, ProposalKind::Safety { model, action: SafetyAction::Flag }),
			E::ModelRetired
		);
	});
}

#[test]
fn vote_success_and_errors() {
	build_and_execute(|| {
		let v = |who: AccountId, id: ProposalId, balance: Balance| {
			DecentralMl::vote(RuntimeOrigin::signed(who), id, true, balance, Conviction::Locked2x)
		};
		assert_noop!(v(8, 0, 10), E::ProposalNotFound);
		let id = propose(7, fee_change(5));
		assert_noop!(v(8, id, 0), E::ZeroVote);
		assert_noop!(v(8, id, 10_001), E::InsufficientVotingBalance);
		assert_ok!(v(8, id, 1_000));
		System::assert_last_event(
			Event::Voted { proposal_id: id, voter: 8, aye: true, balance: 1_000, conviction: Conviction::Locked2x }
				.into(),
		);
		assert_eq!(Proposals::<Test>::get(id).unwrap().tally, Tally { ayes: 2_000, nays: 0, support: 1_000 });
		assert_eq!(frozen(8), 1_000);
		assert_noop!(v(8, id, 10), E::AlreadyVoted);
		// The same balance can vote on other proposals; the freeze is the largest vote.
		for p in 1..4 {
			let other = propose(7, fee_change(p));
			assert_ok!(v(8, other, 500 * p as u64));
		}
		assert_eq!(frozen(8), 1_500);
		let fifth = propose(7, fee_change(9));
		assert_noop!(v(8, fifth, 10), E::TooManyVotes);
		run_to_block(12);
		assert_noop!(v(9, id, 10), E::VotingClosed);
		close_after_voting(id);
		assert_noop!(v(9, id, 10), E::VotingClosed);
	});
}

#[test]
fn conviction_weights_and_none_is_a_tenth() {
	build_and_execute(|| {
		let id = propose(7, fee_change(5));
		vote(8, id, true, 1_500, Conviction::None);
		vote(9, id, false, 1_500, Conviction::Locked6x);
		assert_eq!(
			Proposals::<Test>::get(id).unwrap().tally,
			Tally { ayes: 150, nays: 9_000, support: 3_000 }
		);
		close_after_voting(id);
		assert_eq!(Proposals::<Test>::get(id).unwrap().status, ProposalStatus::Rejected);
		// Refunded: quorum was met.
		assert_eq!(held(HoldReason::ProposalDeposit, 7), 0);
		assert_eq!(Balances::balance(&7), 10_000);
		// None unlocks right after the close; 6x after 32 periods of 4 blocks.
		assert_ok!(DecentralMl::unlock(RuntimeOrigin::signed(1), 8));
		assert_eq!(frozen(8), 0);
		assert_noop!(DecentralMl::unlock(RuntimeOrigin::signed(1), 9), E::NothingToUnlock);
		run_to_block(11 + 128 - 1);
		assert_noop!(DecentralMl::unlock(RuntimeOrigin::signed(1), 9), E::NothingToUnlock);
		run_to_block(11 + 128);
		assert_ok!(DecentralMl::unlock(RuntimeOrigin::signed(1), 9));
		System::assert_last_event(Event::VotesUnlocked { who: 9, removed: 1, frozen: 0 }.into());
		assert!(VotingOf::<Test>::get(9).is_empty());
	});
}

#[test]
fn close_proposal_success_and_errors() {
	build_and_execute(|| {
		assert_noop!(DecentralMl::close_proposal(RuntimeOrigin::signed(9), 0), E::ProposalNotFound);
		let id = propose(7, fee_change(5));
		vote(8, id, true, 3_000, Conviction::Locked1x);
		assert_noop!(DecentralMl::close_proposal(RuntimeOrigin::signed(9), id), E::VotingStillOpen);
		close_after_voting(id);
		assert_eq!(Params::<Test>::get().aggregator_fee, Perbill::from_percent(5));
		System::assert_has_event(
			Event::ParameterChanged {
				change: ParameterChange::AggregatorFee(Perbill::from_percent(5)),
			}
			.into(),
		);
		System::assert_has_event(
			Event::ProposalClosed {
				proposal_id: id,
				status: ProposalStatus::Passed,
				tally: Tally { ayes: 3_000, nays: 0, support: 3_000 },
			}
			.into(),
		);
		assert_noop!(DecentralMl::close_proposal(RuntimeOrigin::signed(9), id), E::ProposalNotOngoing);
	});
}

#[test]
fn no_quorum_slashes_the_deposit() {
	build_and_execute(|| {
		let id = propose(7, fee_change(5));
		vote(8, id, true, 100, Conviction::Locked6x); // support 100 < 1% of issuance
		close_after_voting(id);
		assert_eq!(Proposals::<Test>::get(id).unwrap().status, ProposalStatus::NoQuorum);
		assert_eq!(Balances::total_balance(&7), 10_000 - 30);
		System::assert_has_event(
			Event::DepositSlashed { proposal_id: id, who: 7, amount: 30 }.into(),
		);
		assert_eq!(Params::<Test>::get().aggregator_fee, Perbill::from_percent(10));
	});
}

#[test]
fn safety_needs_a_supermajority_and_its_own_quorum() {
	build_and_execute(|| {
		let model = register(1);
		// 60% ayes pass a standard proposal ...
		let std = propose(7, ProposalKind::SetLicence { model, licence: spdx("MIT") });
		vote(8, std, true, 6_000, Conviction::Locked1x);
		vote(9, std, false, 4_000, Conviction::Locked1x);
		// ... but not a safety one.
		let safety = propose(7, ProposalKind::Safety { model, action: SafetyAction::Flag });
		vote(8, safety, true, 6_000, Conviction::Locked1x);
		vote(9, safety, false, 4_000, Conviction::Locked1x);
		// 2_100 turnout is above the standard quorum (2_001) and below the safety one (4_002).
		let low = propose(7, ProposalKind::Safety { model, action: SafetyAction::Flag });
		vote(10, low, true, 2_100, Conviction::Locked6x);
		close_after_voting(std);
		close_after_voting(safety);
		close_after_voting(low);
		assert_eq!(Proposals::<Test>::get(std).unwrap().status, ProposalStatus::Passed);
		assert_eq!(Models::<Test>::get(model).unwrap().licence, spdx("MIT"));
		System::assert_has_event(Event::LicenceSet { model_id: model }.into());
		assert_eq!(Proposals::<Test>::get(safety).unwrap().status, ProposalStatus::Rejected);
		assert_eq!(Proposals::<Test>::get(low).unwrap().status, ProposalStatus::NoQuorum);
		assert_eq!(Models::<Test>::get(model).unwrap().status, ModelStatus::Active);
	});
}

#[test]
fn safety_actions_and_jurisdictions_via_governance() {
	build_and_execute(|| {
		let model = register(1);
		let pass = |kind| {
			let id = propose(7, kind);
			vote(8, id, true, 9_000, Conviction::None);
			close_after_voting(id);
			assert_ok!(DecentralMl::unlock(RuntimeOrigin::signed(8), 8));
			id
		};
		pass(ProposalKind::SetJurisdictions { model, jurisdictions: juris(&[b"DE"]) });
		assert_eq!(Models::<Test>::get(model).unwrap().jurisdictions, juris(&[b"DE"]));
		pass(ProposalKind::Safety { model, action: SafetyAction::Flag });
		assert_eq!(Models::<Test>::get(model).unwrap().status, ModelStatus::Flagged);
		pass(ProposalKind::Safety { model, action: SafetyAction::Suspend });
		assert_eq!(Models::<Test>::get(model).unwrap().status, ModelStatus::Suspended);
		// Flagging a suspended model cannot be enacted: the failure is reported, nothing changes.
		let id = pass(ProposalKind::Safety { model, action: SafetyAction::Flag });
		System::assert_has_event(
			Event::ProposalEnactmentFailed {
				proposal_id: id,
				error: E::ActionNotApplicable.into(),
			}
			.into(),
		);
		pass(ProposalKind::Safety { model, action: SafetyAction::Reinstate });
		assert_eq!(Models::<Test>::get(model).unwrap().status, ModelStatus::Active);
		pass(ProposalKind::Safety { model, action: SafetyAction::Retire });
		assert_eq!(Models::<Test>::get(model).unwrap().status, ModelStatus::Retired);
		assert_eq!(held(HoldReason::ModelDeposit, 1), 0);
	});
}

#[test]
fn reject_version_via_governance() {
	build_and_execute(|| {
		let task = running(RewardAsset::Native);
		Tasks::<Test>::mutate(task, |t| t.as_mut().unwrap().terms.total_rounds = 1);
		update(3, task, 0, 1);
		run_to_block(12);
		aggregate(task, 0, &[3]);
		run_to_block(18);
		assert_ok!(DecentralMl::finalize_round(RuntimeOrigin::signed(9), task, 0));
		let id = propose(7, ProposalKind::RejectVersion { model: 0, version: 0 });
		assert_noop!(
			DecentralMl::submit_proposal(
				RuntimeOrigin::signed(7),
				ProposalKind::RejectVersion { model: 0, version: 1 }
			),
			E::VersionNotFound
		);
		vote(8, id, true, 9_000, Conviction::Locked1x);
		close_after_voting(id);
		assert_eq!(Versions::<Test>::get(0, 0).unwrap().status, VersionStatus::Rejected);
		System::assert_has_event(Event::VersionRejected { model_id: 0, version: 0 }.into());
		assert_noop!(
			DecentralMl::submit_proposal(
				RuntimeOrigin::signed(7),
				ProposalKind::ApproveVersion { model: 0, version: 0 }
			),
			E::VersionNotProposed
		);
	});
}

// ---------------------------------------------------------------------------------------------
// Safety council
// ---------------------------------------------------------------------------------------------

#[test]
fn council_suspension_lapses_unless_ratified() {
	build_and_execute(|| {
		let model = register(1);
		assert_noop!(
			DecentralMl::council_suspend(RuntimeOrigin::signed(1), model),
			DispatchError::BadOrigin
		);
		assert_noop!(
			DecentralMl::council_suspend(RuntimeOrigin::signed(COUNCIL), 9),
			E::ModelNotFound
		);
		assert_ok!(DecentralMl::council_suspend(RuntimeOrigin::signed(COUNCIL), model));
		System::assert_last_event(
			Event::ModelSuspendedByCouncil { model_id: model, lapses_at: 16 }.into(),
		);
		assert_eq!(Models::<Test>::get(model).unwrap().status, ModelStatus::Suspended);
		assert_noop!(
			DecentralMl::council_suspend(RuntimeOrigin::signed(COUNCIL), model),
			E::ModelAlreadySuspended
		);
		run_to_block(15);
		assert_eq!(Models::<Test>::get(model).unwrap().status, ModelStatus::Suspended);
		run_to_block(16);
		assert_eq!(Models::<Test>::get(model).unwrap().status, ModelStatus::Active);
		System::assert_last_event(
			Event::SuspensionLapsed { model_id: model, status: ModelStatus::Active }.into(),
		);
		assert!(PendingLapses::<Test>::get(16).is_empty());

		// Ratified in time: stays suspended.
		assert_ok!(DecentralMl::council_suspend(RuntimeOrigin::signed(COUNCIL), model));
		let id = propose(7, ProposalKind::Safety { model, action: SafetyAction::Suspend });
		vote(8, id, true, 9_000, Conviction::Locked1x);
		close_after_voting(id);
		System::assert_has_event(Event::SuspensionRatified { model_id: model }.into());
		run_to_block(40);
		assert_eq!(Models::<Test>::get(model).unwrap().status, ModelStatus::Suspended);
		assert!(Models::<Test>::get(model).unwrap().pending_lapse.is_none());
	});
}

#[test]
fn council_suspend_limits() {
	build_and_execute(|| {
		let a = register(1);
		let b = register(1);
		let c = register(1);
		assert_ok!(DecentralMl::council_suspend(RuntimeOrigin::signed(COUNCIL), a));
		assert_ok!(DecentralMl::council_suspend(RuntimeOrigin::signed(COUNCIL), b));
		assert_noop!(
			DecentralMl::council_suspend(RuntimeOrigin::signed(COUNCIL), c),
			E::TooManyLapsesAtBlock
		);
		assert_ok!(DecentralMl::retire_model(RuntimeOrigin::signed(1), c));
		assert_noop!(
			DecentralMl::council_suspend(RuntimeOrigin::signed(COUNCIL), c),
			E::ModelRetired
		);
	});
}

// ---------------------------------------------------------------------------------------------
// Invariant checker
// ---------------------------------------------------------------------------------------------

#[test]
fn try_state_detects_a_missing_hold() {
	new_test_ext().execute_with(|| {
		let _ = register(3);
		use frame_support::traits::{fungible::MutateHold, tokens::Precision};
		assert_ok!(<Balances as MutateHold<AccountId>>::release(
			&RuntimeHoldReason::DecentralMl(HoldReason::ModelDeposit),
			&3,
			100,
			Precision::Exact
		));
		assert!(DecentralMl::do_try_state().is_err());
	});
}

#[test]
fn try_state_detects_a_wrong_pool_and_tally() {
	new_test_ext().execute_with(|| {
		let model = register(1);
		let task = create(2, model, terms(RewardAsset::Asset(ASSET)));
		assert_ok!(DecentralMl::do_try_state());
		Tasks::<Test>::mutate(task, |t| t.as_mut().unwrap().pool = 1);
		assert!(DecentralMl::do_try_state().is_err());
		Tasks::<Test>::mutate(task, |t| t.as_mut().unwrap().pool = 2_000);
		let id = propose(7, fee_change(5));
		vote(8, id, true, 100, Conviction::Locked1x);
		assert_ok!(DecentralMl::do_try_state());
		Proposals::<Test>::mutate(id, |p| p.as_mut().unwrap().tally.ayes = 101);
		assert!(DecentralMl::do_try_state().is_err());
	});
}

#[test]
fn update_storage_is_cleared_after_the_round() {
	build_and_execute(|| {
		let task = running(RewardAsset::Native);
		update(3, task, 0, 1);
		run_to_block(12);
		aggregate(task, 0, &[3]);
		run_to_block(18);
		assert_ok!(DecentralMl::finalize_round(RuntimeOrigin::signed(9), task, 0));
		assert!(Updates::<Test>::iter_prefix(task).next().is_none());
	});
}

// ---- genesis

#[test]
fn genesis_overrides_periods_and_keeps_the_other_defaults() {
	let mut storage = crate::mock::genesis_storage();
	crate::GenesisConfig::<Test> {
		voting_period: Some(15),
		aggregation_period: Some(10),
		task_idle_timeout: None,
		ratification_period: Some(30),
	}
	.assimilate_storage(&mut storage)
	.unwrap();
	sp_io::TestExternalities::from(storage).execute_with(|| {
		let defaults = <Test as crate::Config>::DefaultParams::get();
		let params = crate::Params::<Test>::get();
		assert_eq!(params.voting_period, 15);
		assert_eq!(params.aggregation_period, 10);
		assert_eq!(params.ratification_period, 30);
		assert_eq!(params.task_idle_timeout, defaults.task_idle_timeout);
		assert_eq!(params.aggregator_bond, defaults.aggregator_bond);
		assert!(crate::Params::<Test>::exists());
	});
}

#[test]
fn genesis_without_overrides_stores_nothing() {
	let mut storage = crate::mock::genesis_storage();
	crate::GenesisConfig::<Test>::default().assimilate_storage(&mut storage).unwrap();
	sp_io::TestExternalities::from(storage).execute_with(|| {
		assert!(!crate::Params::<Test>::exists());
		assert_eq!(crate::Params::<Test>::get(), <Test as crate::Config>::DefaultParams::get());
	});
}

#[test]
#[should_panic(expected = "period overrides must be non-zero")]
fn genesis_rejects_a_zero_period() {
	let mut storage = crate::mock::genesis_storage();
	let _ = crate::GenesisConfig::<Test> { voting_period: Some(0), ..Default::default() }
		.assimilate_storage(&mut storage);
}
