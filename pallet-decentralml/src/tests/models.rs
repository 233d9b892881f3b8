//! Tests of model registration and retirement, and of trainer profiles.

use super::*;

#[test]
fn register_model_holds_deposit_and_stores_model() {
	build_and_execute(|| {
		let id = register_with(1, &[b"DE", b"FR"]);
		let model = Models::<Test>::get(id).expect("stored");
		assert_eq!(model.owner, 1);
		assert_eq!(model.name.to_vec(), b"digits-mlp".to_vec());
		assert_eq!(model.status, ModelStatus::Active);
		assert_eq!(model.deposit, 100);
		assert_eq!(model.jurisdictions.len(), 2);
		assert_eq!(model.licence, spdx("Apache-2.0"));
		assert_eq!(NextModelId::<Test>::get(), 1);
		assert_eq!(held(HoldReason::ModelDeposit, 1), 100);
		System::assert_last_event(
			Event::ModelRegistered { model_id: 0, owner: 1, deposit: 100 }.into(),
		);
		// Custom licence terms by content reference.
		assert_ok!(DecentralMl::register_model(
			RuntimeOrigin::signed(1),
			name("m2"),
			cref("a"),
			cref("b"),
			Licence { terms: LicenceTerms::Custom(cref("terms")), ..spdx("MIT") },
			juris(&[]),
		));
		assert_eq!(held(HoldReason::ModelDeposit, 1), 200);
	});
}

#[test]
fn register_model_rejects_bad_input() {
	build_and_execute(|| {
		let reg = |n: &str, a: ContentRef, l: Licence, j: Jurisdictions| {
			DecentralMl::register_model(RuntimeOrigin::signed(1), name(n), a, cref("w"), l, j)
		};
		let ok_l = spdx("MIT");
		assert_noop!(reg("", cref("a"), ok_l.clone(), juris(&[])), E::EmptyName);
		assert_noop!(reg(&"x".repeat(65), cref("a"), ok_l.clone(), juris(&[])), E::NameTooLong);
		assert_noop!(reg("m", raw_cid(b""), ok_l.clone(), juris(&[])), E::EmptyCid);
		assert_noop!(reg("m", raw_cid(&[b'a'; 101]), ok_l.clone(), juris(&[])), E::CidTooLong);
		assert_noop!(reg("m", raw_cid(b"bafy/../x"), ok_l.clone(), juris(&[])), E::MalformedCid);
		assert_noop!(reg("m", raw_cid(b"short"), ok_l.clone(), juris(&[])), E::MalformedCid);
		let mut empty = cref("a");
		empty.size = 0;
		assert_noop!(reg("m", empty, ok_l.clone(), juris(&[])), E::EmptyContent);
		assert_noop!(reg("m", cref("a"), spdx(""), juris(&[])), E::InvalidSpdxId);
		assert_noop!(reg("m", cref("a"), spdx("MIT OR GPL"), juris(&[])), E::InvalidSpdxId);
		assert_noop!(
			reg(
				"m",
				cref("a"),
				Licence { terms: LicenceTerms::Custom(raw_cid(b"")), ..ok_l.clone() },
				juris(&[])
			),
			E::EmptyCid
		);
		assert_noop!(reg("m", cref("a"), ok_l.clone(), juris(&[b"de"])), E::InvalidJurisdiction);
		assert_noop!(reg("m", cref("a"), ok_l.clone(), juris(&[b"D1"])), E::InvalidJurisdiction);
		assert_noop!(
			reg("m", cref("a"), ok_l.clone(), juris(&[b"DE", b"FR", b"DE"])),
			E::DuplicateJurisdiction
		);
	});
}

#[test]
fn register_model_requires_deposit_origin_and_ids() {
	build_and_execute(|| {
		assert_noop!(
			DecentralMl::register_model(
				RuntimeOrigin::signed(50),
				name("m"),
				cref("a"),
				cref("b"),
				spdx("MIT"),
				juris(&[])
			),
			E::InsufficientDeposit
		);
		assert_noop!(
			DecentralMl::register_model(
				RuntimeOrigin::root(),
				name("m"),
				cref("a"),
				cref("b"),
				spdx("MIT"),
				juris(&[])
			),
			DispatchError::BadOrigin
		);
		NextModelId::<Test>::put(u32::MAX);
		assert_noop!(
			DecentralMl::register_model(
				RuntimeOrigin::signed(1),
				name("m"),
				cref("a"),
				cref("b"),
				spdx("MIT"),
				juris(&[])
			),
			E::ModelIdsExhausted
		);
	});
}

#[test]
fn retire_model_releases_the_deposit_and_errors() {
	build_and_execute(|| {
		assert_noop!(DecentralMl::retire_model(RuntimeOrigin::signed(1), 0), E::ModelNotFound);
		let id = register(2);
		assert_noop!(DecentralMl::retire_model(RuntimeOrigin::signed(1), id), E::NotModelOwner);
		assert_ok!(DecentralMl::retire_model(RuntimeOrigin::signed(2), id));
		assert_eq!(held(HoldReason::ModelDeposit, 2), 0);
		assert_eq!(Balances::balance(&2), 10_000);
		assert_eq!(Models::<Test>::get(id).unwrap().status, ModelStatus::Retired);
		System::assert_last_event(Event::ModelRetired { model_id: id, deposit: 100 }.into());
		assert_noop!(DecentralMl::retire_model(RuntimeOrigin::signed(2), id), E::ModelRetired);
	});
}

// ---------------------------------------------------------------------------------------------
// Trainer profiles
// ---------------------------------------------------------------------------------------------

#[test]
fn trainer_profiles() {
	build_and_execute(|| {
		assert_noop!(
			DecentralMl::set_trainer_profile(RuntimeOrigin::signed(3), *b"de"),
			E::InvalidJurisdiction
		);
		assert_noop!(
			DecentralMl::clear_trainer_profile(RuntimeOrigin::signed(3)),
			E::NoTrainerProfile
		);
		profile(3, b"DE");
		System::assert_last_event(
			Event::TrainerProfileSet { trainer: 3, jurisdiction: *b"DE" }.into(),
		);
		profile(3, b"FR");
		assert_eq!(TrainerProfiles::<Test>::get(3).unwrap().jurisdiction, *b"FR");
		let model = register(1);
		let task = create(2, model, terms(RewardAsset::Native));
		assert_ok!(DecentralMl::join_task(RuntimeOrigin::signed(3), task));
		assert_noop!(
			DecentralMl::set_trainer_profile(RuntimeOrigin::signed(3), *b"DE"),
			E::TrainerHasTasks
		);
		assert_noop!(
			DecentralMl::clear_trainer_profile(RuntimeOrigin::signed(3)),
			E::TrainerHasTasks
		);
		assert_ok!(DecentralMl::leave_task(RuntimeOrigin::signed(3), task));
		assert_ok!(DecentralMl::clear_trainer_profile(RuntimeOrigin::signed(3)));
		System::assert_last_event(Event::TrainerProfileCleared { trainer: 3 }.into());
		assert!(TrainerProfiles::<Test>::get(3).is_none());
	});
}

// ---------------------------------------------------------------------------------------------
