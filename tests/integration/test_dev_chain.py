"""Chain smoke test: a real node-decentralml --dev, driven with substrate-interface.

Transfers the native token, creates a bring-your-own asset and transfers it, registers a
model with pallet-decentralml, and checks events, balances and error decoding.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest
from substrateinterface import Keypair, SubstrateInterface
from substrateinterface.base import ExtrinsicReceipt

from .devnode import DevNode, rpc_call

pytestmark = pytest.mark.chain

UNIT = 10**12
ASSET_DEPOSIT = 10 * UNIT  # runtime configs::AssetDeposit
MODEL_DEPOSIT = UNIT  # runtime configs::ModelDeposit
DEMO_ASSET_ID = 1


@pytest.fixture(scope="module")
def substrate(dev_node: DevNode):
    si = SubstrateInterface(url=dev_node.ws_url)
    try:
        yield si
    finally:
        si.close()


def kp(uri: str) -> Keypair:
    return Keypair.create_from_uri(uri)


def submit(
    substrate: SubstrateInterface, signer: Keypair, module: str, function: str, params: dict
) -> ExtrinsicReceipt:
    call = substrate.compose_call(call_module=module, call_function=function, call_params=params)
    xt = substrate.create_signed_extrinsic(call=call, keypair=signer, era={"period": 64})
    return substrate.submit_extrinsic(xt, wait_for_inclusion=True)


def events(receipt: ExtrinsicReceipt, module: str, event: str) -> list[dict]:
    found = []
    for record in receipt.triggered_events:
        value = record.value["event"]
        if value["module_id"] == module and value["event_id"] == event:
            found.append(value["attributes"])
    return found


def free(substrate: SubstrateInterface, address: str) -> int:
    return int(substrate.query("System", "Account", [address]).value["data"]["free"])


def reserved(substrate: SubstrateInterface, address: str) -> int:
    return int(substrate.query("System", "Account", [address]).value["data"]["reserved"])


def asset_balance(substrate: SubstrateInterface, asset_id: int, address: str) -> int:
    account = substrate.query("Assets", "Account", [asset_id, address]).value
    return 0 if account is None else int(account["balance"])


def test_runtime_identity(substrate: SubstrateInterface) -> None:
    version = substrate.rpc_request("state_getRuntimeVersion", [])["result"]
    assert version["specName"] == "decentralml"
    props = substrate.rpc_request("system_properties", [])["result"]
    assert props["tokenSymbol"] == "DML"
    assert props["tokenDecimals"] == 12
    pallets = {p.name for p in substrate.get_metadata().pallets}
    assert {
        "System",
        "Timestamp",
        "Aura",
        "Grandpa",
        "Balances",
        "TransactionPayment",
        "Sudo",
        "Assets",
        "SafetyCouncil",
        "SafetyCouncilMembership",
        "DecentralMl",
    } <= pallets


def test_blocks_are_produced_and_finalized(dev_node: DevNode) -> None:
    def finalized_number() -> int:
        head = rpc_call(dev_node.rpc_port, "chain_getFinalizedHead")
        header = rpc_call(dev_node.rpc_port, "chain_getHeader", [head])
        return int(header["number"], 16)

    start = finalized_number()
    deadline = time.monotonic() + 30
    while finalized_number() < start + 2:
        assert time.monotonic() < deadline, "finality did not advance by 2 blocks in 30 s"
        time.sleep(0.5)


SEAL, PRE_RUNTIME = "0x05", "0x06"  # SCALE tags of a header's digest items
SLOT_MS = 2000  # the runtime's slot duration


def digest_kinds(port: int, block_hash: str) -> set[str]:
    header = rpc_call(port, "chain_getHeader", [block_hash])
    return {log[:4] for log in header["digest"]["logs"]}


def test_dev_blocks_are_instantly_sealed_final_and_a_slot_apart(
    dev_node: DevNode, substrate: SubstrateInterface
) -> None:
    """`--dev` seals instantly: blocks carry Aura's slot (the runtime checks it) but no
    author seal, each is final as it is made, and every block moves the slot and the
    timestamp on by at least one slot, whatever the pace of blocks."""
    sent = submit(
        substrate, kp("//Alice"), "Balances", "transfer_keep_alive",
        {"dest": kp("//Ferdie").ss58_address, "value": UNIT},
    )  # fmt: skip
    assert sent.is_success
    block = substrate.get_block_number(sent.block_hash)
    assert digest_kinds(dev_node.rpc_port, sent.block_hash) == {PRE_RUNTIME}
    finalized = rpc_call(dev_node.rpc_port, "chain_getFinalizedHead")
    assert substrate.get_block_number(finalized) >= block

    def now(number: int) -> int:
        at = substrate.get_block_hash(number)
        return int(substrate.query("Timestamp", "Now", block_hash=at).value)

    times = [now(n) for n in range(max(1, block - 3), block + 1)]
    assert all(t % SLOT_MS == 0 for t in times), times
    assert all(b - a >= SLOT_MS for a, b in itertools.pairwise(times)), times


def test_dev_chain_with_aura_sealing(tmp_path: Path) -> None:
    """`--dev --sealing aura` runs the production path on one node: author-sealed blocks,
    finalized by its own Grandpa votes."""
    with DevNode(base_path=tmp_path, extra_args=["--sealing", "aura"]).start() as node:
        deadline = time.monotonic() + 60
        while True:
            head = rpc_call(node.rpc_port, "chain_getFinalizedHead")
            number = int(rpc_call(node.rpc_port, "chain_getHeader", [head])["number"], 16)
            if number >= 2:
                break
            assert time.monotonic() < deadline, f"no finalized block 2 in 60 s\n{node.log_tail()}"
            time.sleep(0.5)
        assert digest_kinds(node.rpc_port, head) == {PRE_RUNTIME, SEAL}


def test_native_transfer(substrate: SubstrateInterface) -> None:
    alice, dest = kp("//Alice"), kp("//SmokeNativeTransfer")
    amount = 5 * UNIT
    alice_before = free(substrate, alice.ss58_address)
    receipt = submit(
        substrate,
        alice,
        "Balances",
        "transfer_keep_alive",
        {"dest": dest.ss58_address, "value": amount},
    )
    assert receipt.is_success, receipt.error_message
    transfers = events(receipt, "Balances", "Transfer")
    assert transfers == [{"from": alice.ss58_address, "to": dest.ss58_address, "amount": amount}]
    fee_paid = events(receipt, "TransactionPayment", "TransactionFeePaid")
    assert len(fee_paid) == 1 and fee_paid[0]["actual_fee"] > 0
    assert free(substrate, dest.ss58_address) == amount
    assert free(substrate, alice.ss58_address) == alice_before - amount - fee_paid[0]["actual_fee"]


def test_failed_dispatch_is_reported_with_its_error(substrate: SubstrateInterface) -> None:
    alice, bob = kp("//Alice"), kp("//Bob")
    too_much = free(substrate, alice.ss58_address) * 2
    receipt = submit(
        substrate,
        alice,
        "Balances",
        "transfer_keep_alive",
        {"dest": bob.ss58_address, "value": too_much},
    )
    assert not receipt.is_success
    (failed,) = events(receipt, "System", "ExtrinsicFailed")
    # Balances reports this through the fungible traits' token error.
    assert failed["dispatch_error"] == {"Token": "FundsUnavailable"}


def test_create_mint_and_transfer_an_asset(substrate: SubstrateInterface) -> None:
    bob, charlie = kp("//Bob"), kp("//Charlie")
    asset_id = 4242
    reserved_before = reserved(substrate, bob.ss58_address)

    receipt = submit(
        substrate,
        bob,
        "Assets",
        "create",
        {"id": asset_id, "admin": bob.ss58_address, "min_balance": 1},
    )
    assert receipt.is_success, receipt.error_message
    assert events(receipt, "Assets", "Created") == [
        {"asset_id": asset_id, "creator": bob.ss58_address, "owner": bob.ss58_address}
    ]
    assert reserved(substrate, bob.ss58_address) == reserved_before + ASSET_DEPOSIT

    receipt = submit(
        substrate,
        bob,
        "Assets",
        "mint",
        {"id": asset_id, "beneficiary": bob.ss58_address, "amount": 1_000},
    )
    assert receipt.is_success, receipt.error_message
    assert events(receipt, "Assets", "Issued") == [
        {"asset_id": asset_id, "owner": bob.ss58_address, "amount": 1_000}
    ]

    receipt = submit(
        substrate,
        bob,
        "Assets",
        "transfer",
        {"id": asset_id, "target": charlie.ss58_address, "amount": 250},
    )
    assert receipt.is_success, receipt.error_message
    assert events(receipt, "Assets", "Transferred") == [
        {"asset_id": asset_id, "from": bob.ss58_address, "to": charlie.ss58_address, "amount": 250}
    ]
    assert asset_balance(substrate, asset_id, bob.ss58_address) == 750
    assert asset_balance(substrate, asset_id, charlie.ss58_address) == 250
    details = substrate.query("Assets", "Asset", [asset_id]).value
    assert int(details["supply"]) == 1_000

    # Creating the same id again fails with the pallet's own error.
    receipt = submit(
        substrate,
        charlie,
        "Assets",
        "create",
        {"id": asset_id, "admin": charlie.ss58_address, "min_balance": 1},
    )
    assert not receipt.is_success
    assert receipt.error_message["name"] == "InUse"


def test_demo_asset_exists_from_genesis(substrate: SubstrateInterface) -> None:
    details = substrate.query("Assets", "Asset", [DEMO_ASSET_ID]).value
    assert details is not None
    assert details["owner"] == kp("//Alice").ss58_address
    metadata = substrate.query("Assets", "Metadata", [DEMO_ASSET_ID]).value
    assert metadata["symbol"] in ("DCC", "0x444343")
    assert metadata["decimals"] == 12
    # At genesis: other tests on the same session node may have paid Dave in the asset since.
    genesis = substrate.get_block_hash(0)
    account = substrate.query(
        "Assets", "Account", [DEMO_ASSET_ID, kp("//Dave").ss58_address], block_hash=genesis
    ).value
    assert account is not None and int(account["balance"]) == 100_000 * UNIT


def test_dev_genesis_shortens_protocol_periods(substrate: SubstrateInterface) -> None:
    """The development preset overrides the periods so a federation and a vote fit a demo,
    and keeps the rest of the defaults."""
    params = substrate.query("DecentralMl", "Params").value
    assert params["voting_period"] == 15
    assert params["aggregation_period"] == 10
    assert params["ratification_period"] == 30
    assert params["reveal_period"] == 20
    assert params["task_idle_timeout"] == 150
    assert params["aggregator_fee"] == 100_000_000  # 10%, the runtime's default


def content_ref(cid: str, size: int, fill: str) -> dict:
    return {"cid": "0x" + cid.encode().hex(), "digest": "0x" + fill * 64, "size": size}


APACHE_LICENCE = {
    "terms": {"Spdx": "0x" + b"Apache-2.0".hex()},
    "commercial_use": True,
    "attribution": True,
    "share_alike": False,
}


def register_model(substrate: SubstrateInterface, owner: Keypair, name: str) -> ExtrinsicReceipt:
    return submit(
        substrate,
        owner,
        "DecentralMl",
        "register_model",
        {
            "name": "0x" + name.encode().hex(),
            "architecture": content_ref("bafkreiarchitecture", 512, "a"),
            "initial_weights": content_ref("bafkreiweights", 4096, "b"),
            "licence": APACHE_LICENCE,
            # A BoundedVec is a one-field composite in the metadata: substrate-interface
            # wants its inner list wrapped once more.
            "jurisdictions": [["0x" + b"DE".hex(), "0x" + b"FR".hex()]],
        },
    )


def test_register_and_retire_a_model(substrate: SubstrateInterface) -> None:
    eve = kp("//Eve")
    receipt = register_model(substrate, eve, "digits-mlp")
    assert receipt.is_success, receipt.error_message
    (registered,) = events(receipt, "DecentralMl", "ModelRegistered")
    assert registered["owner"] == eve.ss58_address
    assert registered["deposit"] == MODEL_DEPOSIT
    model_id = registered["model_id"]
    model = substrate.query("DecentralMl", "Models", [model_id]).value
    assert model["status"] == "Active"
    assert model["initial_weights"]["size"] == 4096

    # Only the owner may retire it.
    receipt = submit(
        substrate, kp("//Ferdie"), "DecentralMl", "retire_model", {"model_id": model_id}
    )
    assert not receipt.is_success
    assert receipt.error_message["name"] == "NotModelOwner"

    receipt = submit(substrate, eve, "DecentralMl", "retire_model", {"model_id": model_id})
    assert receipt.is_success, receipt.error_message
    assert events(receipt, "DecentralMl", "ModelRetired") == [
        {"model_id": model_id, "deposit": MODEL_DEPOSIT}
    ]
    assert substrate.query("DecentralMl", "Models", [model_id]).value["status"] == "Retired"


def test_register_model_rejects_empty_cid(substrate: SubstrateInterface) -> None:
    receipt = submit(
        substrate,
        kp("//Eve"),
        "DecentralMl",
        "register_model",
        {
            "name": "0x" + b"m".hex(),
            "architecture": {"cid": "0x", "digest": "0x" + "a" * 64, "size": 1},
            "initial_weights": content_ref("bafkreiweights", 1, "b"),
            "licence": APACHE_LICENCE,
            "jurisdictions": [[]],
        },
    )
    assert not receipt.is_success
    assert receipt.error_message["name"] == "EmptyCid"
