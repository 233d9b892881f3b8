//! Secure aggregation: key documents, each round's member snapshot, and unmasking shares.

use super::*;
use crate::{RoundMembers, SecAggKeys, UnmaskShares};

fn secagg_terms() -> TaskTerms<Balance, u64, u32> {
	TaskTerms {
		privacy: Privacy::SecureAggregation,
		aggregation: AggregationRule::NormClippedFedAvg(1_000_000),
		..terms(RewardAsset::Native)
	}
}

fn keys(who: AccountId, task: TaskId) -> DispatchResult {
	DecentralMl::publish_keys(RuntimeOrigin::signed(who), task, cref(&format!("keys{who}")))
}

fn shares(who: AccountId, task: TaskId, round: RoundIndex) -> DispatchResult {
	DecentralMl::publish_shares(RuntimeOrigin::signed(who), task, round, cref(&format!("sh{who}")))
}

/// Task 0 with secure aggregation, trainers 3, 4 and 6 joined (3 and 6 with keys),
/// aggregator 5, round 0 open.
fn secagg_running() -> TaskId {
	let model = register(1);
	let task = create(2, model, secagg_terms());
	for who in [3, 4, 6] {
		join(who, task);
	}
	assert_ok!(keys(6, task));
	assert_ok!(keys(3, task));
	assert_ok!(DecentralMl::bond_aggregator(RuntimeOrigin::signed(5), task));
	assert_ok!(DecentralMl::start_round(RuntimeOrigin::signed(9), task));
	task
}

#[test]
fn publish_keys_checks_task_participant_and_once() {
	build_and_execute(|| {
		let model = register(1);
		let plain = create(2, model, terms(RewardAsset::Native));
		join(3, plain);
		assert_noop!(keys(3, plain), E::NotSecureAggregation);
		let task = create(2, model, secagg_terms());
		assert_noop!(keys(3, 9), E::TaskNotFound);
		assert_noop!(keys(3, task), E::NotParticipant);
		assert_ok!(DecentralMl::join_task(RuntimeOrigin::signed(3), task));
		assert_ok!(keys(3, task));
		System::assert_has_event(
			Event::KeysPublished { task_id: task, trainer: 3, keys: cref("keys3") }.into(),
		);
		assert_noop!(keys(3, task), E::KeysAlreadyPublished);
		// Leaving (no round running: at once) forgets the keys.
		assert_ok!(DecentralMl::leave_task(RuntimeOrigin::signed(3), task));
		assert!(SecAggKeys::<Test>::get(task, 3).is_none());
	});
}

#[test]
fn a_round_masks_among_the_keyed_participants_only() {
	build_and_execute(|| {
		let task = secagg_running();
		assert_eq!(RoundMembers::<Test>::get(task, 0).unwrap().into_inner(), vec![3, 6]);
		// 4 published no keys before the round opened: it cannot take part in it.
		let hash = commitment_of(task, 0, &4, &update_ref(4, 0), 10, &SALT);
		assert_noop!(
			DecentralMl::commit_update(RuntimeOrigin::signed(4), task, 0, hash),
			E::NotRoundMember
		);
		assert_ok!(keys(4, task));
		for who in [3, 6] {
			update(who, task, 0, 10);
		}
		aggregate(task, 0, &[3, 6]);
		// The pipelined round 1 snapshots its members when it opens: now 4 is one.
		assert_eq!(RoundMembers::<Test>::get(task, 1).unwrap().into_inner(), vec![3, 4, 6]);
		// 4 could not take part in round 0, so it is not slashed for it.
		run_to_block(System::block_number() + 6);
		assert_ok!(DecentralMl::finalize_round(RuntimeOrigin::signed(9), task, 0));
		assert!(!System::events().iter().any(|r| matches!(
			&r.event,
			RuntimeEvent::DecentralMl(Event::StakeSlashed { trainer: 4, .. })
		)));
	});
}

#[test]
fn shares_are_published_once_by_members_after_the_reveals() {
	build_and_execute(|| {
		let task = secagg_running();
		update(3, task, 0, 10);
		// Before the reveals are done the set of submitted updates is not fixed.
		assert_noop!(shares(3, task, 0), E::RoundStillOpen);
		reveal_all(task, 0);
		let round = Rounds::<Test>::get(task).unwrap();
		run_to_block(round.reveal_end + 1);
		assert_noop!(shares(3, task, 1), E::WrongRound);
		assert_noop!(shares(4, task, 0), E::NotRoundMember);
		assert_ok!(shares(6, task, 0));
		assert_ok!(shares(3, task, 0));
		System::assert_has_event(Event::SharesPublished { task_id: task, round: 0, trainer: 3 }.into());
		assert_noop!(shares(3, task, 0), E::SharesAlreadyPublished);
		assert_eq!(UnmaskShares::<Test>::get((task, 0, 6)), Some(cref("sh6")));
		// Once the round is aggregated it takes no more shares; finalizing clears them.
		assert_ok!(submit_aggregate(task, 0, &[3]));
		assert_noop!(shares(6, task, 0), E::WrongRound);
		let pending = PendingRounds::<Test>::get(task).unwrap();
		run_to_block(System::block_number() + 6);
		assert_ok!(DecentralMl::finalize_round(RuntimeOrigin::signed(9), task, pending.index));
		assert_eq!(UnmaskShares::<Test>::iter_prefix((task, 0)).count(), 0);
		assert!(RoundMembers::<Test>::get(task, 0).is_none());
	});
}

#[test]
fn shares_need_a_secure_aggregation_round() {
	build_and_execute(|| {
		let task = running(RewardAsset::Native);
		for who in [3, 4, 6] {
			update(who, task, 0, 10);
		}
		reveal_all(task, 0);
		assert_noop!(shares(3, task, 0), E::NotSecureAggregation);
	});
}

#[test]
fn an_aggregator_short_of_shares_is_not_slashed_for_the_missed_aggregate() {
	build_and_execute(|| {
		let task = secagg_running();
		for who in [3, 6] {
			update(who, task, 0, 10);
		}
		reveal_all(task, 0);
		let round = Rounds::<Test>::get(task).unwrap();
		run_to_block(round.reveal_end + 1);
		// One share document of the two needed (2 members: threshold 2).
		assert_ok!(shares(3, task, 0));
		run_to_block(round.reveal_end + 1 + 6);
		assert_ok!(DecentralMl::finalize_round(RuntimeOrigin::signed(9), task, 0));
		assert!(!System::events().iter().any(|r| matches!(
			&r.event,
			RuntimeEvent::DecentralMl(Event::AggregatorSlashed { .. })
		)));
	});
}
