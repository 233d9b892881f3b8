//! Assembles the node: client, database, transaction pool, networking, block authoring
//! (Aura slots with Grandpa finality, or instant sealing on a one-node development chain) and
//! the RPC server.

use decentralml_runtime::{opaque::Block, RuntimeApi};
use futures::{FutureExt, StreamExt};
use sc_client_api::{Backend, BlockBackend};
use sc_consensus_aura::{ImportQueueParams, SlotProportion, StartAuraParams};
use sc_consensus_grandpa::SharedVoterState;
use sc_consensus_manual_seal::{
	consensus::aura::AuraConsensusDataProvider, EngineCommand, ManualSealParams,
};
use sc_executor::{HeapAllocStrategy, WasmExecutor, DEFAULT_HEAP_ALLOC_STRATEGY};
use sc_service::config::ExecutorConfiguration;
use sc_service::{
	error::Error as ServiceError, ChainType, Configuration, TaskManager, WarpSyncConfig,
};
use sc_telemetry::{Telemetry, TelemetryWorker};
use sc_transaction_pool_api::{OffchainTransactionPoolFactory, TransactionPool};
use sp_consensus_aura::sr25519::{AuthorityPair as AuraPair, AuthoritySignature as AuraSignature};
use std::{path::PathBuf, sync::Arc, time::Duration};

/// Host functions the runtime may import. A runtime built with `runtime-benchmarks` also
/// imports the benchmarking host functions, so the node must provide them.
#[cfg(feature = "runtime-benchmarks")]
type HostFunctions =
	(sp_io::SubstrateHostFunctions, frame_benchmarking::benchmarking::HostFunctions);
#[cfg(not(feature = "runtime-benchmarks"))]
type HostFunctions = sp_io::SubstrateHostFunctions;

/// The full client.
pub(crate) type FullClient =
	sc_service::TFullClient<Block, RuntimeApi, WasmExecutor<HostFunctions>>;

/// How a running node authors and finalizes blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Sealing {
	/// Aura: one block per slot (the runtime's slot duration, 2 s) from the validators in
	/// turn, finalized by Grandpa votes. Every chain but a development one.
	Aura,
	/// A block as soon as transactions are ready, and an empty block every slot duration
	/// when there are none, so block-numbered deadlines still pass while nothing happens;
	/// each block is final at once. For a one-node development chain (the default there).
	Instant,
}

impl Sealing {
	/// Instant sealing for development chains, Aura for every other chain.
	pub fn default_for(chain_type: &ChainType) -> Self {
		if *chain_type == ChainType::Development {
			Sealing::Instant
		} else {
			Sealing::Aura
		}
	}

	/// The sealing asked for on the command line, or the default for the chain; instant
	/// sealing on a chain that has other validators would fork it, so it is refused.
	pub fn resolve(asked: Option<Sealing>, chain_type: &ChainType) -> Result<Self, String> {
		match asked {
			Some(Sealing::Instant) if *chain_type != ChainType::Development => Err(format!(
				"--sealing instant is for a one-node development chain (--dev), and this chain \
				 is {chain_type:?}: its validators take turns with Aura. Drop --sealing or use \
				 --sealing aura."
			)),
			Some(sealing) => Ok(sealing),
			None => Ok(Sealing::default_for(chain_type)),
		}
	}
}

/// The node's cache directory: compiled runtimes (`wasm/`, keyed by the runtime's code and
/// the compiler settings) and raw chain specs (`chain-specs/`, keyed by the node build and
/// the spec), so that a node does not recompile the same runtime on every start. Everything in it is derived and safe to delete or share between nodes.
/// `DECENTRALML_NODE_CACHE=<dir>` moves it, `DECENTRALML_NODE_CACHE=off` disables it;
/// the default is `$XDG_CACHE_HOME/node-decentralml` (or `~/.cache/node-decentralml`).
fn cache_root() -> Option<PathBuf> {
	match std::env::var_os("DECENTRALML_NODE_CACHE") {
		Some(v) if v == "off" => None,
		Some(v) => Some(PathBuf::from(v)),
		None => std::env::var_os("XDG_CACHE_HOME")
			.map(PathBuf::from)
			.or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
			.map(|cache| cache.join("node-decentralml")),
	}
}

/// Where raw chain specs built from the presets are kept (`chain-specs/` in the cache).
pub fn spec_cache_dir() -> Option<PathBuf> {
	cache_root().map(|root| root.join("chain-specs"))
}

