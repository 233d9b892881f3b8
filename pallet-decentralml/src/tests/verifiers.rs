//! Tests of bonded verifiers: attestations deciding an aggregate without a vote, overruled
//! verifiers losing their bond, free-rider reports, and each call's errors.

use super::*;
use crate::{Attestations, VerifierCount, Verifiers};

/// The aggregate `cref("agg0")` has digest `[7; 32]`.
const RIGHT: [u8; 32] = [7; 32];
const WRONG: [u8; 32] = [9; 32];

fn bond(who: AccountId, task: TaskId) {
	assert_ok!(DecentralMl::bond_verifier(RuntimeOrigin::signed(who), task));
}

fn attest(who: AccountId, task: TaskId, digest: [u8; 32]) -> DispatchResult {
	DecentralMl::attest_aggregate(RuntimeOrigin::signed(who), task, 0, digest)
		.map(|_| ())
		.map_err(|e| e.error)
}

fn report(who: AccountId, task: TaskId, trainer: AccountId) -> DispatchResult {
	DecentralMl::report_free_rider(
		RuntimeOrigin::signed(who),
		task,
		0,
		trainer,
		FreeRiderKind::Copy,
		update_ref(3, 0),
	)
}

/// Task 0 running with verifiers 10, 11 and 12 bonded and round 0 aggregated (3 and 4).
fn aggregated() -> TaskId {
	let task = running(RewardAsset::Native);
	for v in [10, 11, 12] {
		bond(v, task);
	}
	update(3, task, 0, 10);
	update(4, task, 0, 30);
	run_to_block(12);
	aggregate(task, 0, &[3, 4]);
	task
}

#[test]
fn bond_and_unbond_verifier() {
	build_and_execute(|| {
		let task = running(RewardAsset::Native);
		bond(10, task);
		System::assert_last_event(
			Event::VerifierBonded { task_id: task, verifier: 10, bond: 25 }.into(),
		);
		assert_eq!(held(HoldReason::VerifierBond, 10), 25);
		assert_eq!(VerifierCount::<Test>::get(task), 1);
		assert_ok!(DecentralMl::unbond_verifier(RuntimeOrigin::signed(10), task));
		assert_eq!(held(HoldReason::VerifierBond, 10), 0);
		assert_eq!(VerifierCount::<Test>::get(task), 0);
		assert!(!Verifiers::<Test>::contains_key(task, 10));
	});
}

#[test]
fn bond_verifier_errors() {
	build_and_execute(|| {
		let task = running(RewardAsset::Native);
		let b = |who: AccountId, task: TaskId| {
			DecentralMl::bond_verifier(RuntimeOrigin::signed(who), task)
		};
		assert_noop!(b(10, 9), E::TaskNotFound);
		assert_noop!(b(5, task), E::AggregatorCannotVerify);
		assert_noop!(b(100, task), E::InsufficientBalance);
		bond(10, task);
		assert_noop!(b(10, task), E::AlreadyVerifier);
		bond(11, task);
		bond(12, task);
		assert_noop!(b(13, task), E::TooManyVerifiers);
		// A verifier cannot become the aggregator either.
		let model = register(1);
		let other = create(2, model, terms(RewardAsset::Native));
		bond(10, other);
		assert_noop!(
			DecentralMl::bond_aggregator(RuntimeOrigin::signed(10), other),
			E::AggregatorCannotVerify
		);
		assert_ok!(DecentralMl::cancel_task(RuntimeOrigin::signed(2), other));
		// Cancelling released the verifier.
		assert_eq!(held(HoldReason::VerifierBond, 10), 25);
		assert_noop!(b(11, other), E::TaskNotLive);
	});
}

#[test]
fn unbond_verifier_errors() {
	build_and_execute(|| {
		let task = aggregated();
		let u = |who: AccountId| DecentralMl::unbond_verifier(RuntimeOrigin::signed(who), task);
		assert_noop!(u(13), E::NotVerifier);
		assert_ok!(attest(10, task, RIGHT));
		assert_noop!(u(10), E::VerifierBusy);
		// One who did not attest may leave.
		assert_ok!(u(11));
		run_to_block(18);
		assert_ok!(DecentralMl::finalize_round(RuntimeOrigin::signed(9), task, 0));
		assert_ok!(u(10));
	});
}

#[test]
fn attest_aggregate_errors() {
	build_and_execute(|| {
		let task = running(RewardAsset::Native);
		bond(10, task);
		assert_noop!(attest(11, task, RIGHT), E::NotVerifier);
		assert_noop!(attest(10, task, RIGHT), E::NotAggregated);
		update(3, task, 0, 10);
		run_to_block(12);
		aggregate(task, 0, &[3]);
		// Round 1 is open (pipelined); only round 0 is pending.
		assert_noop!(
			DecentralMl::attest_aggregate(RuntimeOrigin::signed(10), task, 1, RIGHT)
				.map_err(|e| e.error),
			E::WrongRound
		);
		assert_ok!(attest(10, task, RIGHT));
		assert_noop!(attest(10, task, RIGHT), E::AlreadyAttested);
		bond(11, task);
		run_to_block(18);
		assert_noop!(attest(11, task, RIGHT), E::AttestationClosed);
		let model = register(1);
		let other = create(2, model, terms(RewardAsset::Native));
		bond(10, other);
		assert_noop!(attest(10, other, RIGHT), E::NotAggregated);
	});
}

