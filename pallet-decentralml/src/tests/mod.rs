//! Unit tests: each call's success and each of its errors. Every test runs through
//! `build_and_execute`, which checks the pallet's invariants afterwards.

use crate::{
	mock::*, types::*, Commitments, Error, Event, HoldReason, Models, NextModelId, NextProposalId,
	NextTaskId, Params, Participants, PendingLapses, PendingRounds, Proposals, Rounds, Tasks, TrainerProfiles,
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
use sp_runtime::{BuildStorage, DispatchError, DispatchResult, Perbill};

type E = Error<Test>;

mod challenges;
mod governance;
mod models;
mod rounds;
mod tasks;
mod pipelined;
mod secagg;
mod try_state;
mod verifiers;

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
		privacy: Privacy::None,
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

const SALT: [u8; 32] = [42; 32];

fn update_ref(who: AccountId, round: RoundIndex) -> ContentRef {
	cref(&format!("upd{who}r{round}"))
}

fn update_metrics() -> Metrics {
	Metrics { loss_micros: 500_000, accuracy: Perbill::from_percent(90) }
}

/// `who` commits to its update `upd{who}r{round}` with `samples`; [`reveal`] opens it.
fn update(who: AccountId, task: TaskId, round: RoundIndex, samples: u64) {
	let hash = commitment_of(task, round, &who, &update_ref(who, round), samples, &SALT);
	assert_ok!(DecentralMl::commit_update(RuntimeOrigin::signed(who), task, round, hash));
	COMMITTED.with(|c| c.borrow_mut().push((task, who, round, samples)));
}

std::thread_local! {
	/// What [`update`] committed and [`reveal_all`] has not revealed yet.
	static COMMITTED: core::cell::RefCell<Vec<(TaskId, AccountId, RoundIndex, u64)>> =
		const { core::cell::RefCell::new(Vec::new()) };
}

fn reveal_call(who: AccountId, task: TaskId, round: RoundIndex, samples: u64) -> DispatchResult {
	DecentralMl::reveal_update(
		RuntimeOrigin::signed(who),
		task,
		round,
		update_ref(who, round),
		samples,
		update_metrics(),
		SALT,
	)
}

/// Reveal every commitment [`update`] made for `task`'s `round`, first moving past the
/// commitment deadline if not every expected trainer committed.
fn reveal_all(task: TaskId, round: RoundIndex) {
	let current = Rounds::<Test>::get(task).unwrap();
	if current.commitments < current.expected && System::block_number() <= current.deadline {
		run_to_block(current.deadline + 1);
	}
	let pending: Vec<_> = COMMITTED.with(|c| {
		let mut c = c.borrow_mut();
		let (mine, rest) = c.drain(..).partition(|(t, _, r, _)| *t == task && *r == round);
		*c = rest;
		mine
	});
	for (_, who, round, samples) in pending {
		assert_ok!(reveal_call(who, task, round, samples));
	}
}

fn included(list: &[AccountId]) -> BoundedVec<AccountId, ConstU32<8>> {
	BoundedVec::try_from(list.to_vec()).unwrap()
}

/// Reveal what is still committed, then submit the aggregate of `list` as aggregator 5.
/// The aggregator (5) submits `agg<round>` including `list`.
fn submit_aggregate(task: TaskId, round: RoundIndex, list: &[AccountId]) -> DispatchResult {
	DecentralMl::submit_aggregate(
		RuntimeOrigin::signed(5),
		task,
		round,
		cref(&format!("agg{round}")),
		included(list),
		Metrics::default(),
	)
}

fn aggregate(task: TaskId, round: RoundIndex, list: &[AccountId]) {
	reveal_all(task, round);
	assert_ok!(submit_aggregate(task, round, list));
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
