"""The local dev stack: ``node-decentralml --dev``, a private Kubo and a seeded demo federation.

Everything lives under one project state directory (``$DECENTRALML_STATE``, default ``./.state``;
``scripts/env.sh`` sets it to ``<repo>/.state``)::

    chain/            the node's --base-path (kept between runs: a second `up` resumes)
    ipfs/             the Kubo repo (127.0.0.1 only, no bootstrap peers, --offline)
    logs/<name>.log   one log per component
    run/<name>.pid    a JSON pid record per running component (pid + start time)
    run/stack.json    the ports and flags the stack was last started with
    demo/             the demo model files and the trainers' and verifier's datasets
    demo.json         what the demo seeding created (model, asset, task ids)
    roles/<name>-task<id>/   each role's resume journal and events.jsonl (the console's layout)

Components: ``node``, ``ipfs``, ``trainer-1`` .. ``trainer-N``, ``aggregator``, ``verifier``.
Every child is started detached in its own process group with its output in its log, so
``decentralml dev up`` returns once the stack answers and ``decentralml dev down`` (from any
shell) stops them: SIGTERM to each whole group, SIGKILL after a timeout, then a check that no
process and no port is left.

Binding: the node's RPC and Kubo's API listen on 127.0.0.1. ``rpc_external`` (for a container)
adds the node's ``--rpc-external --rpc-cors all`` so Polkadot-JS Apps and other containers reach
ws://<host>:9944 (the RPC method set is then "safe"); ``ipfs_external`` binds Kubo's API and
gateway to 0.0.0.0. Neither belongs on a machine whose ports are reachable by others.

The rooms: ``settings`` (ports, flags, paths, the demo's cast), ``binaries`` (finding the node,
Kubo and the CLI), ``probes`` (stdlib RPC/HTTP checks, the Kubo repo config), ``demo`` (demo
files and idempotent seeding), ``chainspec`` (multi-node chain specs) and ``stack`` (the
processes). ``federation`` runs a multi-host-like federation on one host (``netns`` for the
network namespaces, ``fedplan`` for who lives where, ``fedproc`` for its processes).
Dev tooling only: the CLI (``core/cli/dev.py``) calls it; it never imports the CLI,
and protocol code (chain, storage, fl, roles) never imports it.
"""

from ..proc import ProcessError
from .binaries import find_cli, find_ipfs_binary, find_node_binary
from .chainspec import build_chain_spec, endow_chain_spec
from .demo import (
    ChainFacts,
    DemoRecord,
    DemoSeeder,
    demo_files,
    plan_seed,
    read_demo,
    write_demo_files,
    write_json,
)
from .errors import DevStackError, PortTaken
from .probes import ipfs_version, kubo_config_patch, node_heads, node_rpc
from .settings import (
    AGGREGATOR,
    DEMO_ASSET_ID,
    DEMO_CHALLENGE_WINDOW,
    DEMO_ROUND_LENGTH,
    DEMO_ROUNDS,
    SPONSOR,
    TRAINER_ACCOUNTS,
    VERIFIER,
    StackPaths,
    StackSettings,
    component_names,
    default_state_dir,
    resolve_settings,
    role_of,
)
from .stack import ComponentStatus, DevStack, DownReport, last_event

__all__ = [
    "AGGREGATOR",
    "DEMO_ASSET_ID",
    "DEMO_CHALLENGE_WINDOW",
    "DEMO_ROUNDS",
    "DEMO_ROUND_LENGTH",
    "SPONSOR",
    "TRAINER_ACCOUNTS",
    "VERIFIER",
    "ChainFacts",
    "ComponentStatus",
    "DemoRecord",
    "DemoSeeder",
    "DevStack",
    "DevStackError",
    "DownReport",
    "PortTaken",
    "ProcessError",
    "StackPaths",
    "StackSettings",
    "build_chain_spec",
    "component_names",
    "default_state_dir",
    "demo_files",
    "endow_chain_spec",
    "find_cli",
    "find_ipfs_binary",
    "find_node_binary",
    "ipfs_version",
    "kubo_config_patch",
    "last_event",
    "node_heads",
    "node_rpc",
    "plan_seed",
    "read_demo",
    "resolve_settings",
    "role_of",
    "write_demo_files",
    "write_json",
]
