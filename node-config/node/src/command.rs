//! Dispatches the command line to the node or to a subcommand.

use crate::{
	chain_spec,
	cli::{Cli, Subcommand},
	service,
};
use decentralml_runtime::opaque::Block;
use frame_benchmarking_cli::{BenchmarkCmd, SUBSTRATE_REFERENCE_HARDWARE};
use sc_cli::SubstrateCli;
use sc_service::PartialComponents;

impl SubstrateCli for Cli {
	fn impl_name() -> String {
		"DecentralML Node".into()
	}

	fn impl_version() -> String {
		env!("SUBSTRATE_CLI_IMPL_VERSION").into()
	}

	fn description() -> String {
		env!("CARGO_PKG_DESCRIPTION").into()
	}

	fn author() -> String {
		env!("CARGO_PKG_AUTHORS").into()
	}

	fn support_url() -> String {
		"https://github.com/decentralml/decentralml/issues".into()
	}

	fn copyright_start_year() -> i32 {
		2024
	}

	fn load_spec(&self, id: &str) -> Result<Box<dyn sc_service::ChainSpec>, String> {
		// Running a node reads a cached raw spec (fast start); subcommands such as
		// `build-spec` see the spec as built from its preset.
		let cache = if self.subcommand.is_none() { service::spec_cache_dir() } else { None };
		Ok(match id {
			"dev" => Box::new(chain_spec::cached_raw(
				chain_spec::development_config()?,
				sp_genesis_builder::DEV_RUNTIME_PRESET,
				cache.as_deref(),
			)),
			"" | "local" => Box::new(chain_spec::cached_raw(
				chain_spec::local_testnet_config()?,
				sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET,
				cache.as_deref(),
			)),
			path => Box::new(
				chain_spec::ChainSpec::from_json_file(std::path::PathBuf::from(path)).map_err(
					|e| {
						format!(
							"cannot load chain spec '{path}': {e} (use dev, local or a JSON file)"
						)
					},
				)?,
			),
		})
	}
}

