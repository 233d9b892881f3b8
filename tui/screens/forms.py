"""Forms in steps (wizards): create task, new proposal, transfer, start a role process.

A form is a list of steps, each a list of fields. Enter moves to the next field (and the
next step); on the last field it validates everything with ``build``: a bad value is shown
inline under the form and nothing is sent. ``ctrl+b`` goes back a step, escape cancels.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from decentralml.core.chain.decentralml import TaskTerms, licence, proposal_kind
from decentralml.core.codes import country_codes, spdx_id
from decentralml.core.errors import DecentralMLError, InputError
from decentralml.core.privacy import PrivacyTerms
from decentralml.core.types import parse_amount
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import ContentSwitcher, Input, Label, Select

from ..views.actions import Action
from ..views.balances import transfer_action
from ..views.common import Token
from ..views.models import ModelRequest
from ..views.proposals import proposal_action
from ..views.tasks import create_task_action

T = TypeVar("T")


@dataclass(frozen=True)
class Field:
    id: str
    label: str
    default: str = ""
    placeholder: str = ""
    options: Sequence[tuple[str, Any]] | None = None
    """A Select with these (label, value) pairs instead of an Input."""
    when: Callable[[dict[str, Any]], bool] | None = None
    """Shown only when this holds for the values so far."""
    check: Callable[[str], object] | None = None
    """Validates an Input as it is typed: raises InputError with what is wrong (inline)."""


class FormScreen(ModalScreen[T | None], Generic[T]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="form.cancel"),
        Binding("ctrl+n", "next", "Next", id="form.next"),
        Binding("ctrl+b", "back", "Back", id="form.back"),
        Binding("ctrl+s", "finish", "Done", id="form.done"),
    ]
    TITLE_TEXT = "Form"

    def __init__(self, steps: Sequence[Sequence[Field]], title: str | None = None) -> None:
        super().__init__()
        self.steps = [list(s) for s in steps]
        self.fields = {f.id: f for fields in self.steps for f in fields}
        self.title_text = title or self.TITLE_TEXT
        self.step = 0

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog form"):
            yield Label(self.title_text, classes="dialog-title")
            yield Label("", id="step", classes="hint")
            with ContentSwitcher(initial="step-0", id="steps"):
                for n, fields in enumerate(self.steps):
                    with Vertical(id=f"step-{n}", classes="step"):
                        for f in fields:
                            yield Label(f.label, id=f"label-{f.id}", classes="field-label")
                            if f.options is not None:
                                yield Select(
                                    list(f.options),
                                    value=f.options[0][1] if f.default == "" else f.default,
                                    allow_blank=False,
                                    id=f.id,
                                )
                            else:
                                yield Input(f.default, placeholder=f.placeholder, id=f.id)
            yield Label("", id="error", classes="error")
            yield Label("enter/ctrl+n next  ctrl+b back  ctrl+s done  esc cancel", classes="hint")

    def on_mount(self) -> None:
        self._show_step()

    # ---- values ------------------------------------------------------------------------------
    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for fields in self.steps:
            for f in fields:
                widget = self.query_one(f"#{f.id}")
                if isinstance(widget, Input):
                    out[f.id] = widget.value.strip()
                elif isinstance(widget, Select):
                    out[f.id] = widget.value
        return out

    def _visible(self, f: Field, values: dict[str, Any]) -> bool:
        return f.when is None or f.when(values)

    def _show_step(self) -> None:
        values = self.values()
        self.query_one("#steps", ContentSwitcher).current = f"step-{self.step}"
        label = f"step {self.step + 1} of {len(self.steps)}" if len(self.steps) > 1 else ""
        self.query_one("#step", Label).update(label)
        first: Widget | None = None
        for f in self.steps[self.step]:
            visible = self._visible(f, values)
            self.query_one(f"#{f.id}").display = visible
            self.query_one(f"#label-{f.id}").display = visible
            if visible and first is None:
                first = self.query_one(f"#{f.id}")
        if first is not None:
            first.focus()

    def _next_field(self, current: Widget) -> None:
        values = self.values()
        fields = [f for f in self.steps[self.step] if self._visible(f, values)]
        ids = [f.id for f in fields]
        if current.id in ids and ids.index(current.id) < len(ids) - 1:
            self.query_one(f"#{ids[ids.index(current.id) + 1]}").focus()
        elif self.step < len(self.steps) - 1:
            self.step += 1
            self._show_step()
        else:
            self.action_finish()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self._check(event.input):
            self._next_field(event.input)

    def on_input_changed(self, event: Input.Changed) -> None:
        self._check(event.input)

    def _check(self, widget: Input) -> bool:
        """Run the field's inline check: show what is wrong under the form, or clear it."""
        field = self.fields.get(widget.id or "")
        if field is None or field.check is None:
            return True
        error = self.query_one("#error", Label)
        try:
            if widget.value.strip():
                field.check(widget.value.strip())
        except DecentralMLError as exc:
            widget.add_class("-invalid")
            error.update(str(exc))
            return False
        widget.remove_class("-invalid")
        error.update("")
        return True

    def on_select_changed(self, event: Select.Changed) -> None:
        self._show_step_fields()

    def _show_step_fields(self) -> None:
        values = self.values()
        for f in self.steps[self.step]:
            visible = self._visible(f, values)
            self.query_one(f"#{f.id}").display = visible
            self.query_one(f"#label-{f.id}").display = visible

    # ---- actions ------------------------------------------------------------------------------
    def action_next(self) -> None:
        if self.step < len(self.steps) - 1:
            self.step += 1
            self._show_step()
        else:
            self.action_finish()

    def action_back(self) -> None:
        if self.step > 0:
            self.step -= 1
            self._show_step()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_finish(self) -> None:
        try:
            result = self.build(self.values())
        except (DecentralMLError, ValueError, KeyError) as exc:
            message = str(exc) if isinstance(exc, DecentralMLError) else f"invalid value: {exc}"
            self.query_one("#error", Label).update(message)
            return
        self.dismiss(result)

    def build(self, values: dict[str, Any]) -> T:
        raise NotImplementedError