#[test]
fn threshold_of_disagreements_fails_an_unchallenged_round() {
	build_and_execute(|| {
		let task = aggregated();
		assert_ok!(attest(10, task, WRONG));
		assert_eq!(PendingRounds::<Test>::get(task).unwrap().status, RoundStatus::Aggregated);
		assert_ok!(attest(11, task, RIGHT));
		assert_ok!(attest(12, task, WRONG));
		System::assert_has_event(
			Event::AggregateRejectedByVerifiers {
				task_id: task,
				round: 0,
				aggregator: 5,
				slashed: 50,
			}
			.into(),
		);
		// The overruled verifier's bond goes to the sponsor, like the aggregator's.
		System::assert_has_event(
			Event::VerifierSlashed { task_id: task, round: 0, verifier: 11, amount: 25 }.into(),
		);
		assert_eq!(held(HoldReason::AggregatorBond, 5), 0);
		assert_eq!(held(HoldReason::VerifierBond, 11), 0);
		assert_eq!(held(HoldReason::VerifierBond, 10), 25);
		assert_eq!(Balances::balance(&2), 10_000 - 2_000 + 50 + 25);
		assert_eq!(PendingRounds::<Test>::get(task).unwrap().status, RoundStatus::Failed);
		assert_noop!(attest(12, task, WRONG), E::AttestationClosed);
		assert_ok!(DecentralMl::finalize_round(RuntimeOrigin::signed(9), task, 0));
		assert_eq!(Tasks::<Test>::get(task).unwrap().pool, 2_000);
	});
}

#[test]
fn agreements_alone_do_not_shorten_the_window() {
	build_and_execute(|| {
		let task = aggregated();
		assert_ok!(attest(10, task, RIGHT));
		assert_ok!(attest(11, task, RIGHT));
		assert_eq!(PendingRounds::<Test>::get(task).unwrap().status, RoundStatus::Aggregated);
		assert_noop!(
			DecentralMl::finalize_round(RuntimeOrigin::signed(9), task, 0),
			E::ChallengeWindowOpen
		);
		run_to_block(18);
		assert_ok!(DecentralMl::finalize_round(RuntimeOrigin::signed(9), task, 0));
		assert_eq!(held(HoldReason::VerifierBond, 10), 25);
	});
}

#[test]
fn attestations_uphold_a_challenge_without_the_vote() {
	build_and_execute(|| {
		let task = aggregated();
		let id = NextProposalId::<Test>::get();
		assert_ok!(DecentralMl::challenge_aggregate(RuntimeOrigin::signed(7), task, 0, cref("ev")));
		vote(8, id, false, 5_000, Conviction::Locked1x);
		assert_ok!(attest(10, task, WRONG));
		// After the challenge window, attestations are still taken while it is challenged.
		run_to_block(18);
		assert_ok!(attest(11, task, WRONG));
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
		assert_eq!(Proposals::<Test>::get(id).unwrap().status, ProposalStatus::Attested);
		assert_eq!(held(HoldReason::ChallengeBond, 7), 0);
		assert_eq!(Balances::balance(&7), 10_000 + 50);
		// The vote no longer decides anything.
		run_to_block(40);
		assert_noop!(
			DecentralMl::close_proposal(RuntimeOrigin::signed(9), id),
			E::ProposalNotOngoing
		);
		assert_ok!(DecentralMl::unlock(RuntimeOrigin::signed(8), 8));
		assert_ok!(DecentralMl::finalize_round(RuntimeOrigin::signed(9), task, 0));
	});
}

#[test]
fn attestations_dismiss_a_challenge_and_slash_the_dissenter() {
	build_and_execute(|| {
		let task = aggregated();
		let id = NextProposalId::<Test>::get();
		assert_ok!(attest(12, task, WRONG));
		assert_ok!(DecentralMl::challenge_aggregate(RuntimeOrigin::signed(7), task, 0, cref("ev")));
		assert_ok!(attest(10, task, RIGHT));
		assert_ok!(attest(11, task, RIGHT));
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
		System::assert_has_event(
			Event::VerifierSlashed { task_id: task, round: 0, verifier: 12, amount: 25 }.into(),
		);
		assert_eq!(Proposals::<Test>::get(id).unwrap().status, ProposalStatus::Attested);
		let round = PendingRounds::<Test>::get(task).unwrap();
		assert_eq!(round.status, RoundStatus::Aggregated);
		assert!(round.decided);
		assert!(!Verifiers::<Test>::contains_key(task, 12));
		assert_eq!(Balances::balance(&5), 10_000 - 50 + 40 + 25);
		// Decided: no second challenge, no further attestation.
		assert_noop!(
			DecentralMl::challenge_aggregate(RuntimeOrigin::signed(8), task, 0, cref("ev")),
			E::ChallengeWindowClosed
		);
		bond(13, task);
		assert_noop!(attest(13, task, WRONG), E::AttestationClosed);
		run_to_block(18);
		assert_ok!(DecentralMl::finalize_round(RuntimeOrigin::signed(9), task, 0));
	});
}

