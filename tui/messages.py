"""Messages the app sends to its panels."""

from __future__ import annotations

from textual.message import Message


class ChainChanged(Message, bubble=False):
    """New blocks arrived (or an action was included): what they touched.

    ``full`` means 'reload everything' (first connection, reconnection after an outage,
    or too many changes to patch in place).
    """

    def __init__(
        self,
        block: int | None,
        *,
        tasks: frozenset[int] = frozenset(),
        proposals: frozenset[int] = frozenset(),
        models: frozenset[int] = frozenset(),
        money: bool = False,
        full: bool = False,
    ) -> None:
        super().__init__()
        self.block = block
        self.tasks = tasks
        self.proposals = proposals
        self.models = models
        self.money = money
        self.full = full

    def copy(self) -> ChainChanged:
        return ChainChanged(
            self.block,
            tasks=self.tasks,
            proposals=self.proposals,
            models=self.models,
            money=self.money,
            full=self.full,
        )