def _int(values: dict[str, Any], key: str, what: str, minimum: int = 0) -> int:
    text = str(values.get(key, "")).strip()
    if not text.isdigit():
        raise InputError(f"{what} must be a whole number, got {text!r}")
    value = int(text)
    if value < minimum:
        raise InputError(f"{what} must be at least {minimum}")
    return value


def _amount(values: dict[str, Any], key: str, what: str, token: Token) -> int:
    text = str(values.get(key, ""))
    try:
        return parse_amount(text, token.decimals)
    except InputError as exc:
        raise InputError(f"{what}: {exc}") from None


class TaskWizard(FormScreen[Action]):
    """Create a task: model and reward asset, then money, then the schedule."""

    TITLE_TEXT = "New training task"

    def __init__(self, models: Sequence[tuple[int, str]], tokens: Sequence[Token]) -> None:
        self.tokens = {t.asset: t for t in tokens}
        model_options = [(f"{mid}: {name}", mid) for mid, name in models] or [("no models", -1)]
        steps = [
            [
                Field("model", "Model", options=model_options),
                Field(
                    "asset",
                    "Reward asset",
                    options=[
                        (
                            f"{t.symbol} ({'native' if t.asset is None else f'asset {t.asset}'})",
                            t.asset if t.asset is not None else -1,
                        )
                        for t in tokens
                    ],
                ),
            ],
            [
                Field("reward", "Reward per round", "1", "e.g. 1.5"),
                Field("rounds", "Rounds", "3"),
                Field("stake", "Trainer stake", "0.1"),
            ],
            [
                Field("min_trainers", "Min trainers", "1"),
                Field("max_trainers", "Max trainers", "10"),
                Field("round_length", "Round length (blocks)", "20"),
                Field("challenge_window", "Challenge window (blocks)", "5"),
                Field(
                    "aggregation",
                    "Aggregation",
                    options=[
                        ("Median-aligned FedAvg (robust default)", "aligned"),
                        ("Median-bounded FedAvg", "bounded"),
                        ("FedAvg", "fedavg"),
                        ("Coordinate median", "median"),
                        ("Trimmed mean 10%", "trimmed:10"),
                        ("Norm-clipped FedAvg", "clip:1000000"),
                    ],
                ),
                Field(
                    "jurisdictions",
                    "Jurisdictions (blank: anywhere)",
                    "",
                    "DE FR",
                    check=country_codes,
                ),
            ],
            [
                Field(
                    "privacy",
                    "Privacy",
                    options=[
                        ("None", "none"),
                        ("DP-SGD in each trainer (example-level)", "dp-sgd"),
                        ("DP-FedAvg (noise on the aggregate)", "dp-fedavg"),
                        ("Secure aggregation (needs norm-clipped FedAvg)", "secagg"),
                    ],
                ),
            ],
            [
                Field("max_epsilon", "Max epsilon", "8", when=_dp_mode),
                Field("delta", "Delta", "1e-5", when=_dp_mode),
            ],
        ]
        super().__init__(steps)

    def build(self, values: dict[str, Any]) -> Action:
        model = values["model"]
        if not isinstance(model, int) or model < 0:
            raise InputError("register a model first (decentralml model register)")
        asset = values["asset"]
        asset_id = None if asset in (-1, None) else int(asset)
        token = self.tokens.get(asset_id)
        if token is None:
            raise InputError(f"unknown asset {asset_id}")
        terms = TaskTerms(
            reward_per_round=_amount(values, "reward", "reward per round", token),
            total_rounds=_int(values, "rounds", "rounds", 1),
            min_trainers=_int(values, "min_trainers", "min trainers", 1),
            max_trainers=_int(values, "max_trainers", "max trainers", 1),
            trainer_stake=_amount(values, "stake", "trainer stake", token),
            round_length=_int(values, "round_length", "round length", 1),
            challenge_window=_int(values, "challenge_window", "challenge window", 1),
            aggregation=str(values["aggregation"]),
            asset=asset_id,
            jurisdictions=tuple(country_codes(str(values["jurisdictions"]))),
            privacy=_privacy_terms(values),
        )
        if terms.reward_per_round <= 0:
            raise InputError("reward per round must be positive")
        return create_task_action(model, terms, token)


