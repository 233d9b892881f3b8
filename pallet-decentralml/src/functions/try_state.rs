//! The pallet's invariants (see the crate docs), checked after every test and by try-runtime.

use crate::{pallet::*, types::*};
use alloc::{collections::btree_set::BTreeSet, vec::Vec};
use frame_support::ensure;
use sp_runtime::traits::{Saturating, Zero};

impl<T: Config> Pallet<T> {
	/// Check the pallet's invariants (see the crate docs).
	#[cfg(any(feature = "try-runtime", test))]
	pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
		use alloc::collections::btree_map::BTreeMap;
		use frame_support::traits::fungible::{InspectFreeze, InspectHold};
		type Sums<A, B> = BTreeMap<A, B>;
		fn add<K: Ord, B: Saturating + Zero + Copy>(map: &mut Sums<K, B>, key: K, value: B) {
			let entry = map.entry(key).or_insert_with(Zero::zero);
			*entry = entry.saturating_add(value);
		}

		let mut model_deposits: Sums<T::AccountId, BalanceOf<T>> = BTreeMap::new();
		let mut rewards: Sums<T::AccountId, BalanceOf<T>> = BTreeMap::new();
		let mut stakes: Sums<T::AccountId, BalanceOf<T>> = BTreeMap::new();
		let mut bonds: Sums<T::AccountId, BalanceOf<T>> = BTreeMap::new();
		let mut challenge_bonds: Sums<T::AccountId, BalanceOf<T>> = BTreeMap::new();
		let mut deposits: Sums<T::AccountId, BalanceOf<T>> = BTreeMap::new();
		let mut verifier_bonds: Sums<T::AccountId, BalanceOf<T>> = BTreeMap::new();
		let mut escrowed: BTreeMap<TaskId, (T::AssetId, BalanceOf<T>)> = BTreeMap::new();
		let mut profile_tasks: Sums<T::AccountId, u32> = BTreeMap::new();

		let next_model = NextModelId::<T>::get();
		for (id, model) in Models::<T>::iter() {
			ensure!(id < next_model, "model id at or above NextModelId");
			if model.status == ModelStatus::Retired {
				ensure!(model.deposit.is_zero(), "retired model still has a deposit");
			} else {
				add(&mut model_deposits, model.owner.clone(), model.deposit);
			}
			if model.pending_lapse.is_some() {
				ensure!(
					model.status == ModelStatus::Suspended,
					"pending lapse on unsuspended model"
				);
			}
			if let Some(v) = model.latest_approved {
				ensure!(
					Versions::<T>::get(id, v).map(|v| v.status) == Some(VersionStatus::Approved),
					"latest approved version is not approved"
				);
			}
		}
		for (model_id, version, _) in Versions::<T>::iter() {
			let model = Models::<T>::get(model_id).ok_or("version of unknown model")?;
			ensure!(version < model.next_version, "version at or above next_version");
		}

