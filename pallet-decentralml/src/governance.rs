//! Governance: proposals, conviction votes, closing and enactment, vote unlocking, the safety
//! council's suspensions and their lapse, and protocol parameters.

use crate::{pallet::*, types::*, WeightInfo};
use frame_support::{
	ensure,
	pallet_prelude::*,
	traits::{
		fungible::{Inspect, MutateFreeze, MutateHold},
		tokens::{Fortitude, Precision},
	},
};
use frame_system::pallet_prelude::BlockNumberFor;
use sp_runtime::{
	traits::{CheckedAdd, Saturating, Zero},
	Perbill,
};

impl<T: Config> Pallet<T> {
	// ---------------------------------------------------------------------------------------
	// Parameters
	// ---------------------------------------------------------------------------------------

	/// Check that a set of protocol parameters is sane.
	pub fn validate_params(params: &ParamsOf<T>) -> DispatchResult {
		ensure!(params.aggregator_fee <= Perbill::from_percent(50), Error::<T>::InvalidParameter);
		ensure!(!params.voting_period.is_zero(), Error::<T>::InvalidParameter);
		ensure!(!params.aggregation_period.is_zero(), Error::<T>::InvalidParameter);
		ensure!(!params.task_idle_timeout.is_zero(), Error::<T>::InvalidParameter);
		ensure!(!params.ratification_period.is_zero(), Error::<T>::InvalidParameter);
		ensure!(!params.reveal_period.is_zero(), Error::<T>::InvalidParameter);
		ensure!(params.attestation_threshold > 0, Error::<T>::InvalidParameter);
		ensure!(params.standard_approval >= Perbill::from_percent(50), Error::<T>::InvalidParameter);
		ensure!(
			params.safety_approval > Perbill::from_percent(50) &&
				params.safety_approval >= params.standard_approval,
			Error::<T>::InvalidParameter
		);
		Ok(())
	}

	/// Apply `change` to `params` (unchecked).
	pub(crate) fn apply_change(params: &mut ParamsOf<T>, change: &ParameterChangeOf<T>) {
		match change.clone() {
			ParameterChange::AggregatorFee(v) => params.aggregator_fee = v,
			ParameterChange::NonSubmitSlash(v) => params.non_submit_slash = v,
			ParameterChange::AggregatorBond(v) => params.aggregator_bond = v,
			ParameterChange::ChallengeBond(v) => params.challenge_bond = v,
			ParameterChange::ProposalDeposit(v) => params.proposal_deposit = v,
			ParameterChange::MinTrainerStake(v) => params.min_trainer_stake = v,
			ParameterChange::VotingPeriod(v) => params.voting_period = v,
			ParameterChange::AggregationPeriod(v) => params.aggregation_period = v,
			ParameterChange::TaskIdleTimeout(v) => params.task_idle_timeout = v,
			ParameterChange::RatificationPeriod(v) => params.ratification_period = v,
			ParameterChange::StandardQuorum(v) => params.standard_quorum = v,
			ParameterChange::StandardApproval(v) => params.standard_approval = v,
			ParameterChange::SafetyQuorum(v) => params.safety_quorum = v,
			ParameterChange::SafetyApproval(v) => params.safety_approval = v,
			ParameterChange::RevealPeriod(v) => params.reveal_period = v,
			ParameterChange::VerifierBond(v) => params.verifier_bond = v,
			ParameterChange::AttestationThreshold(v) => params.attestation_threshold = v,
		}
	}

	fn model_not_retired(model_id: ModelId) -> Result<ModelOf<T>, DispatchError> {
		let model = Models::<T>::get(model_id).ok_or(Error::<T>::ModelNotFound)?;
		ensure!(model.status != ModelStatus::Retired, Error::<T>::ModelRetired);
		Ok(model)
	}

	/// Check a proposal kind against the current state.
	pub(crate) fn validate_kind(kind: &ProposalKindOf<T>) -> DispatchResult {
		match kind {
			ProposalKind::ApproveVersion { model, version } |
			ProposalKind::RejectVersion { model, version } => {
				ensure!(Models::<T>::contains_key(model), Error::<T>::ModelNotFound);
				let v = Versions::<T>::get(model, version).ok_or(Error::<T>::VersionNotFound)?;
				ensure!(v.status == VersionStatus::Proposed, Error::<T>::VersionNotProposed);
			},
			ProposalKind::SetLicence { model, licence } => {
				Self::model_not_retired(*model)?;
				Self::validate_licence(licence)?;
			},
			ProposalKind::SetJurisdictions { model, jurisdictions } => {
				Self::model_not_retired(*model)?;
				Self::validate_jurisdictions(jurisdictions)?;
			},
			ProposalKind::Safety { model, .. } => {
				Self::model_not_retired(*model)?;
			},
			ProposalKind::ResolveChallenge { .. } => return Err(Error::<T>::NotSubmittable.into()),
			ProposalKind::SetParameter(change) => {
				let mut params = Params::<T>::get();
				Self::apply_change(&mut params, change);
				Self::validate_params(&params)?;
			},
		}
		Ok(())
	}