def _dp_mode(values: dict[str, Any]) -> bool:
    return values.get("privacy") in ("dp-sgd", "dp-fedavg")


def _privacy_terms(values: dict[str, Any]) -> PrivacyTerms:
    mode = str(values.get("privacy") or "none")
    if mode not in ("dp-sgd", "dp-fedavg"):
        return PrivacyTerms(mode)
    try:
        return PrivacyTerms(
            mode,
            max_epsilon=float(str(values.get("max_epsilon") or "")),
            delta=float(str(values.get("delta") or "1e-5")),
        )
    except ValueError:
        raise InputError("max epsilon and delta must be numbers (say 8 and 1e-5)") from None


PROPOSAL_KINDS = (
    ("Approve a model version", "approve-version"),
    ("Reject a model version", "reject-version"),
    ("Set a model's licence", "licence"),
    ("Set a model's jurisdictions", "jurisdictions"),
    ("Safety action on a model", "safety"),
)


class ProposalWizard(FormScreen[Action]):
    TITLE_TEXT = "New proposal"

    def __init__(self, models: Sequence[tuple[int, str]], deposit: int, native: Token) -> None:
        self.deposit = deposit
        self.native = native
        model_options = [(f"{mid}: {name}", mid) for mid, name in models] or [("no models", -1)]

        def kind_is(*kinds: str) -> Callable[[dict[str, Any]], bool]:
            return lambda v: v.get("kind") in kinds

        steps = [
            [
                Field("kind", "Kind", options=PROPOSAL_KINDS),
                Field("model", "Model", options=model_options),
            ],
            [
                Field("version", "Version", "0", when=kind_is("approve-version", "reject-version")),
                Field(
                    "spdx",
                    "SPDX licence id",
                    "Apache-2.0",
                    when=kind_is("licence"),
                    check=spdx_id,
                ),
                Field(
                    "commercial",
                    "Commercial use",
                    options=[("no", False), ("yes", True)],
                    when=kind_is("licence"),
                ),
                Field(
                    "codes",
                    "Jurisdictions (blank: anywhere)",
                    "",
                    "DE FR",
                    when=kind_is("jurisdictions"),
                    check=country_codes,
                ),
                Field(
                    "action",
                    "Safety action",
                    options=[
                        (a.capitalize(), a) for a in ("flag", "suspend", "reinstate", "retire")
                    ],
                    when=kind_is("safety"),
                ),
            ],
        ]
        super().__init__(steps)

    def build(self, values: dict[str, Any]) -> Action:
        kind = str(values["kind"])
        model = values["model"]
        if not isinstance(model, int) or model < 0:
            raise InputError("there is no model to propose about")
        if kind in ("approve-version", "reject-version"):
            value = proposal_kind(kind, model=model, version=_int(values, "version", "version"))
        elif kind == "licence":
            value = proposal_kind(
                kind,
                model=model,
                licence=licence(
                    spdx_id(str(values["spdx"])), commercial_use=bool(values["commercial"])
                ),
            )
        elif kind == "jurisdictions":
            codes = country_codes(str(values["codes"]))
            value = proposal_kind(kind, model=model, jurisdictions=codes)
        else:
            value = proposal_kind(kind, model=model, action=str(values["action"]))
        return proposal_action(value, self.deposit)