/// Parse the command line and run it.
pub fn run() -> sc_cli::Result<()> {
	let cli = Cli::from_args();

	match &cli.subcommand {
		Some(Subcommand::Key(cmd)) => cmd.run(&cli),
		Some(Subcommand::BuildSpec(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.sync_run(|config| cmd.run(config.chain_spec, config.network))
		},
		Some(Subcommand::CheckBlock(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let PartialComponents { client, task_manager, import_queue, .. } =
					service::new_partial(&config, sealing_for(cli.sealing, &config)?)?;
				Ok((cmd.run(client, import_queue), task_manager))
			})
		},
		Some(Subcommand::ExportBlocks(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let PartialComponents { client, task_manager, .. } =
					service::new_partial(&config, sealing_for(cli.sealing, &config)?)?;
				Ok((cmd.run(client, config.database), task_manager))
			})
		},
		Some(Subcommand::ExportState(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let PartialComponents { client, task_manager, .. } =
					service::new_partial(&config, sealing_for(cli.sealing, &config)?)?;
				Ok((cmd.run(client, config.chain_spec), task_manager))
			})
		},
		Some(Subcommand::ImportBlocks(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let PartialComponents { client, task_manager, import_queue, .. } =
					service::new_partial(&config, sealing_for(cli.sealing, &config)?)?;
				Ok((cmd.run(client, import_queue), task_manager))
			})
		},
		Some(Subcommand::PurgeChain(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.sync_run(|config| cmd.run(config.database))
		},
		Some(Subcommand::Revert(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.async_run(|config| {
				let PartialComponents { client, task_manager, backend, .. } =
					service::new_partial(&config, sealing_for(cli.sealing, &config)?)?;
				let aux_revert = Box::new(|client, _, blocks| {
					sc_consensus_grandpa::revert(client, blocks)?;
					Ok(())
				});
				Ok((cmd.run(client, backend, Some(aux_revert)), task_manager))
			})
		},
		Some(Subcommand::Benchmark(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.sync_run(|config| match cmd {
				BenchmarkCmd::Pallet(cmd) => {
					if !cfg!(feature = "runtime-benchmarks") {
						return Err("this node was built without runtime benchmarks: rebuild it \
						            with `--features runtime-benchmarks` (scripts/build-node does)"
							.into());
					}
					cmd.run_with_spec::<sp_runtime::traits::HashingFor<Block>, ()>(Some(
						config.chain_spec,
					))
				},
				BenchmarkCmd::Block(cmd) => {
					let PartialComponents { client, .. } =
						service::new_partial(&config, sealing_for(cli.sealing, &config)?)?;
					cmd.run(client)
				},
				BenchmarkCmd::Overhead(cmd) => {
					cmd.run_with_default_builder_and_spec::<Block, ()>(Some(config.chain_spec))
				},
				BenchmarkCmd::Machine(cmd) => {
					cmd.run(&config, SUBSTRATE_REFERENCE_HARDWARE.clone())
				},
				BenchmarkCmd::Storage(_) | BenchmarkCmd::Extrinsic(_) => Err(
					"`benchmark storage` and `benchmark extrinsic` are not wired into this node; \
					 use `benchmark pallet`, `overhead`, `block` or `machine`"
						.into(),
				),
			})
		},
		Some(Subcommand::ChainInfo(cmd)) => {
			let runner = cli.create_runner(cmd)?;
			runner.sync_run(|config| cmd.run::<Block>(&config))
		},
		None => {
			ensure_rpc_port_free(&cli.run.rpc_params)?;
			let runner = cli.create_runner(&cli.run)?;
			let sealing = sealing_for(cli.sealing, runner.config())?;
			// Instant sealing runs the single-state pool: the fork-aware pool also validates
			// a new transaction against views of earlier blocks, where a transaction signed
			// at the newest (already final) block has a birth block that does not exist yet
			// and is refused as "ancient". With one author there are no forks to track.
			let pool = (sealing == service::Sealing::Instant).then(|| {
				let mut params = cli.run.pool_config.clone();
				params.pool_type = sc_cli::TransactionPoolType::SingleState;
				params.transaction_pool(cli.run.shared_params.is_dev())
			});
			runner
				.run_node_until_exit(|mut config| async move {
					if let Some(pool) = pool {
						config.transaction_pool = pool;
					}
					match config.network.network_backend {
						sc_network::config::NetworkBackendType::Libp2p => service::new_full::<
							sc_network::NetworkWorker<
								Block,
								<Block as sp_runtime::traits::Block>::Hash,
							>,
						>(config, sealing)
						.map_err(sc_cli::Error::Service),
						sc_network::config::NetworkBackendType::Litep2p => {
							service::new_full::<sc_network::Litep2pNetworkBackend>(config, sealing)
								.map_err(sc_cli::Error::Service)
						},
					}
				})
				.map_err(with_database_advice)
		},
	}
}

/// How the chain's blocks are sealed: as asked with --sealing, else the chain's default.
fn sealing_for(
	asked: Option<service::Sealing>,
	config: &sc_service::Configuration,
) -> sc_cli::Result<service::Sealing> {
	service::Sealing::resolve(asked, &config.chain_spec.chain_type()).map_err(sc_cli::Error::Input)
}

/// The RPC server silently moves to a random port when its port is taken, so clients
/// would talk to whatever holds the port. Refuse to start instead, and say what to do.
fn ensure_rpc_port_free(rpc: &sc_cli::RpcParams) -> sc_cli::Result<()> {
	if !rpc.experimental_rpc_endpoint.is_empty() {
		return Ok(());
	}
	let port = rpc.rpc_port.unwrap_or(9944);
	let ip: std::net::IpAddr = if rpc.rpc_external || rpc.unsafe_rpc_external {
		std::net::Ipv4Addr::UNSPECIFIED.into()
	} else {
		std::net::Ipv4Addr::LOCALHOST.into()
	};
	std::net::TcpListener::bind((ip, port)).map(drop).map_err(|e| {
		sc_cli::Error::Input(format!(
			"RPC port {port} on {ip} is not available ({e}). Another node, or another program, \
			 is using it: stop it (`decentralml dev down` stops the dev stack) or choose another \
			 port with --rpc-port <PORT>."
		))
	})
}

/// A node that cannot open its database should say how to recover, not just fail.
fn with_database_advice(err: sc_cli::Error) -> sc_cli::Error {
	let text = err.to_string();
	let lower = text.to_lowercase();
	if ["database", "corrupt", "backend", "paritydb"].iter().any(|w| lower.contains(w)) {
		sc_cli::Error::Input(format!(
			"{text}\n\nThe chain database could not be opened; it may be corrupt or from another \
			 chain. Remove it with `node-decentralml purge-chain` plus the same --dev/--chain and \
			 --base-path flags you started with, then start again (the chain restarts from genesis)."
		))
	} else {
		err
	}
}