	// ---------------------------------------------------------------------------------------
	// Proposals and votes
	// ---------------------------------------------------------------------------------------

	/// `who` submits a proposal of `kind`, holding the proposal deposit.
	pub fn do_submit_proposal(who: T::AccountId, kind: ProposalKindOf<T>) -> DispatchResult {
		Self::validate_kind(&kind)?;
		let params = Params::<T>::get();
		let proposal_id = NextProposalId::<T>::get();
		let next = proposal_id.checked_add(1).ok_or(Error::<T>::ProposalIdsExhausted)?;
		let deposit = params.proposal_deposit;
		if !deposit.is_zero() {
			T::NativeBalance::hold(&HoldReason::ProposalDeposit.into(), &who, deposit)
				.map_err(|_| Error::<T>::InsufficientDeposit)?;
		}
		let now = Self::now();
		let ends_at = now.saturating_add(params.voting_period);
		Proposals::<T>::insert(
			proposal_id,
			Proposal {
				proposer: who.clone(),
				deposit,
				kind,
				created_at: now,
				ends_at,
				tally: Tally::default(),
				status: ProposalStatus::Ongoing,
			},
		);
		NextProposalId::<T>::put(next);
		Self::deposit_event(Event::ProposalSubmitted { proposal_id, proposer: who, deposit, ends_at });
		Ok(())
	}

	fn largest_vote(votes: &VotesOf<T>) -> BalanceOf<T> {
		votes.iter().fold(Zero::zero(), |acc: BalanceOf<T>, v| acc.max(v.balance))
	}

	/// `who` votes on `proposal_id`.
	pub fn do_vote(
		who: T::AccountId,
		proposal_id: ProposalId,
		aye: bool,
		balance: BalanceOf<T>,
		conviction: Conviction,
	) -> DispatchResult {
		let mut proposal = Proposals::<T>::get(proposal_id).ok_or(Error::<T>::ProposalNotFound)?;
		let now = Self::now();
		ensure!(
			proposal.status == ProposalStatus::Ongoing && now <= proposal.ends_at,
			Error::<T>::VotingClosed
		);
		ensure!(!balance.is_zero(), Error::<T>::ZeroVote);
		ensure!(
			balance <= T::NativeBalance::total_balance(&who),
			Error::<T>::InsufficientVotingBalance
		);
		let mut votes = VotingOf::<T>::get(&who);
		ensure!(!votes.iter().any(|v| v.proposal == proposal_id), Error::<T>::AlreadyVoted);
		let weight = conviction.votes(balance);
		if aye {
			proposal.tally.ayes =
				proposal.tally.ayes.checked_add(&weight).ok_or(Error::<T>::Overflow)?;
		} else {
			proposal.tally.nays =
				proposal.tally.nays.checked_add(&weight).ok_or(Error::<T>::Overflow)?;
		}
		proposal.tally.support =
			proposal.tally.support.checked_add(&balance).ok_or(Error::<T>::Overflow)?;
		let lock = T::VoteLockingPeriod::get()
			.saturating_mul(BlockNumberFor::<T>::from(conviction.lock_periods()));
		let unlock_at = proposal.ends_at.saturating_add(lock);
		votes
			.try_push(VoteRecord { proposal: proposal_id, aye, balance, conviction, unlock_at })
			.map_err(|_| Error::<T>::TooManyVotes)?;
		T::NativeBalance::set_freeze(
			&FreezeReason::Voting.into(),
			&who,
			Self::largest_vote(&votes),
		)?;
		VotingOf::<T>::insert(&who, votes);
		Proposals::<T>::insert(proposal_id, proposal);
		Self::deposit_event(Event::Voted { proposal_id, voter: who, aye, balance, conviction });
		Ok(())
	}

