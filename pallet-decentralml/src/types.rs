//! Types stored by the pallet and taken by its calls.

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use frame_support::{pallet_prelude::ConstU32, BoundedVec};
use scale_info::TypeInfo;

/// Identifier of a registered model.
pub type ModelId = u32;

/// Longest CID accepted, in bytes (a CIDv1 with a sha2-256 multihash is 36 bytes binary,
/// 59 characters in base32; 128 leaves room for other encodings and hash functions).
pub type MaxCidLen = ConstU32<128>;

/// A reference to content stored off chain (IPFS). The chain stores references only:
/// never model bytes, data or credentials.
#[derive(
	Clone, Encode, Decode, DecodeWithMemTracking, Eq, PartialEq, Debug, TypeInfo, MaxEncodedLen,
)]
pub struct ContentRef {
	/// The content identifier, as the UTF-8 bytes of its string form.
	pub cid: BoundedVec<u8, MaxCidLen>,
	/// sha256 of the content's bytes; every reader checks the bytes against it.
	pub digest: [u8; 32],
	/// Size of the content in bytes.
	pub size: u64,
}

/// Lifecycle of a model.
#[derive(
	Clone,
	Copy,
	Encode,
	Decode,
	DecodeWithMemTracking,
	Eq,
	PartialEq,
	Debug,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum ModelStatus {
	/// Usable: tasks may be created for it.
	Active,
	/// Retired by its owner; its deposit has been returned.
	Retired,
}

/// A registered model.
#[derive(Clone, Encode, Decode, Eq, PartialEq, Debug, TypeInfo, MaxEncodedLen)]
#[scale_info(skip_type_params(MaxName))]
pub struct Model<AccountId, Balance, BlockNumber, MaxName: frame_support::traits::Get<u32>> {
	/// Who registered the model and owns its metadata.
	pub owner: AccountId,
	/// Human-readable name (UTF-8).
	pub name: BoundedVec<u8, MaxName>,
	/// Architecture description file.
	pub architecture: ContentRef,
	/// Initial weights file.
	pub initial_weights: ContentRef,
	/// Current status.
	pub status: ModelStatus,
	/// Deposit held from the owner while the model is active.
	pub deposit: Balance,
	/// Block at which the model was registered.
	pub registered_at: BlockNumber,
}