/// The runtime executor: as Substrate's default, plus the compiled-runtime cache.
fn new_executor(config: &ExecutorConfiguration) -> WasmExecutor<HostFunctions> {
	let heap = config
		.default_heap_pages
		.map_or(DEFAULT_HEAP_ALLOC_STRATEGY, |p| HeapAllocStrategy::Static { extra_pages: p as _ });
	let builder = WasmExecutor::<HostFunctions>::builder()
		.with_execution_method(config.wasm_method)
		.with_onchain_heap_alloc_strategy(heap)
		.with_offchain_heap_alloc_strategy(heap)
		.with_max_runtime_instances(config.max_runtime_instances)
		.with_runtime_cache_size(config.runtime_cache_size);
	match cache_root() {
		Some(dir) => builder.with_cache_path(dir.join("wasm")).build(),
		None => builder.build(),
	}
}
type FullBackend = sc_service::TFullBackend<Block>;
type FullSelectChain = sc_consensus::LongestChain<FullBackend, Block>;
type GrandpaBlockImport =
	sc_consensus_grandpa::GrandpaBlockImport<FullBackend, Block, FullClient, FullSelectChain>;

/// Blocks between Grandpa justifications kept for warp sync.
const GRANDPA_JUSTIFICATION_PERIOD: u32 = 512;

/// The parts shared by the running node and the offline subcommands.
pub type Service = sc_service::PartialComponents<
	FullClient,
	FullBackend,
	FullSelectChain,
	sc_consensus::DefaultImportQueue<Block>,
	sc_transaction_pool::TransactionPoolHandle<Block, FullClient>,
	(
		GrandpaBlockImport,
		sc_consensus_grandpa::LinkHalf<Block, FullClient, FullSelectChain>,
		Option<Telemetry>,
	),
>;

/// Build the parts of the node that do not need networking. Blocks are imported as
/// `sealing` makes them: Aura-sealed blocks are checked against the slot's author, instantly
/// sealed ones (which carry no seal) are taken from the database's own node.
pub fn new_partial(config: &Configuration, sealing: Sealing) -> Result<Service, ServiceError> {
	let telemetry = config
		.telemetry_endpoints
		.clone()
		.filter(|x| !x.is_empty())
		.map(|endpoints| -> Result<_, sc_telemetry::Error> {
			let worker = TelemetryWorker::new(16)?;
			let telemetry = worker.handle().new_telemetry(endpoints);
			Ok((worker, telemetry))
		})
		.transpose()?;

	let executor = new_executor(&config.executor);
	let (client, backend, keystore_container, task_manager) =
		sc_service::new_full_parts::<Block, RuntimeApi, _>(
			config,
			telemetry.as_ref().map(|(_, telemetry)| telemetry.handle()),
			executor,
			vec![Arc::new(sc_consensus_grandpa::GrandpaPruningFilter)],
		)?;
	let client = Arc::new(client);

	let telemetry = telemetry.map(|(worker, telemetry)| {
		task_manager.spawn_handle().spawn("telemetry", None, worker.run());
		telemetry
	});

	let select_chain = sc_consensus::LongestChain::new(backend.clone());

	let transaction_pool = Arc::from(
		sc_transaction_pool::Builder::new(
			task_manager.spawn_essential_handle(),
			client.clone(),
			config.role.is_authority().into(),
		)
		.with_options(config.transaction_pool.clone())
		.with_prometheus(config.prometheus_registry())
		.build(),
	);

	let (grandpa_block_import, grandpa_link) = sc_consensus_grandpa::block_import(
		client.clone(),
		GRANDPA_JUSTIFICATION_PERIOD,
		&client,
		select_chain.clone(),
		telemetry.as_ref().map(|x| x.handle()),
	)?;

	let import_queue = match sealing {
		Sealing::Instant => sc_consensus_manual_seal::import_queue(
			Box::new(client.clone()),
			&task_manager.spawn_essential_handle(),
			config.prometheus_registry(),
		),
		Sealing::Aura => {
			aura_import_queue(config, &client, &grandpa_block_import, &task_manager, &telemetry)?
		},
	};

	Ok(sc_service::PartialComponents {
		client,
		backend,
		task_manager,
		import_queue,
		keystore_container,
		select_chain,
		transaction_pool,
		other: (grandpa_block_import, grandpa_link, telemetry),
	})
}