	/// Close `proposal_id` after its voting period; enact it if it passed.
	pub fn do_close_proposal(proposal_id: ProposalId) -> DispatchResult {
		let mut proposal = Proposals::<T>::get(proposal_id).ok_or(Error::<T>::ProposalNotFound)?;
		ensure!(proposal.status == ProposalStatus::Ongoing, Error::<T>::ProposalNotOngoing);
		ensure!(Self::now() > proposal.ends_at, Error::<T>::VotingStillOpen);
		let params = Params::<T>::get();
		let (quorum, approval) = if proposal.kind.is_safety() {
			(params.safety_quorum, params.safety_approval)
		} else {
			(params.standard_quorum, params.standard_approval)
		};
		let tally = proposal.tally;
		let issuance = T::NativeBalance::total_issuance();
		let quorum_met = tally.support >= quorum.mul_ceil(issuance);
		let total = tally.ayes.saturating_add(tally.nays);
		let approved = quorum_met && tally.ayes > tally.nays && tally.ayes >= approval.mul_ceil(total);
		let status = if !quorum_met {
			ProposalStatus::NoQuorum
		} else if approved {
			ProposalStatus::Passed
		} else {
			ProposalStatus::Rejected
		};

		// Deposit: back on quorum, slashed (burned) otherwise.
		let deposit = proposal.deposit;
		if !deposit.is_zero() {
			let reason = HoldReason::ProposalDeposit.into();
			if quorum_met {
				let _ = T::NativeBalance::release(
					&reason,
					&proposal.proposer,
					deposit,
					Precision::BestEffort,
				);
				Self::deposit_event(Event::DepositRefunded {
					proposal_id,
					who: proposal.proposer.clone(),
					amount: deposit,
				});
			} else {
				let _ = T::NativeBalance::burn_held(
					&reason,
					&proposal.proposer,
					deposit,
					Precision::BestEffort,
					Fortitude::Force,
				);
				Self::deposit_event(Event::DepositSlashed {
					proposal_id,
					who: proposal.proposer.clone(),
					amount: deposit,
				});
			}
		}

		proposal.status = status;
		let kind = proposal.kind.clone();
		Proposals::<T>::insert(proposal_id, proposal);
		Self::deposit_event(Event::ProposalClosed { proposal_id, status, tally });

		match kind {
			ProposalKind::ResolveChallenge { task, round } =>
				Self::resolve_challenge(proposal_id, task, round, approved),
			kind if approved => {
				if let Err(error) =
					frame_support::storage::with_storage_layer(|| Self::enact(&kind))
				{
					Self::deposit_event(Event::ProposalEnactmentFailed { proposal_id, error });
				}
			},
			_ => {},
		}
		Ok(())
	}

	/// Carry out a passed proposal.
	pub(crate) fn enact(kind: &ProposalKindOf<T>) -> DispatchResult {
		match kind {
			ProposalKind::ApproveVersion { model, version } => {
				Self::set_version_status(*model, *version, VersionStatus::Approved)?;
				Models::<T>::try_mutate(model, |maybe| -> DispatchResult {
					let m = maybe.as_mut().ok_or(Error::<T>::ModelNotFound)?;
					m.latest_approved = Some(*version);
					Ok(())
				})?;
				Self::deposit_event(Event::VersionApproved { model_id: *model, version: *version });
			},
			ProposalKind::RejectVersion { model, version } => {
				Self::set_version_status(*model, *version, VersionStatus::Rejected)?;
				Self::deposit_event(Event::VersionRejected { model_id: *model, version: *version });
			},
			ProposalKind::SetLicence { model, licence } => {
				Self::validate_licence(licence)?;
				let mut m = Self::model_not_retired(*model)?;
				m.licence = licence.clone();
				Models::<T>::insert(model, m);
				Self::deposit_event(Event::LicenceSet { model_id: *model });
			},
			ProposalKind::SetJurisdictions { model, jurisdictions } => {
				Self::validate_jurisdictions(jurisdictions)?;
				let mut m = Self::model_not_retired(*model)?;
				m.jurisdictions = jurisdictions.clone();
				Models::<T>::insert(model, m);
				Self::deposit_event(Event::JurisdictionsSet {
					model_id: *model,
					count: jurisdictions.len() as u32,
				});
			},
			ProposalKind::Safety { model, action } => Self::apply_safety(*model, *action)?,
			ProposalKind::ResolveChallenge { .. } => return Err(Error::<T>::NotSubmittable.into()),
			ProposalKind::SetParameter(change) => {
				let mut params = Params::<T>::get();
				Self::apply_change(&mut params, change);
				Self::validate_params(&params)?;
				Params::<T>::put(params);
				Self::deposit_event(Event::ParameterChanged { change: change.clone() });
			},
		}
		Ok(())
	}

