//! Property tests: random sequences of calls from many accounts.
//!
//! Each case runs a short random sequence of calls (most shaped to be valid against the
//! current state, some deliberately wrong), checks `do_try_state` after every call, then winds
//! everything down (finalizes or cancels every task, closes every proposal, waits out every
//! lock, unlocks every voter, retires every model) and checks that every escrow, hold and
//! freeze is back to zero. Nothing may panic.
//!
//! Cases: 10,000 sequences by default (the CI setting), split over two test functions of 5,000
//! each so that the two cores of a CI machine run them in parallel (about 40 s each in the dev
//! profile). `DML_PROPTEST_CASES=N` sets the total (long-run mode, e.g.
//! `DML_PROPTEST_CASES=1000000 cargo test --release -p pallet-decentralml proptests`; fewer
//! while iterating).

use crate::{
	mock::*, types::*, Commitments, Models, Participants, Proposals, Rounds, Tasks, TrainerProfiles,
	Updates, VotingOf,
};
use frame_support::{
	traits::{
		fungible::{InspectFreeze, InspectHold},
		fungibles::Inspect as FsInspect,
		Hooks,
	},
	BoundedVec,
};
use proptest::prelude::*;
use sp_runtime::Perbill;

/// Accounts taking part (all funded with native and both assets).
const ACCOUNTS: AccountId = 8;

#[derive(Clone, Debug)]
enum Action {
	RegisterModel { who: AccountId, restricted: bool },
	RetireModel { who: AccountId, model: u32 },
	SetProfile { who: AccountId, code: u8 },
	ClearProfile { who: AccountId },
	CreateTask { who: AccountId, model: u32, asset: u8, rounds: u32, min: u32, stake: u64, reward: u64 },
	CancelTask { who: AccountId, task: u32 },
	ExpireTask { who: AccountId, task: u32 },
	Join { who: AccountId, task: u32 },
	Leave { who: AccountId, task: u32 },
	Bond { who: AccountId, task: u32 },
	Unbond { who: AccountId, task: u32 },
	StartRound { task: u32 },
	Commit { who: AccountId, task: u32, wrong_round: bool },
	/// `bad`: 0 a correct opening, 1 wrong samples, 2 a wrong salt, 3 another trainer's update.
	Reveal { who: AccountId, task: u32, bad: u8 },
	Aggregate { who: AccountId, task: u32, mask: u8 },
	Challenge { who: AccountId, task: u32 },
	BondVerifier { who: AccountId, task: u32 },
	UnbondVerifier { who: AccountId, task: u32 },
	/// `right`: attest the aggregate's own digest (else another).
	Attest { who: AccountId, task: u32, right: bool },
	ReportFreeRider { who: AccountId, task: u32, trainer: AccountId },
	Finalize { task: u32, wrong_round: bool },
	Propose { who: AccountId, kind: u8, target: u32 },
	Vote { who: AccountId, proposal: u32, aye: bool, balance: u64, conviction: u8 },
	Close { proposal: u32 },
	Unlock { who: AccountId },
	CouncilSuspend { model: u32 },
	Advance { blocks: u64 },
}

fn who() -> impl Strategy<Value = AccountId> {
	prop_oneof![20 => 1..=ACCOUNTS, 1 => Just(50 as AccountId)]
}

