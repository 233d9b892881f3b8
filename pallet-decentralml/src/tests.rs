//! Unit tests: each call's success and each of its errors.

use crate::{mock::*, types::*, Error, Event, HoldReason, Models, NextModelId};
use frame_support::{
	assert_noop, assert_ok,
	traits::fungible::{Inspect, InspectHold},
	BoundedVec,
};

fn content(cid: &str, size: u64) -> ContentRef {
	ContentRef { cid: BoundedVec::try_from(cid.as_bytes().to_vec()).unwrap(), digest: [7; 32], size }
}

fn name(s: &str) -> BoundedVec<u8, frame_support::pallet_prelude::ConstU32<256>> {
	BoundedVec::try_from(s.as_bytes().to_vec()).unwrap()
}

fn register(who: u64) -> frame_support::dispatch::DispatchResult {
	DecentralMl::register_model(
		RuntimeOrigin::signed(who),
		name("digits-mlp"),
		content("bafyarch", 10),
		content("bafyweights", 1000),
	)
}

fn held(who: u64) -> Balance {
	Balances::balance_on_hold(&RuntimeHoldReason::DecentralMl(HoldReason::ModelDeposit), &who)
}

#[test]
fn register_model_holds_deposit_and_stores_model() {
	build_and_execute(|| {
		assert_ok!(register(1));
		let model = Models::<Test>::get(0).expect("stored");
		assert_eq!(model.owner, 1);
		assert_eq!(model.name.to_vec(), b"digits-mlp".to_vec());
		assert_eq!(model.status, ModelStatus::Active);
		assert_eq!(model.deposit, 100);
		assert_eq!(model.initial_weights.size, 1000);
		assert_eq!(NextModelId::<Test>::get(), 1);
		assert_eq!(held(1), 100);
		assert_eq!(Balances::balance(&1), 900);
		System::assert_last_event(
			Event::ModelRegistered { model_id: 0, owner: 1, deposit: 100 }.into(),
		);
		assert_ok!(register(1));
		assert_eq!(held(1), 200);
		assert_eq!(NextModelId::<Test>::get(), 2);
	});
}

#[test]
fn register_model_rejects_empty_name() {
	build_and_execute(|| {
		assert_noop!(
			DecentralMl::register_model(
				RuntimeOrigin::signed(1),
				name(""),
				content("a", 1),
				content("b", 1)
			),
			Error::<Test>::EmptyName
		);
	});
}

#[test]
fn register_model_rejects_long_name() {
	build_and_execute(|| {
		let long = "x".repeat(65);
		assert_noop!(
			DecentralMl::register_model(
				RuntimeOrigin::signed(1),
				name(&long),
				content("a", 1),
				content("b", 1)
			),
			Error::<Test>::NameTooLong
		);
	});
}

#[test]
fn register_model_rejects_empty_cid_and_empty_content() {
	build_and_execute(|| {
		assert_noop!(
			DecentralMl::register_model(
				RuntimeOrigin::signed(1),
				name("m"),
				content("", 1),
				content("b", 1)
			),
			Error::<Test>::EmptyCid
		);
		assert_noop!(
			DecentralMl::register_model(
				RuntimeOrigin::signed(1),
				name("m"),
				content("a", 1),
				content("b", 0)
			),
			Error::<Test>::EmptyContent
		);
	});
}

#[test]
fn register_model_requires_the_deposit() {
	build_and_execute(|| {
		assert_noop!(register(5), Error::<Test>::InsufficientDeposit);
		assert_eq!(held(5), 0);
	});
}

#[test]
fn register_model_fails_when_ids_are_exhausted() {
	build_and_execute(|| {
		NextModelId::<Test>::put(u32::MAX);
		assert_noop!(register(1), Error::<Test>::ModelIdsExhausted);
	});
}

#[test]
fn register_model_requires_a_signed_origin() {
	build_and_execute(|| {
		assert_noop!(
			DecentralMl::register_model(
				RuntimeOrigin::root(),
				name("m"),
				content("a", 1),
				content("b", 1)
			),
			sp_runtime::DispatchError::BadOrigin
		);
	});
}

#[test]
fn retire_model_releases_the_deposit() {
	build_and_execute(|| {
		assert_ok!(register(2));
		assert_ok!(DecentralMl::retire_model(RuntimeOrigin::signed(2), 0));
		assert_eq!(held(2), 0);
		assert_eq!(Balances::balance(&2), 1_000);
		let model = Models::<Test>::get(0).unwrap();
		assert_eq!(model.status, ModelStatus::Retired);
		assert_eq!(model.deposit, 0);
		System::assert_last_event(Event::ModelRetired { model_id: 0, deposit: 100 }.into());
	});
}

#[test]
fn retire_model_errors() {
	build_and_execute(|| {
		assert_noop!(
			DecentralMl::retire_model(RuntimeOrigin::signed(1), 0),
			Error::<Test>::ModelNotFound
		);
		assert_ok!(register(1));
		assert_noop!(
			DecentralMl::retire_model(RuntimeOrigin::signed(2), 0),
			Error::<Test>::NotModelOwner
		);
		assert_ok!(DecentralMl::retire_model(RuntimeOrigin::signed(1), 0));
		assert_noop!(
			DecentralMl::retire_model(RuntimeOrigin::signed(1), 0),
			Error::<Test>::ModelRetired
		);
	});
}

#[test]
fn try_state_detects_a_missing_hold() {
	new_test_ext().execute_with(|| {
		assert_ok!(register(3));
		// Corrupt the state: release the hold behind the pallet's back.
		use frame_support::traits::{fungible::MutateHold, tokens::Precision};
		assert_ok!(<Balances as MutateHold<u64>>::release(
			&RuntimeHoldReason::DecentralMl(HoldReason::ModelDeposit),
			&3,
			100,
			Precision::Exact
		));
		assert!(DecentralMl::do_try_state().is_err());
	});
}
