//! Pipelined rounds: the next round opens on a submitted aggregate while its challenge window
//! runs; an overturned aggregate voids the round built on it without paying or slashing anyone
//! for it.

use super::*;

fn finalize(task: TaskId, round: RoundIndex) -> DispatchResult {
	DecentralMl::finalize_round(RuntimeOrigin::signed(9), task, round).map(|_| ()).map_err(|e| e.error)
}

fn stake_slashed_in(round: RoundIndex) -> usize {
	System::events()
		.iter()
		.filter(|r| {
			matches!(&r.event, RuntimeEvent::DecentralMl(Event::StakeSlashed { round: x, .. })
				if *x == round)
		})
		.count()
}

#[test]
fn the_next_round_trains_on_the_submitted_aggregate_during_the_window() {
	build_and_execute(|| {
		let task = running(RewardAsset::Native);
		for who in [3, 4, 6] {
			update(who, task, 0, 10);
		}
		aggregate(task, 0, &[3, 4, 6]);
		let at = System::block_number();
		let pending = PendingRounds::<Test>::get(task).unwrap();
		assert_eq!((pending.index, pending.status), (0, RoundStatus::Aggregated));
		let open = Rounds::<Test>::get(task).unwrap();
		assert_eq!((open.index, open.base.clone(), open.opened_at), (1, cref("agg0"), at));
		System::assert_has_event(
			Event::RoundOpened { task_id: task, round: 1, base: cref("agg0"), deadline: at + 10 }
				.into(),
		);
		// Trainers commit and reveal round 1 while round 0's window runs.
		for who in [3, 4, 6] {
			update(who, task, 1, 5);
		}
		reveal_all(task, 1);
		assert_eq!(Rounds::<Test>::get(task).unwrap().submissions, 3);
		// Round 1's aggregate (and finalization) wait for round 0.
		assert_noop!(submit_aggregate(task, 1, &[3]), Error::<Test>::PreviousRoundPending);
		assert_noop!(finalize(task, 1), Error::<Test>::PreviousRoundPending);
		// Round 0 still takes attestations and challenges in its window.
		assert_noop!(finalize(task, 0), Error::<Test>::ChallengeWindowOpen);
		run_to_block(at + 6);
		assert_ok!(finalize(task, 0));
		System::assert_has_event(
			Event::RoundFinalized { task_id: task, round: 0, succeeded: true, paid: 1_000 }.into(),
		);
		assert!(PendingRounds::<Test>::get(task).is_none());
		// Round 0's updates are gone, round 1's stay.
		assert_eq!(Updates::<Test>::iter_prefix((task, 0)).count(), 0);
		assert_eq!(Updates::<Test>::iter_prefix((task, 1)).count(), 3);
		let open = Rounds::<Test>::get(task).unwrap();
		assert_eq!(open.aggregation_from, at + 6);
		assert_ok!(submit_aggregate(task, 1, &[3, 4, 6]));
		assert_eq!(Tasks::<Test>::get(task).unwrap().last_result.unwrap().weights, cref("agg0"));
		// The last round opens nothing; finalizing it completes the task.
		assert!(Rounds::<Test>::get(task).is_none());
		run_to_block(at + 12);
		assert_ok!(finalize(task, 1));
		let t = Tasks::<Test>::get(task).unwrap();
		assert_eq!((t.status, t.last_result.unwrap().base), (TaskStatus::Completed, cref("agg0")));
		assert_eq!(stake_slashed_in(0) + stake_slashed_in(1), 0);
	});
}