fn action() -> impl Strategy<Value = Action> {
	prop_oneof![
		2 => (who(), any::<bool>()).prop_map(|(who, restricted)| Action::RegisterModel { who, restricted }),
		1 => (who(), 0..3u32).prop_map(|(who, model)| Action::RetireModel { who, model }),
		3 => (who(), 0..4u8).prop_map(|(who, code)| Action::SetProfile { who, code }),
		1 => who().prop_map(|who| Action::ClearProfile { who }),
		3 => (who(), 0..3u32, 0..3u8, 1..4u32, 1..3u32, 5..150u64, 0..400u64).prop_map(
			|(who, model, asset, rounds, min, stake, reward)| Action::CreateTask {
				who, model, asset, rounds, min, stake, reward
			}
		),
		1 => (who(), 0..3u32).prop_map(|(who, task)| Action::CancelTask { who, task }),
		1 => (who(), 0..3u32).prop_map(|(who, task)| Action::ExpireTask { who, task }),
		5 => (who(), 0..3u32).prop_map(|(who, task)| Action::Join { who, task }),
		1 => (who(), 0..3u32).prop_map(|(who, task)| Action::Leave { who, task }),
		2 => (who(), 0..3u32).prop_map(|(who, task)| Action::Bond { who, task }),
		1 => (who(), 0..3u32).prop_map(|(who, task)| Action::Unbond { who, task }),
		3 => (0..3u32).prop_map(|task| Action::StartRound { task }),
		6 => (who(), 0..3u32, prop::bool::weighted(0.1)).prop_map(
			|(who, task, wrong_round)| Action::Commit { who, task, wrong_round }
		),
		6 => (who(), 0..3u32, prop_oneof![8 => Just(0u8), 1 => 1..4u8]).prop_map(
			|(who, task, bad)| Action::Reveal { who, task, bad }
		),
		3 => (who(), 0..3u32, any::<u8>()).prop_map(|(who, task, mask)| Action::Aggregate { who, task, mask }),
		1 => (who(), 0..3u32).prop_map(|(who, task)| Action::Challenge { who, task }),
		2 => (who(), 0..3u32).prop_map(|(who, task)| Action::BondVerifier { who, task }),
		1 => (who(), 0..3u32).prop_map(|(who, task)| Action::UnbondVerifier { who, task }),
		3 => (who(), 0..3u32, any::<bool>()).prop_map(|(who, task, right)| Action::Attest { who, task, right }),
		2 => (who(), 0..3u32, 1..=ACCOUNTS).prop_map(
			|(who, task, trainer)| Action::ReportFreeRider { who, task, trainer }
		),
		4 => (0..3u32, prop::bool::weighted(0.1)).prop_map(|(task, wrong_round)| Action::Finalize { task, wrong_round }),
		2 => (who(), 0..6u8, 0..3u32).prop_map(|(who, kind, target)| Action::Propose { who, kind, target }),
		4 => (who(), 0..4u32, any::<bool>(), 0..12_000u64, 0..7u8).prop_map(
			|(who, proposal, aye, balance, conviction)| Action::Vote { who, proposal, aye, balance, conviction }
		),
		2 => (0..4u32).prop_map(|proposal| Action::Close { proposal }),
		1 => who().prop_map(|who| Action::Unlock { who }),
		1 => (0..3u32).prop_map(|model| Action::CouncilSuspend { model }),
		4 => (1..25u64).prop_map(|blocks| Action::Advance { blocks }),
	]
}

const SALT: [u8; 32] = [3; 32];

/// The samples `who` commits to (and reveals) for `round` of `task`.
fn samples_of(who: AccountId, task: u32, round: u32) -> u64 {
	1 + (who as u64 * 31 + task as u64 * 7 + round as u64) % 500
}

fn cref(tag: u64) -> ContentRef {
	let mut cid = b"bafyprop".to_vec();
	cid.extend_from_slice(tag.to_string().as_bytes());
	ContentRef { cid: BoundedVec::try_from(cid).unwrap(), digest: [tag as u8; 32], size: 64 }
}

const CODES: [[u8; 2]; 4] = [*b"DE", *b"FR", *b"US", *b"de"];

fn conviction(i: u8) -> Conviction {
	match i {
		0 => Conviction::None,
		1 => Conviction::Locked1x,
		2 => Conviction::Locked2x,
		3 => Conviction::Locked3x,
		4 => Conviction::Locked4x,
		5 => Conviction::Locked5x,
		_ => Conviction::Locked6x,
	}
}

fn signed(who: AccountId) -> RuntimeOrigin {
	RuntimeOrigin::signed(who)
}

fn current_round(task: u32) -> u32 {
	Rounds::<Test>::get(task).map(|r| r.index).unwrap_or(0)
}