#[test]
fn a_split_goes_to_the_vote_which_slashes_the_overruled() {
	build_and_execute(|| {
		let task = aggregated();
		let id = NextProposalId::<Test>::get();
		assert_ok!(DecentralMl::challenge_aggregate(RuntimeOrigin::signed(7), task, 0, cref("ev")));
		assert_ok!(attest(10, task, RIGHT));
		assert_ok!(attest(11, task, WRONG));
		assert_eq!(PendingRounds::<Test>::get(task).unwrap().status, RoundStatus::Challenged);
		vote(8, id, true, 5_000, Conviction::Locked1x);
		close_after_voting(id);
		assert_eq!(Proposals::<Test>::get(id).unwrap().status, ProposalStatus::Passed);
		System::assert_has_event(
			Event::VerifierSlashed { task_id: task, round: 0, verifier: 10, amount: 25 }.into(),
		);
		assert_eq!(held(HoldReason::VerifierBond, 11), 25);
		assert_eq!(Balances::balance(&7), 10_000 + 50 + 25);
		assert!(Attestations::<Test>::get(task, 10).is_none());
	});
}

#[test]
fn confirmed_free_rider_earns_nothing_and_is_slashed_once() {
	build_and_execute(|| {
		let task = running(RewardAsset::Native);
		for v in [10, 11] {
			bond(v, task);
		}
		update(3, task, 0, 10);
		update(4, task, 0, 10);
		run_to_block(12);
		reveal_all(task, 0);
		assert_ok!(report(10, task, 4));
		System::assert_last_event(
			Event::FreeRiderReported {
				task_id: task,
				round: 0,
				trainer: 4,
				verifier: 10,
				kind: FreeRiderKind::Copy,
				update: update_ref(4, 0),
				evidence: update_ref(3, 0),
			}
			.into(),
		);
		assert_noop!(report(10, task, 4), E::AlreadyReported);
		assert_ok!(report(11, task, 4));
		System::assert_last_event(
			Event::FreeRiderConfirmed { task_id: task, round: 0, trainer: 4 }.into(),
		);
		assert_eq!(Updates::<Test>::get((task, 0, 4)).unwrap().flags, 2);
		// The aggregator included it anyway: it is still paid nothing.
		aggregate(task, 0, &[3, 4]);
		run_to_block(18);
		assert_ok!(DecentralMl::finalize_round(RuntimeOrigin::signed(9), task, 0));
		// 1,000 reward: 100 fee, 900 to 3 alone; 4 (and no-show 6) lose 20 % of 100.
		assert_eq!(Balances::balance(&3), 10_000 - 100 + 900);
		assert_eq!(Participants::<Test>::get(task, 4).unwrap().stake, 80);
		assert_eq!(Participants::<Test>::get(task, 6).unwrap().stake, 80);
		assert_eq!(Participants::<Test>::get(task, 3).unwrap().stake, 100);
	});
}

#[test]
fn report_free_rider_errors() {
	build_and_execute(|| {
		let task = running(RewardAsset::Native);
		bond(10, task);
		let r = |who: AccountId, round: RoundIndex, trainer: AccountId, ev: ContentRef| {
			DecentralMl::report_free_rider(
				RuntimeOrigin::signed(who),
				task,
				round,
				trainer,
				FreeRiderKind::ZeroDelta,
				ev,
			)
		};
		assert_noop!(r(10, 0, 3, raw_cid(b"")), E::EmptyCid);
		assert_noop!(r(11, 0, 3, cref("base")), E::NotVerifier);
		assert_noop!(r(10, 1, 3, cref("base")), E::UpdateNotFound);
		// Committed but not revealed: nothing to report yet.
		update(3, task, 0, 10);
		assert_noop!(r(10, 0, 3, cref("base")), E::UpdateNotFound);
		let model = register(1);
		let other = create(2, model, terms(RewardAsset::Native));
		bond(11, other);
		assert_noop!(
			DecentralMl::report_free_rider(
				RuntimeOrigin::signed(11),
				other,
				0,
				3,
				FreeRiderKind::Noise,
				cref("r")
			),
			E::UpdateNotFound
		);
	});
}

#[test]
fn attestation_threshold_is_a_parameter() {
	build_and_execute(|| {
		let id = propose(7, ProposalKind::SetParameter(ParameterChange::AttestationThreshold(1)));
		vote(8, id, true, 9_000, Conviction::None);
		close_after_voting(id);
		assert_eq!(Params::<Test>::get().attestation_threshold, 1);
		assert_noop!(
			DecentralMl::submit_proposal(
				RuntimeOrigin::signed(7),
				ProposalKind::SetParameter(ParameterChange::AttestationThreshold(0))
			),
			E::InvalidParameter
		);
		// At threshold 1 a single verifier's disagreement decides.
		let task = aggregated();
		assert_ok!(attest(10, task, WRONG));
		assert_eq!(PendingRounds::<Test>::get(task).unwrap().status, RoundStatus::Failed);
	});
}
