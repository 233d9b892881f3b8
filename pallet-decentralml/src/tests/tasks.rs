//! Tests of the task lifecycle: creation, cancel and expiry, joining and leaving, aggregator bonds.

use super::*;

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
fn median_bounded_rules_are_stored_with_pinned_indices() {
	// The Python client names rules by metadata, but other clients and stored tasks depend on
	// the SCALE index: a new variant goes at the end.
	use codec::Encode;
	assert_eq!(AggregationRule::MedianBoundedFedAvg.encode(), vec![4]);
	assert_eq!(AggregationRule::MedianAlignedFedAvg.encode(), vec![5]);
	build_and_execute(|| {
		let model = register(1);
		for rule in [AggregationRule::MedianBoundedFedAvg, AggregationRule::MedianAlignedFedAvg] {
			let task =
				create(2, model, TaskTerms { aggregation: rule, ..terms(RewardAsset::Native) });
			assert_eq!(Tasks::<Test>::get(task).unwrap().terms.aggregation, rule);
		}
	});
}

#[test]
fn create_task_checks_privacy_terms() {
	build_and_execute(|| {
		let model = register(1);
		let native = terms(RewardAsset::Native);
		let c = |privacy, aggregation| {
			DecentralMl::create_task(
				RuntimeOrigin::signed(2),
				model,
				TaskTerms { privacy, aggregation, ..native.clone() },
			)
		};
		let delta = Perbill::from_parts(10_000); // 1e-5
		for bad in [
			Privacy::DpSgd { max_epsilon: 0, delta },
			Privacy::DpSgd { max_epsilon: 8_000, delta: Perbill::zero() },
			Privacy::DpFedAvg { max_epsilon: 8_000, delta: Perbill::one() },
		] {
			assert_noop!(c(bad, AggregationRule::FedAvg), E::InvalidPrivacyBudget);
		}
		assert_noop!(
			c(Privacy::SecureAggregation, AggregationRule::FedAvg),
			E::SecureAggregationNeedsClippedFedAvg
		);
		let budget = Privacy::DpSgd { max_epsilon: 8_000, delta };
		for (privacy, rule) in [
			(budget, AggregationRule::MedianAlignedFedAvg),
			(Privacy::SecureAggregation, AggregationRule::NormClippedFedAvg(1_000_000)),
		] {
			let id = NextTaskId::<Test>::get();
			assert_ok!(c(privacy, rule));
			assert_eq!(Tasks::<Test>::get(id).unwrap().terms.privacy, privacy);
		}
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
		assert_noop!(
			c(2, model, TaskTerms { reward_per_round: 0, ..native.clone() }),
			E::ZeroReward
		);
		assert_noop!(c(2, model, TaskTerms { total_rounds: 0, ..native.clone() }), E::ZeroRounds);
		assert_noop!(
			c(2, model, TaskTerms { total_rounds: 11, ..native.clone() }),
			E::TooManyRounds
		);
		assert_noop!(
			c(2, model, TaskTerms { min_trainers: 0, ..native.clone() }),
			E::ZeroMinTrainers
		);
		assert_noop!(
			c(2, model, TaskTerms { min_trainers: 3, max_trainers: 2, ..native.clone() }),
			E::MaxTrainersBelowMin
		);
		assert_noop!(
			c(2, model, TaskTerms { max_trainers: 9, ..native.clone() }),
			E::TooManyTrainers
		);
		assert_noop!(
			c(2, model, TaskTerms { trainer_stake: 9, ..native.clone() }),
			E::StakeBelowMinimum
		);
		assert_noop!(
			c(2, model, TaskTerms { round_length: 0, ..native.clone() }),
			E::ZeroRoundLength
		);
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
			Event::TaskEnded { task_id: task, status: TaskStatus::Cancelled, refunded: 2_000 }
				.into(),
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
		let t = TaskTerms {
			jurisdictions: juris(&[b"DE"]),
			max_trainers: 2,
			..terms(RewardAsset::Native)
		};
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
		System::assert_last_event(
			Event::TrainerJoined { task_id: task, trainer: 3, stake: 100 }.into(),
		);
		assert_eq!(held(HoldReason::TrainerStake, 3), 100);
		assert_eq!(Tasks::<Test>::get(task).unwrap().trainer_count, 1);
		assert_noop!(DecentralMl::join_task(RuntimeOrigin::signed(3), task), E::AlreadyJoined);
		profile(50, b"DE");
		assert_noop!(
			DecentralMl::join_task(RuntimeOrigin::signed(50), task),
			E::InsufficientBalance
		);
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
		System::assert_last_event(
			Event::TrainerLeft { task_id: task, trainer: 3, stake: 100 }.into(),
		);
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
		assert_noop!(
			DecentralMl::unbond_aggregator(RuntimeOrigin::signed(5), task),
			E::NoAggregator
		);
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
		assert_noop!(
			DecentralMl::unbond_aggregator(RuntimeOrigin::signed(6), task),
			E::NotAggregator
		);
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