#[test]
fn an_upheld_challenge_voids_the_round_built_on_it_and_slashes_no_trainer_for_it() {
	build_and_execute(|| {
		let task = running(RewardAsset::Native);
		update(3, task, 0, 10);
		update(4, task, 0, 10);
		run_to_block(12);
		aggregate(task, 0, &[3, 4]);
		// 6 missed round 0. In round 1 (on the aggregate) 3 reveals, 4 only commits and 6 is
		// absent: none of that is anyone's fault once round 1 is voided.
		update(3, task, 1, 10);
		update(4, task, 1, 10);
		let id = NextProposalId::<Test>::get();
		assert_ok!(DecentralMl::challenge_aggregate(RuntimeOrigin::signed(7), task, 0, cref("ev")));
		vote(8, id, true, 5_000, Conviction::Locked1x);
		run_to_block(23);
		COMMITTED.with(|c| c.borrow_mut().retain(|(_, who, _, _)| *who == 3));
		reveal_all(task, 1);
		close_after_voting(id);
		assert_eq!(PendingRounds::<Test>::get(task).unwrap().status, RoundStatus::Failed);
		let stakes_before: Vec<_> = [3, 4, 6].iter().map(|w| held(HoldReason::TrainerStake, *w)).collect();
		assert_ok!(finalize(task, 0));
		System::assert_has_event(
			Event::RoundVoided { task_id: task, round: 1, overturned: 0 }.into(),
		);
		// Round 0's no-show is slashed as always; nobody for round 1.
		assert_eq!(stake_slashed_in(0), 1);
		assert_eq!(stake_slashed_in(1), 0);
		let stakes: Vec<_> = [3, 4, 6].iter().map(|w| held(HoldReason::TrainerStake, *w)).collect();
		assert_eq!(stakes, vec![stakes_before[0], stakes_before[1], stakes_before[2] - 20]);
		assert_eq!(Updates::<Test>::iter_prefix((task,)).count(), 0);
		assert_eq!(Commitments::<Test>::iter_prefix((task,)).count(), 0);
		let t = Tasks::<Test>::get(task).unwrap();
		// The task gets a round in place of the voided one; nothing was paid.
		assert_eq!((t.terms.total_rounds, t.next_round, t.pool), (3, 2, 2_000));
		assert!(t.last_result.is_none());
		// The slashed aggregator is gone: a new one bonds and round 2 opens from the model's
		// initial weights (the last standing result), not from the overturned aggregate.
		assert!(Rounds::<Test>::get(task).is_none());
		assert_ok!(DecentralMl::bond_aggregator(RuntimeOrigin::signed(10), task));
		assert_ok!(DecentralMl::start_round(RuntimeOrigin::signed(9), task));
		let open = Rounds::<Test>::get(task).unwrap();
		assert_eq!((open.index, open.base), (2, cref("weights")));
	});
}

#[test]
fn the_aggregator_waiting_for_a_pending_round_is_not_slashed() {
	build_and_execute(|| {
		let task = running(RewardAsset::Native);
		update(3, task, 0, 10);
		run_to_block(12);
		aggregate(task, 0, &[3]);
		assert_ok!(DecentralMl::challenge_aggregate(RuntimeOrigin::signed(7), task, 0, cref("ev")));
		let id = NextProposalId::<Test>::get() - 1;
		vote(8, id, false, 5_000, Conviction::Locked1x);
		update(3, task, 1, 10);
		run_to_block(23);
		reveal_all(task, 1);
		// Past round 1's reveal end + aggregation period: still not the aggregator's fault.
		run_to_block(30);
		assert_noop!(finalize(task, 1), Error::<Test>::PreviousRoundPending);
		close_after_voting(id);
		let decided = System::block_number();
		assert_ok!(finalize(task, 0));
		// It gets a whole aggregation period from now on.
		run_to_block(decided + 5);
		assert_noop!(finalize(task, 1), Error::<Test>::AwaitingAggregate);
		assert_ok!(submit_aggregate(task, 1, &[3]));
		assert_eq!(held(HoldReason::AggregatorBond, 5), 50 + 0);
	});
}

#[test]
fn a_leaver_released_with_the_pending_round_owes_the_pipelined_one_nothing() {
	build_and_execute(|| {
		let task = running(RewardAsset::Native);
		assert_ok!(DecentralMl::leave_task(RuntimeOrigin::signed(4), task));
		for who in [3, 4, 6] {
			update(who, task, 0, 10);
		}
		aggregate(task, 0, &[3, 4, 6]);
		// 4 commits to round 1 too; it leaves with round 0 and its commitment goes.
		update(4, task, 1, 10);
		update(3, task, 1, 10);
		assert_eq!(Rounds::<Test>::get(task).unwrap().expected, 3);
		run_to_block(20);
		assert_ok!(finalize(task, 0));
		assert!(!Participants::<Test>::contains_key(task, 4));
		assert_eq!(held(HoldReason::TrainerStake, 4), 0);
		let open = Rounds::<Test>::get(task).unwrap();
		assert_eq!((open.expected, open.commitments), (2, 1));
		assert!(!Commitments::<Test>::contains_key((task, 1, 4)));
		assert_eq!(Tasks::<Test>::get(task).unwrap().trainer_count, 2);
	});
}
