//! Tests of challenges of an aggregate, upheld and dismissed.

use super::*;

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
		// Nothing is pending before an aggregate is submitted.
		assert_noop!(c(7, task, 0, cref("e")), E::NotAggregated);
		update(3, task, 0, 10);
		run_to_block(12);
		aggregate(task, 0, &[3]);
		// Round 1 is open (pipelined) but has no aggregate to challenge.
		assert_noop!(c(7, task, 1, cref("e")), E::WrongRound);
		assert_noop!(c(5, task, 0, cref("e")), E::ChallengeOwnAggregate);
		assert_noop!(c(100, task, 0, cref("e")), E::InsufficientBalance);
		NextProposalId::<Test>::put(u32::MAX);
		assert_noop!(c(7, task, 0, cref("e")), E::ProposalIdsExhausted);
		NextProposalId::<Test>::put(0);
		run_to_block(18);
		assert_noop!(c(7, task, 0, cref("e")), E::ChallengeWindowClosed);
		let model = register(1);
		let other = create(2, model, terms(RewardAsset::Native));
		assert_noop!(c(7, other, 0, cref("e")), E::NotAggregated);
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
		assert_eq!(PendingRounds::<Test>::get(task).unwrap().status, RoundStatus::Challenged);
		vote(8, id, true, 5_000, Conviction::Locked1x);
		close_after_voting(id);
		System::assert_has_event(
			Event::ChallengeUpheld {
				task_id: task,
				round: 0,
				challenger: 7,
				aggregator: 5,
				slashed: 50,
			}
			.into(),
		);
		assert_eq!(Balances::balance(&7), 10_000 + 50);
		assert_eq!(held(HoldReason::AggregatorBond, 5), 0);
		assert_eq!(PendingRounds::<Test>::get(task).unwrap().status, RoundStatus::Failed);
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
		assert_eq!(PendingRounds::<Test>::get(task).unwrap().status, RoundStatus::Aggregated);
		assert_ok!(DecentralMl::finalize_round(RuntimeOrigin::signed(9), task, 0));
		System::assert_has_event(
			Event::RoundFinalized { task_id: task, round: 0, succeeded: true, paid: 1_000 }.into(),
		);
	});
}

// ---------------------------------------------------------------------------------------------