/// The import queue of an Aura chain: checks each block's slot author and seal, and passes
/// Grandpa justifications on.
fn aura_import_queue(
	config: &Configuration,
	client: &Arc<FullClient>,
	grandpa_block_import: &GrandpaBlockImport,
	task_manager: &TaskManager,
	telemetry: &Option<Telemetry>,
) -> Result<sc_consensus::DefaultImportQueue<Block>, ServiceError> {
	let cidp_client = client.clone();
	Ok(sc_consensus_aura::import_queue::<AuraPair, _, _, _, _, _>(ImportQueueParams {
		block_import: grandpa_block_import.clone(),
		justification_import: Some(Box::new(grandpa_block_import.clone())),
		client: client.clone(),
		create_inherent_data_providers: move |parent_hash, _| {
			let cidp_client = cidp_client.clone();
			async move {
				let slot_duration =
					sc_consensus_aura::standalone::slot_duration_at(&*cidp_client, parent_hash)?;
				let timestamp = sp_timestamp::InherentDataProvider::from_system_time();
				let slot =
						sp_consensus_aura::inherents::InherentDataProvider::from_timestamp_and_slot_duration(
							*timestamp,
							slot_duration,
						);
				Ok((slot, timestamp))
			}
		},
		spawner: &task_manager.spawn_essential_handle(),
		registry: config.prometheus_registry(),
		check_for_equivocation: Default::default(),
		telemetry: telemetry.as_ref().map(|x| x.handle()),
		compatibility_mode: Default::default(),
	})?)
}

/// Build and start the full node, authoring blocks as `sealing` says.
pub fn new_full<
	N: sc_network::NetworkBackend<Block, <Block as sp_runtime::traits::Block>::Hash>,