		let next_task = NextTaskId::<T>::get();
		for (task_id, task) in Tasks::<T>::iter() {
			ensure!(task_id < next_task, "task id at or above NextTaskId");
			let mut count = 0u32;
			for (trainer, participant) in Participants::<T>::iter_prefix(task_id) {
				ensure!(task.status.is_live(), "participant of an ended task");
				count = count.saturating_add(1);
				add(&mut profile_tasks, trainer.clone(), 1);
				match task.terms.asset {
					RewardAsset::Native => add(&mut stakes, trainer, participant.stake),
					RewardAsset::Asset(id) => {
						let entry = escrowed.entry(task_id).or_insert((id, Zero::zero()));
						entry.1 = entry.1.saturating_add(participant.stake);
					},
				}
			}
			ensure!(count == task.trainer_count, "trainer_count differs from participants");
			ensure!(count <= task.terms.max_trainers, "more trainers than max_trainers");
			if let RewardAsset::Asset(id) = task.terms.asset {
				let entry = escrowed.entry(task_id).or_insert((id, Zero::zero()));
				if task.status.is_live() {
					entry.1 = entry.1.saturating_add(task.pool);
				} else {
					entry.1 = entry.1.saturating_add(StrandedAssets::<T>::get(task_id));
				}
			} else {
				ensure!(!StrandedAssets::<T>::contains_key(task_id), "stranded native task");
			}
			if task.status.is_live() {
				if task.terms.asset == RewardAsset::Native {
					add(&mut rewards, task.sponsor.clone(), task.pool);
				}
				if let Some((aggregator, bond)) = &task.aggregator {
					add(&mut bonds, aggregator.clone(), *bond);
				}
			} else {
				ensure!(task.pool.is_zero(), "ended task still has a pool");
				ensure!(task.aggregator.is_none(), "ended task still has an aggregator");
				ensure!(!Rounds::<T>::contains_key(task_id), "ended task has a round");
				ensure!(!PendingRounds::<T>::contains_key(task_id), "ended task has a round");
			}
			ensure!(task.next_round <= task.terms.total_rounds, "more rounds than total_rounds");
		}
		let open: Vec<_> = Rounds::<T>::iter().map(|(task_id, r)| (task_id, r, false)).collect();
		let pending = PendingRounds::<T>::iter().map(|(task_id, r)| (task_id, r, true));
		let live: Vec<_> = open.into_iter().chain(pending).collect();
		for (task_id, round, is_pending) in live.iter() {
			let task = Tasks::<T>::get(task_id).ok_or("round of unknown task")?;
			ensure!(task.status.is_live(), "ended task has a round");
			let open_index = Rounds::<T>::get(task_id).map(|r| r.index);
			if *is_pending {
				// The open round, if any, is the one after; it opened on this aggregate.
				ensure!(round.status != RoundStatus::Open, "pending round still open");
				if let Some(open) = open_index {
					ensure!(open == round.index.saturating_add(1), "pending round out of order");
				} else {
					ensure!(round.index.saturating_add(1) == task.next_round, "round index mismatch");
				}
			} else {
				ensure!(round.status == RoundStatus::Open, "open round not open");
				ensure!(round.index.saturating_add(1) == task.next_round, "round index mismatch");
			}
			let updates = Updates::<T>::iter_prefix((*task_id, round.index)).count() as u32;
			ensure!(updates == round.submissions, "submissions differ from updates");
			let commitments = Commitments::<T>::iter_prefix((*task_id, round.index)).count() as u32;
			ensure!(commitments == round.commitments, "commitment count differs");
			ensure!(round.submissions <= round.commitments, "more reveals than commitments");
			ensure!(round.reveal_end >= round.opened_at, "reveal end before the round opened");
			ensure!(
				round.aggregate.is_some() ==
					matches!(round.status, RoundStatus::Aggregated | RoundStatus::Challenged),
				"aggregate presence does not match status"
			);
			ensure!(
				round.challenge.is_some() == (round.status == RoundStatus::Challenged),
				"challenge presence does not match status"
			);
			if let Some(challenge) = &round.challenge {
				add(&mut challenge_bonds, challenge.challenger.clone(), challenge.bond);
				let proposal =
					Proposals::<T>::get(challenge.proposal).ok_or("challenge without proposal")?;
				ensure!(proposal.status == ProposalStatus::Ongoing, "challenge proposal closed");
			}
		}
		let is_live = |task_id: TaskId, index: RoundIndex| {
			live.iter().any(|(t, r, _)| *t == task_id && r.index == index)
		};
		for ((task_id, index, trainer), commitment) in Commitments::<T>::iter() {
			ensure!(is_live(task_id, index), "commitment without a round");
			ensure!(commitment.round == index, "stale commitment");
			ensure!(
				Participants::<T>::contains_key(task_id, &trainer),
				"commitment of non-participant"
			);
		}
		for ((task_id, index, trainer), update) in Updates::<T>::iter() {
			ensure!(is_live(task_id, index), "update without a round");
			ensure!(update.round == index, "stale update");
			ensure!(
				Commitments::<T>::contains_key((task_id, index, &trainer)),
				"update without commitment"
			);
			ensure!(
				Participants::<T>::contains_key(task_id, &trainer),
				"update of non-participant"
			);
		}
		for (task_id, verifier, bond) in Verifiers::<T>::iter() {
			let task = Tasks::<T>::get(task_id).ok_or("verifier of unknown task")?;
			ensure!(task.status.is_live(), "verifier of an ended task");
			ensure!(
				task.aggregator.map(|(a, _)| a != verifier).unwrap_or(true),
				"aggregator is a verifier"
			);
			add(&mut verifier_bonds, verifier, bond);
		}
		for (task_id, count) in VerifierCount::<T>::iter() {
			let listed = Verifiers::<T>::iter_prefix(task_id).count() as u32;
			ensure!(listed == count && count <= <T::MaxVerifiersPerTask as frame_support::traits::Get<u32>>::get(), "verifier count");
		}
		for (task_id, verifier, _) in Attestations::<T>::iter() {
			ensure!(Verifiers::<T>::contains_key(task_id, &verifier), "attestation of non-verifier");
		}
		for (task_id, round) in PendingRounds::<T>::iter() {
			let (mut agree, mut disagree) = (0u32, 0u32);
			for (_, attestation) in Attestations::<T>::iter_prefix(task_id) {
				if attestation.round == round.index {
					if attestation.agrees {
						agree += 1;
					} else {
						disagree += 1;
					}
				}
			}
			// Overruled verifiers are unbonded (their attestations go), so the counts may
			// exceed what is left, never fall below it.
			ensure!(
				agree <= round.agreements && disagree <= round.disagreements,
				"attestation counts"
			);
		}
		for (trainer, profile) in TrainerProfiles::<T>::iter() {
			let expected = profile_tasks.remove(&trainer).unwrap_or(0);
			ensure!(profile.active_tasks == expected, "profile task count differs");
		}
		ensure!(profile_tasks.is_empty(), "participant without a profile");

