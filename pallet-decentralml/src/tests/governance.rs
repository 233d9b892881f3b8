//! Tests of proposals, votes, conviction locks and the safety council.

use super::*;

#[test]
fn submit_proposal_success_and_errors() {
	build_and_execute(|| {
		let s =
			|who: AccountId, kind| DecentralMl::submit_proposal(RuntimeOrigin::signed(who), kind);
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
			s(
				7,
				ProposalKind::SetParameter(ParameterChange::SafetyApproval(Perbill::from_percent(
					50
				)))
			),
			E::InvalidParameter
		);
		assert_noop!(s(100, fee_change(5)), E::InsufficientDeposit);
		let id = propose(7, fee_change(5));
		System::assert_last_event(
			Event::ProposalSubmitted { proposal_id: id, proposer: 7, deposit: 30, ends_at: 11 }
				.into(),
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
			Event::Voted {
				proposal_id: id,
				voter: 8,
				aye: true,
				balance: 1_000,
				conviction: Conviction::Locked2x,
			}
			.into(),
		);
		assert_eq!(
			Proposals::<Test>::get(id).unwrap().tally,
			Tally { ayes: 2_000, nays: 0, support: 1_000 }
		);
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
		assert_noop!(
			DecentralMl::close_proposal(RuntimeOrigin::signed(9), id),
			E::ProposalNotOngoing
		);
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
