//! Tests that the invariant checker catches a broken invariant.

use super::*;

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
		assert!(Updates::<Test>::iter_prefix((task, 0)).next().is_none());
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
		reveal_period: Some(4),
	}
	.assimilate_storage(&mut storage)
	.unwrap();
	sp_io::TestExternalities::from(storage).execute_with(|| {
		let defaults = <Test as crate::Config>::DefaultParams::get();
		let params = crate::Params::<Test>::get();
		assert_eq!(params.voting_period, 15);
		assert_eq!(params.aggregation_period, 10);
		assert_eq!(params.ratification_period, 30);
		assert_eq!(params.reveal_period, 4);
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