/// Run one action. Returns whether it may have changed state: a failed call changes nothing
/// (calls run in a storage layer), so the invariants need no new check after it.
fn run(action: &Action) -> bool {
	let result = match action.clone() {
		Action::RegisterModel { who, restricted } => {
			let codes: Vec<[u8; 2]> = if restricted { vec![*b"DE", *b"FR"] } else { vec![] };
			DecentralMl::register_model(
				signed(who),
				BoundedVec::try_from(b"model".to_vec()).unwrap(),
				cref(1),
				cref(2),
				Licence {
					terms: LicenceTerms::Spdx(BoundedVec::try_from(b"MIT".to_vec()).unwrap()),
					commercial_use: true,
					attribution: false,
					share_alike: false,
				},
				BoundedVec::try_from(codes).unwrap(),
			)
		},
		Action::RetireModel { who, model } => DecentralMl::retire_model(signed(who), model),
		Action::SetProfile { who, code } =>
			DecentralMl::set_trainer_profile(signed(who), CODES[code as usize % 4]),
		Action::ClearProfile { who } => DecentralMl::clear_trainer_profile(signed(who)),
		Action::CreateTask { who, model, asset, rounds, min, stake, reward } => {
			let asset = match asset {
				0 => RewardAsset::Native,
				1 => RewardAsset::Asset(ASSET),
				_ => RewardAsset::Asset(DUSTY_ASSET),
			};
			DecentralMl::create_task(
				signed(who),
				model,
				TaskTerms {
					asset,
					reward_per_round: reward,
					total_rounds: rounds,
					min_trainers: min,
					max_trainers: 4,
					trainer_stake: stake,
					round_length: 6,
					challenge_window: 3,
					aggregation: AggregationRule::TrimmedMean(Perbill::from_percent(10)),
					jurisdictions: BoundedVec::new(),
					privacy: Privacy::None,
				},
			)
		},
		Action::CancelTask { who, task } => {
			// Mostly the sponsor.
			let sponsor = Tasks::<Test>::get(task).map(|t| t.sponsor).unwrap_or(who);
			let caller = if who % 4 == 0 { who } else { sponsor };
			DecentralMl::cancel_task(signed(caller), task)
		},
		Action::ExpireTask { who, task } => DecentralMl::expire_task(signed(who), task),
		Action::Join { who, task } => DecentralMl::join_task(signed(who), task),
		Action::Leave { who, task } => DecentralMl::leave_task(signed(who), task),
		Action::Bond { who, task } => DecentralMl::bond_aggregator(signed(who), task),
		Action::Unbond { who, task } => DecentralMl::unbond_aggregator(signed(who), task),
		Action::StartRound { task } => DecentralMl::start_round(signed(1), task),
		Action::Commit { who, task, wrong_round } => {
			let round = current_round(task) + wrong_round as u32;
			let hash = commitment_of(task, round, &who, &cref(who as u64), samples_of(who, task, round), &SALT);
			DecentralMl::commit_update(signed(who), task, round, hash)
		},
		Action::Reveal { who, task, bad } => {
			let round = current_round(task);
			let mut samples = samples_of(who, task, round);
			let mut salt = SALT;
			let mut content = cref(who as u64);
			match bad {
				1 => samples += 1,
				2 => salt[0] ^= 1,
				3 => content = cref(who as u64 + 1),
				_ => {},
			}
			DecentralMl::reveal_update(signed(who), task, round, content, samples, Metrics::default(), salt)
		},
		Action::Aggregate { who, task, mask } => {
			let aggregator = Tasks::<Test>::get(task).and_then(|t| t.aggregator).map(|a| a.0);
			let caller = if mask & 0x80 != 0 { who } else { aggregator.unwrap_or(who) };
			let mut list: Vec<AccountId> = Rounds::<Test>::get(task)
				.map(|r| Updates::<Test>::iter_prefix((task, r.index)).map(|(t, _)| t).collect())
				.unwrap_or_default();
			list.sort();
			let mut chosen: Vec<AccountId> =
				list.iter().enumerate().filter(|(i, _)| mask & (1 << (i % 7)) != 0).map(|(_, t)| *t).collect();
			if mask & 0x40 != 0 {
				chosen.push(who); // maybe without an update, maybe a duplicate
			}
			chosen.truncate(8);
			DecentralMl::submit_aggregate(
				signed(caller),
				task,
				current_round(task),
				cref(100 + mask as u64),
				BoundedVec::try_from(chosen).unwrap(),
				Metrics::default(),
			)
		},
		Action::Challenge { who, task } =>
			DecentralMl::challenge_aggregate(signed(who), task, current_round(task), cref(7)),
		Action::BondVerifier { who, task } => DecentralMl::bond_verifier(signed(who), task),
		Action::UnbondVerifier { who, task } => DecentralMl::unbond_verifier(signed(who), task),
		Action::Attest { who, task, right } => {
			let published = Rounds::<Test>::get(task)
				.and_then(|r| r.aggregate)
				.map(|a| a.weights.digest)
				.unwrap_or([0; 32]);
			let digest = if right { published } else { [0xEE; 32] };
			DecentralMl::attest_aggregate(signed(who), task, current_round(task), digest)
				.map(|_| ())
				.map_err(|e| e.error)
		},
		Action::ReportFreeRider { who, task, trainer } => DecentralMl::report_free_rider(
			signed(who),
			task,
			current_round(task),
			trainer,
			FreeRiderKind::Copy,
			cref(9),
		),
		Action::Finalize { task, wrong_round } => DecentralMl::finalize_round(
			signed(1),
			task,
			current_round(task) + wrong_round as u32,
		)
		.map(|_| ())
		.map_err(|e| e.error),
		Action::Propose { who, kind, target } => {
			let kind = match kind {
				0 => ProposalKind::ApproveVersion { model: target, version: 0 },
				1 => ProposalKind::RejectVersion { model: target, version: 0 },
				2 => ProposalKind::Safety { model: target, action: SafetyAction::Suspend },
				3 => ProposalKind::Safety { model: target, action: SafetyAction::Reinstate },
				4 => ProposalKind::SetJurisdictions {
					model: target,
					jurisdictions: BoundedVec::try_from(vec![*b"DE"]).unwrap(),
				},
				_ => ProposalKind::SetParameter(ParameterChange::NonSubmitSlash(
					Perbill::from_percent(target * 20),
				)),
			};
			DecentralMl::submit_proposal(signed(who), kind)
		},
		Action::Vote { who, proposal, aye, balance, conviction: c } =>
			DecentralMl::vote(signed(who), proposal, aye, balance, conviction(c)),
		Action::Close { proposal } => DecentralMl::close_proposal(signed(1), proposal),
		Action::Unlock { who } => DecentralMl::unlock(signed(1), who),
		Action::CouncilSuspend { model } =>
			DecentralMl::council_suspend(RuntimeOrigin::signed(COUNCIL), model),
		Action::Advance { blocks } => {
			advance(blocks);
			Ok(())
		},
	};
	result.is_ok()
}

