//! Tests of rounds: start, updates, aggregates, finalization, payout and slashing.

use super::*;

#[test]
fn start_round_errors_and_success() {
	build_and_execute(|| {
		assert_noop!(DecentralMl::start_round(RuntimeOrigin::signed(9), 0), E::TaskNotFound);
		let model = register(1);
		let task = create(2, model, TaskTerms { min_trainers: 2, ..terms(RewardAsset::Native) });
		assert_noop!(DecentralMl::start_round(RuntimeOrigin::signed(9), task), E::NoAggregator);
		assert_ok!(DecentralMl::bond_aggregator(RuntimeOrigin::signed(5), task));
		join(3, task);
		assert_noop!(
			DecentralMl::start_round(RuntimeOrigin::signed(9), task),
			E::NotEnoughTrainers
		);
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
			Event::RoundOpened { task_id: task, round: 0, base: cref("weights"), deadline: 26 }
				.into(),
		);
		assert_eq!(Tasks::<Test>::get(task).unwrap().status, TaskStatus::Running);
		assert_noop!(DecentralMl::start_round(RuntimeOrigin::signed(9), task), E::RoundInProgress);
		assert_ok!(DecentralMl::leave_task(RuntimeOrigin::signed(3), task));
		run_to_block(40);
		// Round failed without updates; the next one cannot open with 1 trainer.
		assert_ok!(DecentralMl::finalize_round(RuntimeOrigin::signed(9), task, 0));
		assert!(Rounds::<Test>::get(task).is_none());
		assert_noop!(
			DecentralMl::start_round(RuntimeOrigin::signed(9), task),
			E::NotEnoughTrainers
		);
		assert_ok!(DecentralMl::cancel_task(RuntimeOrigin::signed(2), task));
		assert_noop!(DecentralMl::start_round(RuntimeOrigin::signed(9), task), E::TaskNotLive);
	});
}

#[test]
fn commitment_encoding_is_pinned() {
	// The same vector is checked by the Python client (tests/unit/test_commitment.py), so a
	// change of the SCALE layout on either side fails a test.
	let update = ContentRef {
		cid: BoundedVec::try_from(b"bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy".to_vec())
			.unwrap(),
		digest: [1; 32],
		size: 11,
	};
	let hash = commitment_of(7u32, 3u32, &[2u8; 32], &update, 1_000, &[9; 32]);
	assert_eq!(
		hex(&hash),
		"513a8726a93180dd27448edacf0e6704d96c13bef0448aae0381dce5d541e420"
	);
}

