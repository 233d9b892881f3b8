"""The models panel's records (models, versions, a registration request) and the
registration action, which uploads the wizard's files first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from decentralml.core.types import ContentRef

from .actions import Action
from .common import PALLET


@dataclass(frozen=True)
class ModelRow:
    id: int
    name: str
    owner: str
    status: str
    licence: str
    jurisdictions: tuple[str, ...]
    next_version: int
    latest_approved: int | None


@dataclass(frozen=True)
class VersionRow:
    model: int
    version: int
    status: str
    cid: str
    task: int | None
    round: int | None
    loss: float | None
    accuracy: float | None


@dataclass(frozen=True)
class ModelRequest:
    """A model registration as the wizard collected it: local files, not yet uploaded."""

    name: str
    architecture: Path
    weights: Path
    spdx: str | None
    """A canonical SPDX id, or None for custom terms (``custom_terms``)."""
    custom_terms: Path | None
    commercial_use: bool
    attribution: bool
    jurisdictions: tuple[str, ...]


def register_model_action(
    request: ModelRequest,
    architecture: ContentRef,
    weights: ContentRef,
    licence: dict[str, Any],
    deposit: int,
) -> Action:
    """``register_model`` with the uploaded files (core ``model_registration`` builds the call)."""
    from decentralml.core.chain.decentralml import model_registration

    params = model_registration(
        request.name,
        architecture,
        weights,
        licence=licence,
        jurisdictions=request.jurisdictions,
    )
    terms = request.spdx or "custom terms"
    flags = (
        f"commercial use {'yes' if request.commercial_use else 'no'}, "
        f"attribution {'yes' if request.attribution else 'no'}"
    )
    return Action(
        f"Register model {request.name!r}",
        PALLET,
        "register_model",
        params,
        amount=deposit,
        effect="held as deposit while the model is not retired",
        details=(
            f"architecture {architecture.cid[:24]}… ({architecture.size:,} bytes)",
            f"weights {weights.cid[:24]}… ({weights.size:,} bytes)",
            f"licence {terms}; {flags}",
            f"jurisdictions {' '.join(request.jurisdictions) or 'anywhere'}",
            "the files are on IPFS already: cancelling leaves them unreferenced (harmless)",
        ),
    )


class Uploads(Protocol):
    """What a registration needs of a backend (every ``Backend`` has it)."""

    def upload(self, path: Path) -> ContentRef: ...
    def model_deposit(self) -> int: ...


def registration_action(backend: Uploads, request: ModelRequest) -> Action:
    """Upload the wizard's files to the configured IPFS node, then build the registration.

    Blocking. If an upload fails nothing has been sent (the error says what to do); if the
    extrinsic later fails or is cancelled, the uploaded files are merely unreferenced.
    """
    from decentralml.core.chain.decentralml import licence

    architecture = backend.upload(request.architecture)
    weights = backend.upload(request.weights)
    custom = None if request.custom_terms is None else backend.upload(request.custom_terms)
    terms = licence(
        request.spdx,
        custom,
        commercial_use=request.commercial_use,
        attribution=request.attribution,
    )
    return register_model_action(request, architecture, weights, terms, backend.model_deposit())