class TransferForm(FormScreen[Action]):
    TITLE_TEXT = "Transfer"

    def __init__(self, tokens: Sequence[Token]) -> None:
        self.tokens = {(-1 if t.asset is None else t.asset): t for t in tokens}
        steps = [
            [
                Field("dest", "To (SS58 address)", "", "5F…"),
                Field(
                    "asset",
                    "Asset",
                    options=[(f"{t.symbol}", k) for k, t in self.tokens.items()],
                ),
                Field("amount", "Amount", "", "e.g. 1.5"),
            ]
        ]
        super().__init__(steps)

    def build(self, values: dict[str, Any]) -> Action:
        token = self.tokens.get(values["asset"])
        if token is None:
            raise InputError(f"unknown asset {values['asset']}")
        return transfer_action(
            str(values["dest"]), _amount(values, "amount", "amount", token), token
        )


@dataclass(frozen=True)
class RoleRequest:
    role: str
    task: int
    data: str


class StartRoleForm(FormScreen[RoleRequest]):
    TITLE_TEXT = "Start a local role process"

    def __init__(self, task: int | None = None) -> None:
        steps = [
            [
                Field(
                    "role",
                    "Role",
                    options=[
                        ("Trainer", "train"),
                        ("Aggregator", "aggregate"),
                        ("Verifier", "verify"),
                    ],
                ),
                Field("task", "Task id", "" if task is None else str(task)),
                Field(
                    "data",
                    "Dataset path",
                    "",
                    "data.csv / data.npz / image folder",
                    when=lambda v: v.get("role") in ("train", "verify"),
                ),
            ]
        ]
        super().__init__(steps)

    def build(self, values: dict[str, Any]) -> RoleRequest:
        role = str(values["role"])
        data = str(values.get("data", ""))
        if role != "aggregate" and not data:
            raise InputError("a trainer or verifier needs a dataset path")
        return RoleRequest(role, _int(values, "task", "task id"), data)


def existing_file(text: str) -> Path:
    path = Path(text.strip()).expanduser()
    if not text.strip():
        raise InputError("give the path of a local file")
    if not path.is_file():
        raise InputError(f"no readable file at {path}")
    return path


MAX_NAME_BYTES = 256
"""The call's bound on a model name (the runtime may allow fewer: its error says so)."""


def model_name(text: str) -> str:
    name = text.strip()
    if not name:
        raise InputError("a model needs a name")
    if len(name.encode()) > MAX_NAME_BYTES:
        raise InputError(f"a model name has at most {MAX_NAME_BYTES} bytes")
    return name


class ModelWizard(FormScreen[ModelRequest]):
    """Register a model: files, licence, then flags and jurisdictions.

    Only local checks here; the upload (to the configured IPFS node) happens after the
    wizard, then the usual fee estimate, balance check and confirmation.
    """

    TITLE_TEXT = "Register a model"

    def __init__(self) -> None:
        def custom(values: dict[str, Any]) -> bool:
            return values.get("terms") == "custom"

        steps = [
            [
                Field("name", "Name", "", "e.g. digits-mlp", check=model_name),
                Field(
                    "architecture",
                    "Architecture spec file",
                    "",
                    "path, e.g. model.json",
                    check=existing_file,
                ),
                Field(
                    "weights",
                    "Initial weights file",
                    "",
                    "path, e.g. weights.npz",
                    check=existing_file,
                ),
            ],
            [
                Field(
                    "terms",
                    "Licence",
                    options=[("SPDX licence id", "spdx"), ("Custom terms (a file)", "custom")],
                ),
                Field(
                    "spdx",
                    "SPDX licence id",
                    "Apache-2.0",
                    "e.g. MIT",
                    when=lambda v: not custom(v),
                    check=spdx_id,
                ),
                Field(
                    "custom",
                    "Custom terms file (uploaded, referenced by CID)",
                    "",
                    "path, e.g. LICENCE.txt",
                    when=custom,
                    check=existing_file,
                ),
            ],
            [
                Field("commercial", "Commercial use", options=[("no", False), ("yes", True)]),
                Field("attribution", "Attribution", options=[("yes", True), ("no", False)]),
                Field(
                    "jurisdictions",
                    "Allowed jurisdictions (ISO 3166-1 alpha-2; blank: anywhere)",
                    "",
                    "DE FR",
                    check=country_codes,
                ),
            ],
        ]
        super().__init__(steps)

    def build(self, values: dict[str, Any]) -> ModelRequest:
        is_custom = values["terms"] == "custom"
        return ModelRequest(
            name=model_name(str(values["name"])),
            architecture=existing_file(str(values["architecture"])),
            weights=existing_file(str(values["weights"])),
            spdx=None if is_custom else spdx_id(str(values["spdx"])),
            custom_terms=existing_file(str(values["custom"])) if is_custom else None,
            commercial_use=bool(values["commercial"]),
            attribution=bool(values["attribution"]),
            jurisdictions=tuple(country_codes(str(values["jurisdictions"]))),
        )
