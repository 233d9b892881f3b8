"""The chain client against a real node-decentralml --dev (no fakes)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from decentralml.core.chain.client import CallSpec, ChainClient
from decentralml.core.chain.decentralml import DecentralMl, licence
from decentralml.core.errors import (
    Cancelled,
    DecentralMLError,
    DevAccountRefused,
    ExtrinsicFailed,
    InputError,
    NodeUnreachable,
    UnknownCall,
)
from decentralml.core.keys import dev_keypair
from decentralml.core.retry import RetryPolicy
from decentralml.core.types import BlockHeader, ChainEvent, ChainType, ContentRef
from substrateinterface import Keypair

from .devnode import DevNode, free_port

pytestmark = pytest.mark.chain

UNIT = 10**12


@pytest.fixture(scope="module")
def chain(dev_node: DevNode):
    with ChainClient(dev_node.ws_url) as client:
        yield client


def dev(uri: str) -> Keypair:
    return dev_keypair(uri, ChainType.DEVELOPMENT)


def fake_ref(tag: str, size: int = 100) -> ContentRef:
    return ContentRef(f"bafkrei{tag}", bytes([len(tag)]) * 32, size)


def register(chain: ChainClient, signer: Keypair, name: str) -> int:
    dml = DecentralMl(chain)
    model_id, _ = dml.register_model(
        signer, name, fake_ref("arch"), fake_ref("weights"), licence=licence("Apache-2.0")
    )
    return model_id


def test_identity(chain: ChainClient) -> None:
    assert chain.chain_type() is ChainType.DEVELOPMENT
    assert chain.token() == ("DML", 12)
    info = chain.info()
    assert info["spec_name"] == "decentralml"
    assert "DecentralMl" in info["pallets"]
    assert info["best_block"] >= info["finalized_block"] >= 0


def test_transfer_receipt_fee_and_balances(chain: ChainClient) -> None:
    alice, dest = dev("//Alice"), dev("//CoreTransferDest")
    before = chain.native_balance(alice.ss58_address)
    seen: list[int] = []

    def on_fee(fee) -> bool:  # type: ignore[no-untyped-def]
        seen.append(fee.partial_fee)
        return True

    receipt = chain.transfer(alice, dest.ss58_address, 3 * UNIT, on_fee=on_fee)
    assert seen and seen[0] > 0
    assert receipt.fee > 0
    # The estimate is the fee actually charged (no tip, same length and weight).
    assert abs(receipt.fee - seen[0]) <= seen[0] // 10
    (transfer,) = receipt.find("Balances", "Transfer")
    assert transfer.attributes == {
        "from": alice.ss58_address,
        "to": dest.ss58_address,
        "amount": 3 * UNIT,
    }
    after = chain.native_balance(alice.ss58_address)
    assert after.free == before.free - 3 * UNIT - receipt.fee
    assert after.nonce == before.nonce + 1
    assert chain.native_balance(dest.ss58_address).free == 3 * UNIT


def test_failed_dispatch_raises_with_pallet_error_name_and_docs(chain: ChainClient) -> None:
    eve, ferdie = dev("//Eve"), dev("//Ferdie")
    model_id = register(chain, eve, "core-owned-by-eve")
    before = chain.native_balance(ferdie.ss58_address)
    with pytest.raises(ExtrinsicFailed) as info:
        DecentralMl(chain).retire_model(ferdie, model_id)
    error = info.value
    assert (error.pallet, error.error) == ("DecentralMl", "NotModelOwner")
    assert "owner" in error.docs.lower()
    assert error.extrinsic_hash.startswith("0x") and error.block_hash.startswith("0x")
    # The failed extrinsic paid its fee and changed nothing else.
    assert DecentralMl(chain).model(model_id).status == "Active"  # type: ignore[union-attr]
    after = chain.native_balance(ferdie.ss58_address)
    assert after.reserved == before.reserved
    assert after.free < before.free


def test_token_errors_are_named(chain: ChainClient) -> None:
    bob, charlie = dev("//Bob"), dev("//Charlie")
    too_much = chain.native_balance(bob.ss58_address).free * 2
    with pytest.raises(ExtrinsicFailed) as info:
        chain.transfer(bob, charlie.ss58_address, too_much)
    assert info.value.error in {"FundsUnavailable", "InsufficientBalance"}
    assert info.value.docs


def test_unknown_calls_and_bad_arguments_fail_before_sending(chain: ChainClient) -> None:
    alice = dev("//Alice")
    nonce = chain.native_balance(alice.ss58_address).nonce
    with pytest.raises(UnknownCall, match=r"no call DecentralMl\.fly_to_the_moon"):
        chain.submit(alice, "DecentralMl", "fly_to_the_moon", {})
    with pytest.raises(UnknownCall, match="no pallet"):
        chain.submit(alice, "Nope", "x", {})
    with pytest.raises(InputError, match="missing value"):
        chain.submit(alice, "Balances", "transfer_keep_alive", {"dest": alice.ss58_address})
    with pytest.raises(InputError, match="invalid address"):
        chain.transfer(alice, "not-an-address", 1)
    with pytest.raises(Cancelled):
        chain.transfer(alice, dev("//Bob").ss58_address, 1, on_fee=lambda _: False)
    assert chain.native_balance(alice.ss58_address).nonce == nonce


def test_many_extrinsics_back_to_back(chain: ChainClient) -> None:
    charlie = dev("//Charlie")
    dest = dev("//CoreBatchDest").ss58_address
    start = chain.native_balance(charlie.ss58_address).nonce
    calls = [
        CallSpec("Balances", "transfer_keep_alive", {"dest": dest, "value": UNIT})
        for _ in range(20)
    ]
    receipts = chain.submit_many(charlie, calls)
    assert len(receipts) == 20
    assert len({r.extrinsic_hash for r in receipts}) == 20
    assert chain.native_balance(charlie.ss58_address).nonce == start + 20
    assert chain.native_balance(dest).free == 20 * UNIT


def test_submit_from_many_signers_checks_every_receipt(chain: ChainClient) -> None:
    """Many accounts at once (seeding, benchmarks): one receipt per item, in order, each
    dispatch checked; a failing item is reported, not lost."""
    senders = [dev("//Eve"), dev("//Ferdie"), dev("//Eve")]
    dest = dev("//CoreFromManyDest").ss58_address
    before = {k.ss58_address: chain.native_balance(k.ss58_address).nonce for k in senders}
    receipts = chain.submit_from_many(
        [
            (
                k,
                CallSpec(
                    "Balances", "transfer_keep_alive", {"dest": dest, "value": (i + 1) * UNIT}
                ),
            )
            for i, k in enumerate(senders)
        ]
    )
    assert [r.call for r in receipts] == ["transfer_keep_alive"] * 3
    assert chain.native_balance(dest).free == 6 * UNIT
    assert (
        chain.native_balance(senders[0].ss58_address).nonce == before[senders[0].ss58_address] + 2
    )
    assert (
        chain.native_balance(senders[1].ss58_address).nonce == before[senders[1].ss58_address] + 1
    )
    poor = dev("//CoreFromManyNobody")  # no funds: the pool refuses it before any block
    with pytest.raises(DecentralMLError):
        chain.submit_from_many(
            [(poor, CallSpec("Balances", "transfer_keep_alive", {"dest": dest, "value": UNIT}))]
        )


def test_two_processes_share_an_account_without_nonce_errors(dev_node: DevNode) -> None:
    """Two clients (separate processes, as two CLI runs or a trainer and the console would be)
    send from the same account at the same time: every transfer lands, none is lost."""
    dest = dev("//CoreSharedDest").ss58_address
    script = (
        "import sys\n"
        "from decentralml.core.chain.client import ChainClient\n"
        "from decentralml.core.keys import dev_keypair\n"
        "with ChainClient(sys.argv[1]) as c:\n"
        "    dave = dev_keypair('//Dave', c.chain_type())\n"
        "    for _ in range(4):\n"
        "        c.transfer(dave, sys.argv[2], 10**12)\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, dev_node.ws_url, dest], stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    errors = [p.communicate(timeout=180)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    with ChainClient(dev_node.ws_url) as client:
        assert client.native_balance(dest).free == 8 * UNIT


def test_extrinsics_are_mortal(chain: ChainClient) -> None:
    alice = dev("//Alice")
    call = chain.compose("System", "remark", {"remark": "0x00"})
    head = chain.block_number()
    xt = chain._sign(alice, call, chain.nonces.next(alice.ss58_address), head)
    chain.nonces.forget(alice.ss58_address)
    era = xt.value["era"]
    assert era != "00" and isinstance(era, (tuple, list, dict)), era
    # Born at a finalized block no later than the head, reused for the next signature.
    birth = chain.substrate.era(256, head)["current"]
    assert 0 <= birth <= chain.block_number(finalized=True) <= head + 1
    assert chain.substrate.era(256, head + 1)["current"] == birth


def test_a_submission_asks_the_node_little(chain: ChainClient, monkeypatch) -> None:
    """A transfer costs a handful of round trips (it was 36: runtime re-checks before every
    step, genesis and era lookups, a fee nobody looked at, polling for the block)."""
    from substrateinterface import SubstrateInterface

    asked: list[str] = []
    real = SubstrateInterface.rpc_request

    def counting(self, method, params, result_handler=None):  # type: ignore[no-untyped-def]
        asked.append(method)
        return real(self, method, params, result_handler=result_handler)

    alice, bob = dev("//Alice"), dev("//Bob")
    chain.transfer(alice, bob.ss58_address, UNIT)  # warm: metadata, era, genesis
    before = chain.native_balance(bob.ss58_address).free
    monkeypatch.setattr(SubstrateInterface, "rpc_request", counting)
    receipt = chain.transfer(alice, bob.ss58_address, UNIT)
    transfer_rpcs = len(asked)
    monkeypatch.undo()
    assert receipt.find("Balances", "Transfer")
    assert chain.rpc("chain_getBlockHash", [receipt.block_number]) == receipt.block_hash
    assert chain.native_balance(bob.ss58_address).free == before + UNIT
    assert "author_submitExtrinsic" not in asked  # submitted through a watch
    assert transfer_rpcs <= 10, asked


def test_a_lost_watch_falls_back_to_scanning(chain: ChainClient, monkeypatch) -> None:
    from decentralml.core.chain import submit

    def no_watch(url: str, data: str, timeout_s: float):  # type: ignore[no-untyped-def]
        raise ConnectionError("cannot open a watch (test)")

    monkeypatch.setattr(submit, "submit_and_watch", no_watch)
    alice, bob = dev("//Alice"), dev("//Bob")
    before = chain.native_balance(bob.ss58_address).free
    receipt = chain.transfer(alice, bob.ss58_address, UNIT)
    assert receipt.find("Balances", "Transfer")
    assert chain.rpc("chain_getBlockHash", [receipt.block_number]) == receipt.block_hash
    assert chain.native_balance(bob.ss58_address).free == before + UNIT


def test_assets_create_metadata_mint_transfer(chain: ChainClient) -> None:
    ferdie, eve = dev("//Ferdie"), dev("//Eve")
    asset_id = 7001
    chain.asset_create(ferdie, asset_id, 1)
    chain.asset_set_metadata(ferdie, asset_id, "Core Test Coin", "CTC", 6)
    chain.asset_mint(ferdie, asset_id, ferdie.ss58_address, 5_000_000)
    receipt = chain.asset_transfer(ferdie, asset_id, eve.ss58_address, 1_250_000)
    assert receipt.find("Assets", "Transferred")
    info = chain.asset(asset_id)
    assert info is not None
    assert (info.symbol, info.name, info.decimals, info.supply) == (
        "CTC",
        "Core Test Coin",
        6,
        5_000_000,
    )
    assert chain.asset_balance(asset_id, eve.ss58_address).balance == 1_250_000
    assert chain.asset_balance(asset_id, dev("//Nobody").ss58_address).balance == 0
    assert {a.id for a in chain.assets()} >= {1, asset_id}
    with pytest.raises(ExtrinsicFailed) as info_:
        chain.asset_create(eve, asset_id, 1)
    assert info_.value.error == "InUse"
    with pytest.raises(InputError, match="no asset"):
        chain.asset_balance(999_999, eve.ss58_address)


def test_model_deposit_shows_as_a_hold_with_its_reason(chain: ChainClient) -> None:
    bob = dev("//Bob")
    before = chain.native_balance(bob.ss58_address)
    model_id = register(chain, bob, "core-hold-check")
    after = chain.native_balance(bob.ss58_address)
    held = {h.reason: h.amount for h in after.holds}
    assert "DecentralMl.ModelDeposit" in held
    assert after.reserved > before.reserved
    model = DecentralMl(chain).model(model_id)
    assert model is not None
    assert model.name == "core-hold-check"
    assert model.owner == bob.ss58_address
    assert model.extra.get("licence_terms", "Apache-2.0") == "Apache-2.0"
    assert model_id in {m.id for m in DecentralMl(chain).models()}


def test_watch_heads_and_events(chain: ChainClient, dev_node: DevNode) -> None:
    heads: list[BlockHeader] = []
    chain.watch_heads(lambda h: heads.append(h) or len(heads) >= 2)
    assert heads[1].number > heads[0].number

    alice, dest = dev("//Alice"), dev("//CoreWatchDest").ss58_address
    events: list[ChainEvent] = []

    def send_later() -> None:
        time.sleep(1.0)
        with ChainClient(dev_node.ws_url) as other:
            other.transfer(alice, dest, 2 * UNIT)

    sender = threading.Thread(target=send_later)
    sender.start()
    with ChainClient(dev_node.ws_url) as watcher:
        watcher.watch_events(
            lambda e: events.append(e) or (e.name == "Transfer" and e.attributes["to"] == dest),
            pallets=["Balances"],
        )
    sender.join()
    assert all(e.pallet == "Balances" for e in events)
    assert events[-1].attributes["amount"] == 2 * UNIT


def test_unreachable_node_fails_fast() -> None:
    client = ChainClient(
        f"ws://127.0.0.1:{free_port()}",
        policy=RetryPolicy(attempts=2, initial_delay_s=0.05, deadline_s=1),
    )
    started = time.monotonic()
    with pytest.raises(NodeUnreachable, match="unreachable"):
        client.chain_type()
    assert time.monotonic() - started < 5


def test_reconnects_after_a_node_restart(tmp_path: Path) -> None:
    node = DevNode(base_path=tmp_path / "restart")
    node.start()
    try:
        client = ChainClient(
            node.ws_url, policy=RetryPolicy(attempts=30, initial_delay_s=0.2, deadline_s=60)
        )
        alice, dest = dev("//Alice"), dev("//CoreRestartDest").ss58_address
        client.transfer(alice, dest, UNIT)
        node.stop()
        node.start(wait=False)  # same ports and data; the client retries while it comes up
        receipt = client.transfer(alice, dest, UNIT)
        assert receipt.block_number > 0
        assert client.native_balance(dest).free == 2 * UNIT
        client.close()
    finally:
        node.stop()


class LocalNode(DevNode):
    """`--chain local` as Alice: a chain whose type is Local, not Development."""

    def command(self) -> list[str]:
        cmd = super().command()
        cmd.remove("--dev")
        return [*cmd, "--chain", "local", "--alice", "--validator", "--node-key", "0" * 63 + "1"]


def test_dev_accounts_are_refused_on_a_local_chain(tmp_path: Path) -> None:
    with LocalNode(base_path=tmp_path / "local") as node:
        node.start()
        with ChainClient(node.ws_url) as client:
            assert client.chain_type() is ChainType.LOCAL
            with pytest.raises(DevAccountRefused):
                dev_keypair("//Alice", client.chain_type())


def test_light_reader_decodes_exactly_like_the_client(
    chain: ChainClient, dev_node: DevNode
) -> None:
    """The fast path of the list commands must give the same values as substrate-interface."""
    from decentralml.core.chain.light import LightReader
    from decentralml.core.chain.records import DecentralMlReader

    register(chain, dev("//Bob"), "core-light-parity")
    reader = LightReader(dev_node.ws_url)
    try:
        for pallet, item in (
            ("DecentralMl", "Models"),
            ("Assets", "Asset"),
            ("Assets", "Metadata"),
        ):
            assert sorted(map(repr, reader.storage_entries(pallet, item))) == sorted(
                map(repr, chain.storage_entries(pallet, item))
            )
        alice = dev("//Alice").ss58_address
        assert reader.storage("System", "Account", [alice])["data"]["free"] > 0
        assert reader.storage("Assets", "Account", [1, alice]) == chain.storage(
            "Assets", "Account", [1, alice]
        )
        assert DecentralMlReader(reader).models() == DecentralMl(chain).models()
    finally:
        reader.close()


def test_light_reader_default_values(chain: ChainClient, dev_node: DevNode) -> None:
    from decentralml.core.chain.light import LightReader

    nobody = dev("//CoreNeverUsed").ss58_address
    reader = LightReader(dev_node.ws_url)
    try:
        # System.Account is a ValueQuery: an unknown account decodes to the default.
        assert reader.storage("System", "Account", [nobody]) == chain.storage(
            "System", "Account", [nobody]
        )
        assert reader.storage("DecentralMl", "Models", [999_999]) is None
    finally:
        reader.close()