>(
	config: Configuration,
	sealing: Sealing,
) -> Result<TaskManager, ServiceError> {
	let sc_service::PartialComponents {
		client,
		backend,
		mut task_manager,
		import_queue,
		keystore_container,
		select_chain,
		transaction_pool,
		other: (block_import, grandpa_link, mut telemetry),
	} = new_partial(&config, sealing)?;

	let mut net_config = sc_network::config::FullNetworkConfiguration::<
		Block,
		<Block as sp_runtime::traits::Block>::Hash,
		N,
	>::new(&config.network, config.prometheus_registry().cloned());
	let metrics = N::register_notification_metrics(config.prometheus_registry());

	let peer_store_handle = net_config.peer_store_handle();
	let genesis_hash = client
		.block_hash(0)
		.ok()
		.flatten()
		.ok_or_else(|| ServiceError::Other("the database has no genesis block".into()))?;
	let grandpa_protocol_name =
		sc_consensus_grandpa::protocol_standard_name(&genesis_hash, &config.chain_spec);
	let (grandpa_protocol_config, grandpa_notification_service) =
		sc_consensus_grandpa::grandpa_peers_set_config::<_, N>(
			grandpa_protocol_name.clone(),
			metrics.clone(),
			peer_store_handle,
		);
	net_config.add_notification_protocol(grandpa_protocol_config);

	let warp_sync = Arc::new(sc_consensus_grandpa::warp_proof::NetworkProvider::new(
		backend.clone(),
		grandpa_link.shared_authority_set().clone(),
		Vec::default(),
	));

	let (network, system_rpc_tx, tx_handler_controller, sync_service) =
		sc_service::build_network(sc_service::BuildNetworkParams {
			config: &config,
			net_config,
			client: client.clone(),
			transaction_pool: transaction_pool.clone(),
			spawn_handle: task_manager.spawn_handle(),
			spawn_essential_handle: task_manager.spawn_essential_handle(),
			import_queue,
			block_announce_validator_builder: None,
			warp_sync_config: Some(WarpSyncConfig::WithProvider(warp_sync)),
			block_relay: None,
			metrics,
		})?;

	if config.offchain_worker.enabled {
		let offchain_workers =
			sc_offchain::OffchainWorkers::new(sc_offchain::OffchainWorkerOptions {
				runtime_api_provider: client.clone(),
				is_validator: config.role.is_authority(),
				keystore: Some(keystore_container.keystore()),
				offchain_db: backend.offchain_storage(),
				transaction_pool: Some(OffchainTransactionPoolFactory::new(
					transaction_pool.clone(),
				)),
				network_provider: Arc::new(network.clone()),
				enable_http_requests: false,
				custom_extensions: |_| vec![],
			})?;
		task_manager.spawn_handle().spawn(
			"offchain-workers-runner",
			"offchain-worker",
			offchain_workers.run(client.clone(), task_manager.spawn_handle()).boxed(),
		);
	}

	let role = config.role;
	let force_authoring = config.force_authoring;
	let backoff_authoring_blocks: Option<()> = None;
	let name = config.network.node_name.clone();
	// Instantly sealed blocks are final when sealed: there is nothing for Grandpa to vote on.
	let enable_grandpa = !config.disable_grandpa && sealing == Sealing::Aura;
	let prometheus_registry = config.prometheus_registry().cloned();
	let is_dev = config.chain_spec.chain_type() == sc_service::ChainType::Development;

	let rpc_extensions_builder = {
		let client = client.clone();
		let pool = transaction_pool.clone();
		Box::new(move |_| {
			let deps = crate::rpc::FullDeps { client: client.clone(), pool: pool.clone() };
			crate::rpc::create_full(deps).map_err(Into::into)
		})
	};

	let _rpc_handlers = sc_service::spawn_tasks(sc_service::SpawnTasksParams {
		network: network.clone(),
		client: client.clone(),
		keystore: keystore_container.keystore(),
		task_manager: &mut task_manager,
		transaction_pool: transaction_pool.clone(),
		rpc_builder: rpc_extensions_builder,
		backend,
		system_rpc_tx,
		tx_handler_controller,
		sync_service: sync_service.clone(),
		config,
		telemetry: telemetry.as_mut(),
		tracing_execute_block: None,
	})?;

	let proposer_factory = role.is_authority().then(|| {
		sc_basic_authorship::ProposerFactory::new(
			task_manager.spawn_handle(),
			client.clone(),
			transaction_pool.clone(),
			prometheus_registry.as_ref(),
			telemetry.as_ref().map(|x| x.handle()),
		)
	});
	match (proposer_factory, sealing) {
		(None, _) => {},
		(Some(proposer_factory), Sealing::Instant) => start_instant_seal(
			&task_manager,
			client,
			transaction_pool.clone(),
			select_chain,
			proposer_factory,
		)?,
		(Some(proposer_factory), Sealing::Aura) => {
			let slot_duration = sc_consensus_aura::slot_duration(&*client)?;
			let aura = sc_consensus_aura::start_aura::<AuraPair, _, _, _, _, _, _, _, _, _, _>(
				StartAuraParams {
					slot_duration,
					client,
					select_chain,
					block_import,
					proposer_factory,
					create_inherent_data_providers: move |_, ()| async move {
						let timestamp = sp_timestamp::InherentDataProvider::from_system_time();
						let slot =
						sp_consensus_aura::inherents::InherentDataProvider::from_timestamp_and_slot_duration(
							*timestamp,
							slot_duration,
						);
						Ok((slot, timestamp))
					},
					force_authoring,
					backoff_authoring_blocks,
					keystore: keystore_container.keystore(),
					sync_oracle: sync_service.clone(),
					justification_sync_link: sync_service.clone(),
					block_proposal_slot_portion: SlotProportion::new(2f32 / 3f32),
					max_block_proposal_slot_portion: None,
					telemetry: telemetry.as_ref().map(|x| x.handle()),
					compatibility_mode: Default::default(),
				},
			)?;
			// Block authoring is essential: if it fails, the node stops.
			task_manager.spawn_essential_handle().spawn_blocking(
				"aura",
				Some("block-authoring"),
				aura,
			);
		},
	}

	if enable_grandpa {
		let keystore = if role.is_authority() { Some(keystore_container.keystore()) } else { None };
		let grandpa_config = sc_consensus_grandpa::Config {
			gossip_duration: Duration::from_millis(333),
			justification_generation_period: GRANDPA_JUSTIFICATION_PERIOD,
			name: Some(name),
			observer_enabled: false,
			keystore,
			local_role: role,
			telemetry: telemetry.as_ref().map(|x| x.handle()),
			protocol_name: grandpa_protocol_name,
		};
		// A development chain has one validator and no forks to wait out: vote on the best
		// block so finality follows each block. Multi-validator chains keep the default
		// margin of two blocks behind the best.
		let voting_rule = if is_dev {
			sc_consensus_grandpa::VotingRulesBuilder::new()
				.add(sc_consensus_grandpa::ThreeQuartersOfTheUnfinalizedChain)
				.build()
		} else {
			sc_consensus_grandpa::VotingRulesBuilder::default().build()
		};
		let grandpa_params = sc_consensus_grandpa::GrandpaParams {
			config: grandpa_config,
			link: grandpa_link,
			network,
			sync: Arc::new(sync_service),
			notification_service: grandpa_notification_service,
			voting_rule,
			prometheus_registry,
			shared_voter_state: SharedVoterState::empty(),
			telemetry: telemetry.as_ref().map(|x| x.handle()),
			offchain_tx_pool_factory: OffchainTransactionPoolFactory::new(transaction_pool),
		};
		task_manager.spawn_essential_handle().spawn_blocking(
			"grandpa-voter",
			None,
			sc_consensus_grandpa::run_grandpa_voter(grandpa_params)?,
		);
	}

	Ok(task_manager)
}

