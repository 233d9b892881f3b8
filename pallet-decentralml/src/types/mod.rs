//! Types stored by the pallet and taken by its calls, by concern: identifiers and content
//! references here, then [`models`], [`tasks`], [`rounds`], [`params`] and [`governance`].

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use frame_support::{pallet_prelude::ConstU32, traits::Get, BoundedVec};
use scale_info::TypeInfo;
use sp_runtime::Perbill;

mod governance;
mod models;
mod params;
mod rounds;
mod tasks;

pub use governance::*;
pub use models::*;
pub use params::*;
pub use rounds::*;
pub use tasks::*;

/// Identifier of a registered model.
pub type ModelId = u32;
/// Number of a model version, counted per model from 0.
pub type VersionId = u32;
/// Identifier of a training task.
pub type TaskId = u32;
/// Index of a round within its task, counted from 0.
pub type RoundIndex = u32;
/// Identifier of a governance proposal.
pub type ProposalId = u32;

/// Longest CID the types can carry, in bytes (a CIDv1 with a sha2-256 multihash is 59
/// characters in base32; 128 leaves room for other encodings and hash functions). The length
/// actually accepted is [`crate::Config::MaxCidLen`], at most this.
pub type MaxCidLen = ConstU32<128>;
/// Longest SPDX licence identifier, in bytes.
pub type MaxSpdxLen = ConstU32<64>;
/// Most jurisdictions a model or task may list.
pub type MaxJurisdictions = ConstU32<32>;

/// An ISO 3166-1 alpha-2 country code: two uppercase ASCII letters, e.g. `*b"DE"`.
pub type Jurisdiction = [u8; 2];
/// A bounded list of jurisdictions. Empty means "no restriction".
pub type Jurisdictions = BoundedVec<Jurisdiction, MaxJurisdictions>;

/// A reference to content stored off chain (IPFS). The chain stores references only:
/// never model bytes, data or credentials.
#[derive(
	Clone, Encode, Decode, DecodeWithMemTracking, Eq, PartialEq, Debug, TypeInfo, MaxEncodedLen,
)]
pub struct ContentRef {
	/// The content identifier, as the ASCII bytes of its string form (base32 or base58).
	pub cid: BoundedVec<u8, MaxCidLen>,
	/// sha256 of the content's bytes; every reader checks the bytes against it.
	pub digest: [u8; 32],
	/// Size of the content in bytes.
	pub size: u64,
}

/// Fixed-point training metrics reported with an update or an aggregate.
#[derive(
	Clone,
	Copy,
	Default,
	Encode,
	Decode,
	DecodeWithMemTracking,
	Eq,
	PartialEq,
	Debug,
	TypeInfo,
	MaxEncodedLen,
)]
pub struct Metrics {
	/// Loss in millionths (fixed point with 6 decimals): 1.25 is 1_250_000.
	pub loss_micros: u64,
	/// Accuracy as a fraction.
	pub accuracy: Perbill,
}

/// The terms of a model's licence.
#[derive(
	Clone, Encode, Decode, DecodeWithMemTracking, Eq, PartialEq, Debug, TypeInfo, MaxEncodedLen,
)]
pub enum LicenceTerms {
	/// An SPDX licence identifier such as `Apache-2.0` or `CC-BY-4.0`.
	Spdx(BoundedVec<u8, MaxSpdxLen>),
	/// Custom terms, by content reference.
	Custom(ContentRef),
}

/// A model's licence: terms plus flags clients can act on without reading the terms.
#[derive(
	Clone, Encode, Decode, DecodeWithMemTracking, Eq, PartialEq, Debug, TypeInfo, MaxEncodedLen,
)]
pub struct Licence {
	/// The licence text or identifier.
	pub terms: LicenceTerms,
	/// Commercial use is allowed.
	pub commercial_use: bool,
	/// Attribution is required.
	pub attribution: bool,
	/// Derived weights must be shared under the same terms.
	pub share_alike: bool,
}
