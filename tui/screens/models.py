"""Models: the registry with licence, jurisdictions and status; versions; registering a model."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from ..messages import ChainChanged
from ..views.models import ModelRequest, ModelRow, VersionRow, registration_action
from ..widgets.table import Column, Row, VirtualTable
from .base import Panel

STATUS_STYLE = {"Active": "green", "Flagged": "yellow", "Suspended": "red", "Retired": "dim"}

COLUMNS = [
    Column("ID", 4, right=True),
    Column("NAME", 0),
    Column("STATUS", 9),
    Column("LICENCE", 12),
    Column("JURISDICTIONS", 14),
    Column("VERS", 4, right=True),
    Column("APPROVED", 8, right=True),
]


class ModelsScreen(Panel):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "register", "Register", id="models.register"),
        Binding("r", "reload", "Reload", id="models.reload"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.all: dict[int, ModelRow] = {}
        self.loaded = False

    def compose_body(self) -> ComposeResult:
        yield VirtualTable(COLUMNS, empty="loading models…", id="models")
        yield Static("", id="versions", classes="section versions")

    def on_mount(self) -> None:
        self.query_one("#models", VirtualTable).focus()
        self.load_if_connected()

    def chain_changed(self, message: ChainChanged) -> None:
        if message.full or message.models or not self.loaded:
            self.request_load()

    def action_reload(self) -> None:
        self.request_load()

    @work(thread=True, exclusive=True, group="models-load", exit_on_error=False)
    def start_load(self) -> None:
        try:
            rows = self.backend.models()
            self.app.call_from_thread(self._loaded, rows)
        finally:
            self.load_finished()

    def _loaded(self, rows: list[ModelRow]) -> None:
        self.all = {m.id: m for m in rows}
        self.loaded = True
        table = self.query_one("#models", VirtualTable)
        table.empty = "no models registered (n: register one)"
        table.set_rows(
            [
                Row(
                    m.id,
                    (
                        str(m.id),
                        m.name,
                        Text(m.status, style=STATUS_STYLE.get(m.status, "")),
                        m.licence or "-",
                        " ".join(m.jurisdictions) or "anywhere",
                        str(m.next_version),
                        "-" if m.latest_approved is None else f"v{m.latest_approved}",
                    ),
                )
                for m in rows
            ]
        )
        if table.current_key is not None:
            self.load_versions(table.current_key)

    def on_virtual_table_highlighted(self, event: VirtualTable.Highlighted) -> None:
        if event.key is not None and self.loaded:
            self.load_versions(event.key)

    @work(thread=True, exclusive=True, group="models-versions", exit_on_error=False)
    def load_versions(self, model_id: int) -> None:
        versions = self.backend.versions(model_id)
        self.app.call_from_thread(self._versions, model_id, versions)

    def _versions(self, model_id: int, versions: list[VersionRow]) -> None:
        model = self.all.get(model_id)
        title = f"[b]Versions of model {model_id}[/b]" + (f" ({model.name})" if model else "")
        lines = [title]
        for v in versions:
            metrics = ""
            if v.loss is not None:
                metrics = f"loss {v.loss:.4f} acc {v.accuracy or 0:.3f}"
            origin = f"task {v.task} round {v.round}" if v.task is not None else ""
            lines.append(f"  v{v.version:<3} {v.status:9} {origin:18} {metrics}  {v.cid[:20]}")
        if not versions:
            lines.append("  none yet (a completed task proposes one)")
        self.query_one("#versions", Static).update("\n".join(lines))

    # ---- registering a model ------------------------------------------------------------------
    def action_register(self) -> None:
        from .forms import ModelWizard

        def made(request: Any) -> None:
            if isinstance(request, ModelRequest):
                # Unlock first: a wrong password should cost nothing, not even an upload.
                purpose = f"register model {request.name!r}"
                self.capp.unlock_then(lambda: self.upload_and_register(request), purpose)

        self.app.push_screen(ModelWizard(), made)

    @work(thread=True, exclusive=True, group="models-register", exit_on_error=False)
    def upload_and_register(self, request: ModelRequest) -> None:
        """Upload the files (a failure sends nothing), then the usual confirm-and-send."""
        self.app.call_from_thread(
            self.notify, f"uploading the files of {request.name!r} to IPFS…", timeout=3
        )
        action = registration_action(self.backend, request)
        self.app.call_from_thread(self.capp.submit_action, action)