/// Instant sealing: a block whenever the pool has ready transactions (notifications that
/// arrive while a block is being built are served by the next one), and an empty block every
/// slot duration regardless, so that deadlines counted in blocks keep passing on an idle
/// chain. Every block is finalized as it is sealed. Blocks still carry Aura's slot digest and
/// a timestamp, because the runtime's Aura and Timestamp pallets check them: slot and time
/// advance by at least one slot per block, so under bursts of transactions the chain's clock
/// runs ahead of the wall clock (nothing in the protocol reads it; deadlines are in blocks).
fn start_instant_seal<P>(
	task_manager: &TaskManager,
	client: Arc<FullClient>,
	pool: Arc<P>,
	select_chain: FullSelectChain,
	proposer_factory: sc_basic_authorship::ProposerFactory<P, FullClient>,
) -> Result<(), ServiceError>
where
	P: TransactionPool<Block = Block, Hash = <Block as sp_runtime::traits::Block>::Hash> + 'static,
{
	let slot_duration = sc_consensus_aura::slot_duration(&*client)?;
	let slot_ms = slot_duration.as_millis();
	let idle = Duration::from_millis(slot_ms);

	// `true` asks for a block even when it would be empty (the idle tick).
	let ready = pool.import_notification_stream().map(|_| false);
	let ticks = futures::stream::unfold((), move |()| async move {
		futures_timer::Delay::new(idle).await;
		Some((true, ()))
	});
	let spawner = task_manager.spawn_handle();
	let commands = futures::stream::select(ready, ticks).ready_chunks(1024).map(move |batch| {
		let (sender, outcome) = futures::channel::oneshot::channel::<
			Result<sc_consensus_manual_seal::CreatedBlock<_>, sc_consensus_manual_seal::Error>,
		>();
		spawner.spawn("instant-seal-outcome", Some("block-authoring"), async move {
			match outcome.await {
				Ok(Ok(block)) => log::debug!(target: "instant-seal", "sealed {:?}", block.hash),
				// A notification whose transactions an earlier block already took.
				Ok(Err(sc_consensus_manual_seal::Error::EmptyTransactionPool)) | Err(_) => {},
				Ok(Err(e)) => log::warn!(target: "instant-seal", "could not seal a block: {e}"),
			}
		});
		EngineCommand::SealNewBlock {
			create_empty: batch.contains(&true),
			finalize: true,
			parent_hash: None,
			sender: Some(sender),
		}
	});

	let header_client = client.clone();
	let authorship = sc_consensus_manual_seal::run_manual_seal(ManualSealParams {
		block_import: client.clone(),
		env: proposer_factory,
		client,
		pool,
		commands_stream: Box::pin(commands),
		select_chain,
		consensus_data_provider: Some(Box::new(AuraConsensusDataProvider::new_with_slot_duration(
			slot_duration,
		))),
		create_inherent_data_providers: move |parent_hash, ()| {
			let header_client = header_client.clone();
			async move {
				// The next slot after the parent's (none at genesis), or the current one if later.
				let parent = header_client.header(parent_hash)?.ok_or_else(|| {
					format!("parent block {parent_hash:?} is not in the database")
				})?;
				let next_slot = sc_consensus_aura::find_pre_digest::<Block, AuraSignature>(&parent)
					.map(|slot| u64::from(slot) + 1)
					.unwrap_or(0);
				let now_slot = *sp_timestamp::Timestamp::current() / slot_ms;
				let timestamp = sp_timestamp::InherentDataProvider::new(
					(now_slot.max(next_slot) * slot_ms).into(),
				);
				Ok(timestamp)
			}
		},
	});
	// Block authoring is essential: if it fails, the node stops.
	task_manager.spawn_essential_handle().spawn_blocking(
		"instant-seal",
		Some("block-authoring"),
		authorship,
	);
	Ok(())
}