		// Governance: deposits, tallies and freezes.
		let next_proposal = NextProposalId::<T>::get();
		let mut tallies: BTreeMap<ProposalId, Tally<BalanceOf<T>>> = BTreeMap::new();
		for (id, proposal) in Proposals::<T>::iter() {
			ensure!(id < next_proposal, "proposal id at or above NextProposalId");
			if proposal.status == ProposalStatus::Ongoing {
				add(&mut deposits, proposal.proposer.clone(), proposal.deposit);
				tallies.insert(id, Tally::default());
			}
		}
		for (voter, votes) in VotingOf::<T>::iter() {
			ensure!(!votes.is_empty(), "empty vote list stored");
			let mut largest: BalanceOf<T> = Zero::zero();
			for record in votes.iter() {
				largest = largest.max(record.balance);
				if let Some(tally) = tallies.get_mut(&record.proposal) {
					let weight = record.conviction.votes(record.balance);
					if record.aye {
						tally.ayes = tally.ayes.saturating_add(weight);
					} else {
						tally.nays = tally.nays.saturating_add(weight);
					}
					tally.support = tally.support.saturating_add(record.balance);
				}
			}
			let frozen = T::NativeBalance::balance_frozen(&FreezeReason::Voting.into(), &voter);
			ensure!(frozen == largest, "voting freeze differs from the largest vote");
		}
		for (id, tally) in tallies {
			let proposal = Proposals::<T>::get(id).ok_or("missing proposal")?;
			ensure!(proposal.tally == tally, "tally differs from the recorded votes");
		}

		// Holds: every account the system knows, plus every one we expect something from.
		let mut accounts: BTreeSet<T::AccountId> =
			frame_system::Account::<T>::iter_keys().collect();
		let maps = [
			&model_deposits,
			&rewards,
			&stakes,
			&bonds,
			&challenge_bonds,
			&deposits,
			&verifier_bonds,
		];
		for map in maps {
			accounts.extend(map.keys().cloned());
		}
		for who in accounts {
			let expects_none = maps.iter().all(|map| !map.contains_key(&who));
			if expects_none {
				// One read instead of one per reason: nothing held means nothing held here.
				ensure!(
					T::NativeBalance::total_balance_on_hold(&who).is_zero() ||
						[
							HoldReason::ModelDeposit,
							HoldReason::TaskReward,
							HoldReason::TrainerStake,
							HoldReason::AggregatorBond,
							HoldReason::ChallengeBond,
							HoldReason::ProposalDeposit,
							HoldReason::VerifierBond,
						]
						.into_iter()
						.all(|r| T::NativeBalance::balance_on_hold(&r.into(), &who).is_zero()),
					"hold without a record"
				);
				ensure!(
					VotingOf::<T>::contains_key(&who) ||
						T::NativeBalance::balance_frozen(&FreezeReason::Voting.into(), &who)
							.is_zero(),
					"voting freeze without votes"
				);
				continue;
			}
			for (reason, map, what) in [
				(HoldReason::ModelDeposit, &model_deposits, "held model deposit differs"),
				(HoldReason::TaskReward, &rewards, "held task reward differs from unpaid pools"),
				(HoldReason::TrainerStake, &stakes, "held stake differs from participants' stakes"),
				(HoldReason::AggregatorBond, &bonds, "held aggregator bond differs"),
				(HoldReason::ChallengeBond, &challenge_bonds, "held challenge bond differs"),
				(HoldReason::ProposalDeposit, &deposits, "held proposal deposit differs"),
				(HoldReason::VerifierBond, &verifier_bonds, "held verifier bond differs"),
			] {
				let held = T::NativeBalance::balance_on_hold(&reason.into(), &who);
				let expected = map.get(&who).copied().unwrap_or_else(Zero::zero);
				ensure!(held == expected, what);
			}
			if !VotingOf::<T>::contains_key(&who) {
				ensure!(
					T::NativeBalance::balance_frozen(&FreezeReason::Voting.into(), &who).is_zero(),
					"voting freeze without votes"
				);
			}
		}

		// Asset escrow: each task's account holds exactly its pool and stakes (or, once
		// ended, what was stranded).
		for (task_id, (asset, expected)) in escrowed {
			let actual = Self::asset_balance(asset, &Self::task_account(task_id));
			ensure!(actual == expected, "task escrow differs from its unpaid pool and stakes");
		}
		Ok(())
	}
}