fn hex(bytes: &[u8]) -> String {
	bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn commit_update_success_and_errors() {
	build_and_execute(|| {
		let task = running(RewardAsset::Native);
		let c = |who: AccountId, task: TaskId, round: RoundIndex| {
			DecentralMl::commit_update(RuntimeOrigin::signed(who), task, round, [who as u8; 32])
		};
		assert_noop!(c(3, 9, 0), E::NoActiveRound);
		assert_noop!(c(3, task, 1), E::WrongRound);
		assert_noop!(c(8, task, 0), E::NotParticipant);
		join(7, task);
		assert_noop!(c(7, task, 0), E::NotDueThisRound);
		update(3, task, 0, 10);
		System::assert_last_event(Event::UpdateCommitted { task_id: task, round: 0, trainer: 3 }.into());
		let round = Rounds::<Test>::get(task).unwrap();
		assert_eq!((round.commitments, round.submissions, round.expected), (1, 0, 3));
		assert_eq!(round.reveal_end, round.deadline + 3, "not everyone committed yet");
		assert!(Commitments::<Test>::contains_key((task, 0, 3)));
		assert!(!Updates::<Test>::contains_key((task, 0, 3)), "only the hash is on chain");
		assert_noop!(c(3, task, 0), E::AlreadyCommitted);
		run_to_block(12);
		assert_noop!(c(4, task, 0), E::DeadlinePassed);
		aggregate(task, 0, &[3]);
		// Round 0 is pending now and round 1 open (pipelined).
		assert_noop!(c(4, task, 0), E::WrongRound);
	});
}

#[test]
fn last_expected_commitment_opens_reveals_at_once() {
	build_and_execute(|| {
		let task = running(RewardAsset::Native);
		update(3, task, 0, 10);
		update(4, task, 0, 10);
		assert_noop!(reveal_call(3, task, 0, 10), E::RevealNotOpen);
		update(6, task, 0, 10);
		let round = Rounds::<Test>::get(task).unwrap();
		assert_eq!(round.reveal_end, System::block_number() + 3);
		assert!(round.reveal_end < round.deadline, "the window moved earlier");
		assert_ok!(reveal_call(3, task, 0, 10));
		assert_ok!(reveal_call(4, task, 0, 10));
		// Not every commitment revealed yet: the aggregate must wait.
		assert_noop!(
			DecentralMl::submit_aggregate(
				RuntimeOrigin::signed(5),
				task,
				0,
				cref("agg"),
				included(&[3, 4]),
				Metrics::default()
			),
			E::RoundStillOpen
		);
		assert_ok!(reveal_call(6, task, 0, 10));
		System::assert_last_event(
			Event::UpdateRevealed { task_id: task, round: 0, trainer: 6, samples: 10 }.into(),
		);
		COMMITTED.with(|c| c.borrow_mut().clear());
		aggregate(task, 0, &[3, 4, 6]);
	});
}

#[test]
fn reveal_update_success_and_errors() {
	build_and_execute(|| {
		let task = running(RewardAsset::Native);
		let r = |who: AccountId, c: ContentRef, samples: u64, salt: [u8; 32]| {
			DecentralMl::reveal_update(
				RuntimeOrigin::signed(who),
				task,
				0,
				c,
				samples,
				update_metrics(),
				salt,
			)
		};
		update(3, task, 0, 10);
		update(4, task, 0, 20);
		assert_noop!(r(3, update_ref(3, 0), 10, SALT), E::RevealNotOpen);
		run_to_block(12);
		assert_noop!(r(3, raw_cid(b""), 10, SALT), E::EmptyCid);
		assert_noop!(r(3, raw_cid(&[b'a'; 128]), 10, SALT), E::CidTooLong);
		assert_noop!(r(3, raw_cid(b"bafy bad cid"), 10, SALT), E::MalformedCid);
		assert_noop!(r(3, update_ref(3, 0), 0, SALT), E::ZeroSamples);
		assert_noop!(
			DecentralMl::reveal_update(
				RuntimeOrigin::signed(3),
				9,
				0,
				update_ref(3, 0),
				10,
				update_metrics(),
				SALT
			),
			E::NoActiveRound
		);
		assert_noop!(
			DecentralMl::reveal_update(
				RuntimeOrigin::signed(3),
				task,
				1,
				update_ref(3, 0),
				10,
				update_metrics(),
				SALT
			),
			E::WrongRound
		);
		assert_noop!(r(6, update_ref(6, 0), 10, SALT), E::NotCommitted);
		// Wrong samples, wrong salt, another's update, or a copy of 4's opening under 3's name.
		assert_noop!(r(3, update_ref(3, 0), 11, SALT), E::CommitmentMismatch);
		assert_noop!(r(3, update_ref(3, 0), 10, [0; 32]), E::CommitmentMismatch);
		assert_noop!(r(3, update_ref(4, 0), 20, SALT), E::CommitmentMismatch);
		// A mismatch changes nothing, so the right opening still goes through.
		assert_ok!(r(3, update_ref(3, 0), 10, SALT));
		assert_eq!(Rounds::<Test>::get(task).unwrap().submissions, 1);
		assert_noop!(r(3, update_ref(3, 0), 10, SALT), E::AlreadyRevealed);
		run_to_block(Rounds::<Test>::get(task).unwrap().reveal_end + 1);
		assert_noop!(r(4, update_ref(4, 0), 20, SALT), E::RevealPeriodOver);
		COMMITTED.with(|c| c.borrow_mut().clear());
		aggregate(task, 0, &[3]);
		assert_noop!(r(4, update_ref(4, 0), 20, SALT), E::WrongRound);
	});
}

#[test]
fn unrevealed_commitment_is_a_no_show() {
	build_and_execute(|| {
		let task = running(RewardAsset::Native);
		update(3, task, 0, 10);
		update(4, task, 0, 10);
		update(6, task, 0, 10);
		assert_ok!(reveal_call(3, task, 0, 10));
		assert_ok!(reveal_call(4, task, 0, 10));
		COMMITTED.with(|c| c.borrow_mut().clear());
		let stake = Participants::<Test>::get(task, 6).unwrap().stake;
		let reveal_end = Rounds::<Test>::get(task).unwrap().reveal_end;
		run_to_block(reveal_end + 1);
		// 6 never revealed: the aggregate may not include it.
		assert_noop!(
			DecentralMl::submit_aggregate(
				RuntimeOrigin::signed(5),
				task,
				0,
				cref("agg"),
				included(&[3, 4, 6]),
				Metrics::default()
			),
			E::UpdateNotFound
		);
		aggregate(task, 0, &[3, 4]);
		run_to_block(System::block_number() + 11);
		assert_ok!(DecentralMl::finalize_round(RuntimeOrigin::signed(9), task, 0));
		let slashed = Perbill::from_percent(20).mul_floor(stake);
		System::assert_has_event(
			Event::StakeSlashed { task_id: task, round: 0, trainer: 6, amount: slashed }.into(),
		);
		assert_eq!(Participants::<Test>::get(task, 6).unwrap().stake, stake - slashed);
		assert_eq!(Commitments::<Test>::iter_prefix((task, 0)).count(), 0, "cleared at finalize");
	});
}

#[test]
fn submit_aggregate_success_and_errors() {
	build_and_execute(|| {
		let task = running(RewardAsset::Native);
		let a =
			|who: AccountId, task: TaskId, round: RoundIndex, c: ContentRef, list: &[AccountId]| {
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
		// Past the deadline, but commitments are still to be revealed.
		assert_noop!(a(5, task, 0, cref("g"), &[3]), E::RoundStillOpen);
		reveal_all(task, 0);
		assert_noop!(a(5, task, 0, cref("g"), &[3, 3]), E::DuplicateIncluded);
		assert_noop!(a(5, task, 0, cref("g"), &[3, 6]), E::UpdateNotFound);
		assert_ok!(a(5, task, 0, cref("g"), &[3, 4]));
		assert!(!Rounds::<Test>::get(task).is_some_and(|r| r.index == 0));
		let round = PendingRounds::<Test>::get(task).unwrap();
		assert_eq!(round.status, RoundStatus::Aggregated);
		let agg = round.aggregate.unwrap();
		assert_eq!(agg.included.to_vec(), vec![3, 4]);
		let mut bytes = [7u8; 32].to_vec();
		bytes.extend_from_slice(&[7u8; 32]);
		assert_eq!(agg.updates_digest, sp_io::hashing::blake2_256(&bytes));
		assert_noop!(a(5, task, 0, cref("g"), &[3]), E::WrongRound);

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
		assert_noop!(DecentralMl::finalize_round(RuntimeOrigin::signed(9), task, 2), E::WrongRound);
		// Round 1 opened on round 0's aggregate; it is finalized after round 0.
		assert_noop!(
			DecentralMl::finalize_round(RuntimeOrigin::signed(9), task, 1),
			E::PreviousRoundPending
		);
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
		// Round 1 opened when round 0's aggregate was submitted, from that aggregate.
		let round = Rounds::<Test>::get(task).unwrap();
		assert_eq!((round.index, round.base.clone(), round.deadline), (1, cref("agg0"), 22));
		assert_eq!(round.aggregation_from, 18, "its aggregate may follow from now on");
		assert_eq!(held(HoldReason::TaskReward, 2), 1_000);

		update(3, task, 1, 50);
		run_to_block(23);
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
		run_to_block(32);
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
		reveal_all(task, 0);
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
		assert_noop!(
			DecentralMl::finalize_round(RuntimeOrigin::signed(9), task, 0),
			E::RoundStillOpen
		);
		update(3, task, 0, 1);
		run_to_block(12);
		reveal_all(task, 0);
		// Past the deadline but within the reveal window (ends at 14).
		assert_noop!(
			DecentralMl::finalize_round(RuntimeOrigin::signed(9), task, 0),
			E::RoundStillOpen
		);
		run_to_block(15);
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
		assert_noop!(
			DecentralMl::finalize_round(RuntimeOrigin::signed(9), other, 0),
			E::NoActiveRound
		);
	});
}

#[test]
fn missed_aggregation_slashes_the_aggregator() {
	build_and_execute(|| {
		let task = running(RewardAsset::Native);
		update(3, task, 0, 1);
		reveal_all(task, 0);
		// Reveals end at 14, the aggregation period (5) at 19.
		run_to_block(19);
		assert_noop!(
			DecentralMl::finalize_round(RuntimeOrigin::signed(9), task, 0),
			E::AwaitingAggregate
		);
		run_to_block(20);
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