/// Advance `blocks` blocks. Only blocks with lapses due do anything in `on_initialize`, so
/// jump from one to the next (equivalent to running every block, and much faster).
fn advance(blocks: u64) {
	let now = System::block_number();
	let target = now + blocks;
	let mut due: Vec<u64> = crate::PendingLapses::<Test>::iter_keys()
		.filter(|at| *at > now && *at <= target)
		.collect();
	due.sort();
	for at in due {
		System::set_block_number(at);
		DecentralMl::on_initialize(at);
	}
	System::set_block_number(target);
}

/// End every task, close every proposal, wait out every lock, unlock and retire everything.
fn wind_down() {
	for _ in 0..12 {
		advance(40);
		let ongoing: Vec<u32> = Proposals::<Test>::iter()
			.filter(|(_, p)| p.status == ProposalStatus::Ongoing)
			.map(|(id, _)| id)
			.collect();
		for id in ongoing {
			DecentralMl::close_proposal(signed(1), id).expect("voting ended: closes");
		}
		let live: Vec<(u32, AccountId)> = Tasks::<Test>::iter()
			.filter(|(_, t)| t.status.is_live())
			.map(|(id, t)| (id, t.sponsor))
			.collect();
		if live.is_empty() {
			break;
		}
		for (task, sponsor) in live {
			match Rounds::<Test>::get(task) {
				Some(round) => {
					let _ = DecentralMl::finalize_round(signed(1), task, round.index);
				},
				None => DecentralMl::cancel_task(signed(sponsor), task).expect("idle task cancels"),
			}
		}
	}
	assert!(
		Tasks::<Test>::iter().all(|(_, t)| !t.status.is_live()),
		"every task ends within the wind-down"
	);
	// Longest lock: 32 periods of 4 blocks after the last vote's end.
	advance(200);
	let voters: Vec<AccountId> = VotingOf::<Test>::iter_keys().collect();
	for voter in voters {
		DecentralMl::unlock(signed(1), voter).expect("every lock expired");
	}
	let models: Vec<(u32, AccountId)> = Models::<Test>::iter()
		.filter(|(_, m)| m.status != ModelStatus::Retired)
		.map(|(id, m)| (id, m.owner))
		.collect();
	for (id, owner) in models {
		DecentralMl::retire_model(signed(owner), id).expect("owner retires");
	}
}