	fn set_version_status(
		model: ModelId,
		version: VersionId,
		status: VersionStatus,
	) -> DispatchResult {
		Versions::<T>::try_mutate(model, version, |maybe| {
			let v = maybe.as_mut().ok_or(Error::<T>::VersionNotFound)?;
			ensure!(v.status == VersionStatus::Proposed, Error::<T>::VersionNotProposed);
			v.status = status;
			Ok(())
		})
	}

	/// Apply a safety action to a model.
	fn apply_safety(model_id: ModelId, action: SafetyAction) -> DispatchResult {
		let mut model = Self::model_not_retired(model_id)?;
		match action {
			SafetyAction::Flag => {
				ensure!(model.status == ModelStatus::Active, Error::<T>::ActionNotApplicable);
				model.status = ModelStatus::Flagged;
			},
			SafetyAction::Suspend => {
				if model.status == ModelStatus::Suspended {
					// Ratify a council suspension.
					ensure!(model.pending_lapse.is_some(), Error::<T>::ActionNotApplicable);
					model.pending_lapse = None;
					Models::<T>::insert(model_id, model);
					Self::deposit_event(Event::SuspensionRatified { model_id });
					return Ok(());
				}
				model.status = ModelStatus::Suspended;
			},
			SafetyAction::Reinstate => {
				ensure!(
					matches!(model.status, ModelStatus::Flagged | ModelStatus::Suspended),
					Error::<T>::ActionNotApplicable
				);
				model.status = ModelStatus::Active;
				model.pending_lapse = None;
			},
			SafetyAction::Retire => Self::retire(model_id, &mut model),
		}
		let status = model.status;
		Models::<T>::insert(model_id, model);
		Self::deposit_event(Event::ModelStatusChanged { model_id, status });
		Ok(())
	}

	/// Remove `who`'s expired vote records and lower its freeze.
	pub fn do_unlock(who: T::AccountId) -> DispatchResult {
		let mut votes = VotingOf::<T>::get(&who);
		let before = votes.len();
		let now = Self::now();
		votes.retain(|v| {
			let closed = Proposals::<T>::get(v.proposal)
				.map(|p| p.status != ProposalStatus::Ongoing)
				.unwrap_or(true);
			!(closed && now >= v.unlock_at)
		});
		let removed = before.saturating_sub(votes.len()) as u32;
		ensure!(removed > 0, Error::<T>::NothingToUnlock);
		let frozen = Self::largest_vote(&votes);
		T::NativeBalance::set_freeze(&FreezeReason::Voting.into(), &who, frozen)?;
		if votes.is_empty() {
			VotingOf::<T>::remove(&who);
		} else {
			VotingOf::<T>::insert(&who, votes);
		}
		Self::deposit_event(Event::VotesUnlocked { who, removed, frozen });
		Ok(())
	}

	// ---------------------------------------------------------------------------------------
	// Safety council
	// ---------------------------------------------------------------------------------------

	/// Suspend `model_id` at once; it lapses unless ratified.
	pub fn do_council_suspend(model_id: ModelId) -> DispatchResult {
		let mut model = Models::<T>::get(model_id).ok_or(Error::<T>::ModelNotFound)?;
		ensure!(model.status != ModelStatus::Retired, Error::<T>::ModelRetired);
		ensure!(model.status != ModelStatus::Suspended, Error::<T>::ModelAlreadySuspended);
		let lapses_at = Self::now().saturating_add(Params::<T>::get().ratification_period);
		PendingLapses::<T>::try_mutate(lapses_at, |list| list.try_push(model_id))
			.map_err(|_| Error::<T>::TooManyLapsesAtBlock)?;
		model.pending_lapse = Some((lapses_at, model.status));
		model.status = ModelStatus::Suspended;
		Models::<T>::insert(model_id, model);
		Self::deposit_event(Event::ModelSuspendedByCouncil { model_id, lapses_at });
		Ok(())
	}

	/// Lapse the council suspensions due at `now` that were not ratified. Bounded by
	/// `MaxLapsesPerBlock`.
	pub(crate) fn do_process_lapses(now: BlockNumberFor<T>) -> Weight {
		if !PendingLapses::<T>::contains_key(now) {
			return T::WeightInfo::process_lapses(0);
		}
		let list = PendingLapses::<T>::take(now);
		let count = list.len() as u32;
		for model_id in list {
			Models::<T>::mutate(model_id, |maybe| {
				let Some(model) = maybe.as_mut() else { return };
				if let Some((at, previous)) = model.pending_lapse {
					if at == now && model.status == ModelStatus::Suspended {
						model.status = previous;
						model.pending_lapse = None;
						Self::deposit_event(Event::SuspensionLapsed { model_id, status: previous });
					}
				}
			});
		}
		T::WeightInfo::process_lapses(count)
	}
}
