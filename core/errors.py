"""The one error hierarchy of DecentralML.

Every error the core raises derives from :class:`DecentralMLError` and carries a message a
person can act on (what failed and what to do). The CLI prints ``str(error)`` as its one-line
reason and exits non-zero.
"""

from __future__ import annotations


class DecentralMLError(Exception):
    """Root of every DecentralML error."""

    kind = "error"


class ConfigError(DecentralMLError):
    """The configuration file, an environment override or a flag is invalid."""

    kind = "config"


class InputError(DecentralMLError):
    """A value given by the user is malformed (an amount, an address, a JSON argument)."""

    kind = "input"


class KeystoreError(DecentralMLError):
    """Base of key and keystore errors."""

    kind = "key"


class UnknownAccount(KeystoreError):
    """No account with this name or address is in the keystore."""


class WrongPassword(KeystoreError):
    """The password does not decrypt the key file."""


class InvalidKeyFile(KeystoreError):
    """A key file is not a valid Polkadot-JS account export."""


class DevAccountRefused(KeystoreError):
    """A well-known dev key (//Alice ...) was requested on a chain that is not a dev chain."""


class ChainError(DecentralMLError):
    """The chain could not be reached, or answered with an RPC error."""

    kind = "chain"


class NodeUnreachable(ChainError):
    """The node's RPC endpoint did not answer (after retries)."""


class UnknownCall(ChainError):
    """The runtime's metadata has no such pallet, call or storage item."""


class SubmissionRejected(ChainError):
    """The transaction pool refused the extrinsic (bad nonce, cannot pay fees, invalid ...)."""


class ExtrinsicFailed(ChainError):
    """An extrinsic was included in a block but its dispatch failed.

    ``pallet`` and ``error`` name the runtime error (for example ``DecentralMl`` /
    ``NotModelOwner``) and ``docs`` is the error's documentation from the metadata.
    """

    kind = "dispatch"

    def __init__(
        self,
        pallet: str,
        error: str,
        docs: str,
        *,
        extrinsic_hash: str = "",
        block_hash: str = "",
    ) -> None:
        self.pallet = pallet
        self.error = error
        self.docs = docs
        self.extrinsic_hash = extrinsic_hash
        self.block_hash = block_hash
        where = f"{pallet}.{error}" if pallet else error
        text = f"extrinsic failed: {where}"
        if docs:
            text += f": {docs}"
        super().__init__(text)


class StorageError(DecentralMLError):
    """The content store (IPFS) could not be reached or refused a request."""

    kind = "storage"


class StoreUnreachable(StorageError):
    """The IPFS RPC endpoint did not answer (after retries)."""


class IntegrityError(StorageError):
    """Bytes read from the content store do not match their CID or their sha256 digest."""

    kind = "integrity"


class TrainingError(DecentralMLError):
    """Local training failed (or TensorFlow Federated is not installed)."""

    kind = "training"


class Cancelled(DecentralMLError):
    """The caller declined after the fee estimate (or asked for a dry run): nothing was sent."""

    kind = "cancelled"


class ModelSpecError(TrainingError):
    """A model specification (the architecture file) is malformed or inconsistent."""


class UpdateRejected(TrainingError):
    """A weights file or model update is malformed, non-finite or does not match the model.

    ``reason`` is the one-line reason recorded when the update is left out; ``index`` is the
    update's position in the list given to ``aggregate`` when the aggregator rejected it.
    """

    def __init__(self, reason: str, *, index: int | None = None) -> None:
        self.reason = reason
        self.index = index
        super().__init__(reason if index is None else f"update {index}: {reason}")


class DatasetMismatch(TrainingError):
    """A local dataset cannot be read or does not match the model's declared schema."""