fn assert_all_released() {
	for who in frame_system::Account::<Test>::iter_keys() {
		assert_eq!(Balances::total_balance_on_hold(&who), 0, "hold left on {who}");
		assert_eq!(
			Balances::balance_frozen(
				&RuntimeFreezeReason::DecentralMl(crate::FreezeReason::Voting),
				&who
			),
			0,
			"freeze left on {who}"
		);
	}
	for (task, t) in Tasks::<Test>::iter() {
		if let RewardAsset::Asset(asset) = t.terms.asset {
			let escrow = DecentralMl::task_account(task);
			assert_eq!(<Assets as FsInspect<AccountId>>::balance(asset, &escrow), 0, "escrow of {task}");
		}
	}
	assert_eq!(crate::StrandedAssets::<Test>::iter().count(), 0);
	assert_eq!(Participants::<Test>::iter().count(), 0);
	assert_eq!(Rounds::<Test>::iter().count(), 0);
	assert_eq!(Commitments::<Test>::iter().count(), 0);
	assert_eq!(Updates::<Test>::iter().count(), 0);
	assert_eq!(crate::Verifiers::<Test>::iter().count(), 0);
	assert_eq!(crate::VerifierCount::<Test>::iter().count(), 0);
	assert_eq!(crate::Attestations::<Test>::iter().count(), 0);
	assert_eq!(crate::FreeRiderReports::<Test>::iter().count(), 0);
	assert!(TrainerProfiles::<Test>::iter().all(|(_, p)| p.active_tasks == 0));
}

/// Sequences per test function: half of `DML_PROPTEST_CASES` (default 10,000).
fn cases() -> u32 {
	let total: u32 =
		std::env::var("DML_PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
	total.div_ceil(2).max(1)
}

thread_local! {
	/// Genesis storage of the mock, built once per thread and cloned per case.
	static GENESIS: sp_runtime::Storage = genesis_storage_for(ACCOUNTS);
}

proptest! {
	#![proptest_config(ProptestConfig {
		cases: cases(),
		failure_persistence: None,
		max_shrink_iters: 2_000,
		.. ProptestConfig::default()
	})]

	/// Random call sequences keep every invariant, never panic, and once everything has ended
	/// and every lock expired, all escrows, holds and freezes are back to zero (first half).
	#[test]
	fn random_sequences_keep_invariants_and_release_everything_a(
		actions in proptest::collection::vec(action(), 1..20)
	) {
		check_sequence(&actions);
	}

	/// The same property, second half of the sequences (runs in parallel with the first).
	#[test]
	fn random_sequences_keep_invariants_and_release_everything_b(
		actions in proptest::collection::vec(action(), 1..20)
	) {
		check_sequence(&actions);
	}
}

/// Run `actions` from genesis, checking the invariants after every state change, then wind
/// everything down and check that every escrow, hold and freeze is released.
fn check_sequence(actions: &[Action]) {
	// Genesis goes into the overlay rather than the backend trie: reads and iteration then skip
	// the trie's hashing (unoptimised in the dev profile).
	let mut ext = sp_io::TestExternalities::new_empty();
	ext.execute_with(|| {
		GENESIS.with(|g| {
			for (key, value) in g.top.iter() {
				sp_io::storage::set(key, value);
			}
		});
		System::set_block_number(1);
		for action in actions {
			if !run(action) {
				continue;
			}
			if let Err(e) = DecentralMl::do_try_state() {
				panic!("invariant broken after {action:?}: {e:?}");
			}
		}
		wind_down();
		DecentralMl::do_try_state().expect("invariants hold after the wind-down");
		assert_all_released();
	});
}

#[test]
fn conviction_multipliers_match_opengov() {
	let expected = [(0u32, 0u32), (1, 1), (2, 2), (4, 3), (8, 4), (16, 5), (32, 6)];
	for (i, (periods, mult)) in expected.iter().enumerate() {
		let c = conviction(i as u8);
		assert_eq!(c.lock_periods(), *periods);
		assert_eq!(c.multiplier(), *mult);
	}
	assert_eq!(Conviction::None.votes(1_000u64), 100);
	assert_eq!(Conviction::Locked6x.votes(1_000u64), 6_000);
}
