//! Command-line interface.

use sc_cli::RunCmd;

/// The node's command line: a subcommand, or the flags of a running node.
#[derive(Debug, clap::Parser)]
pub struct Cli {
	/// A subcommand; without one the node runs.
	#[command(subcommand)]
	pub subcommand: Option<Subcommand>,

	/// Flags of a running node (`--dev`, `--chain`, `--rpc-port`, ...).
	#[clap(flatten)]
	pub run: RunCmd,

	/// How blocks are authored: `instant` (a block as soon as transactions are ready, an
	/// empty one every 2 s otherwise, each final at once; the default for `--dev`) or `aura`
	/// (2 s slots with Grandpa finality, as on a multi-validator chain; the default for every
	/// other chain). An instantly sealed chain's clock may run ahead of the wall clock, so
	/// restarted with `aura` it authors nothing until the wall clock catches up (`purge-chain`
	/// starts over).
	#[arg(long, value_enum)]
	pub sealing: Option<crate::service::Sealing>,
}

/// Subcommands of `node-decentralml`.
#[derive(Debug, clap::Subcommand)]
#[allow(clippy::large_enum_variant)]
pub enum Subcommand {
	/// Key management utilities.
	#[command(subcommand)]
	Key(sc_cli::KeySubcommand),

	/// Write a chain specification (JSON) for `--chain dev|local` or a file.
	BuildSpec(sc_cli::BuildSpecCmd),

	/// Validate blocks.
	CheckBlock(sc_cli::CheckBlockCmd),

	/// Export blocks.
	ExportBlocks(sc_cli::ExportBlocksCmd),

	/// Export the state of a given block into a chain spec.
	ExportState(sc_cli::ExportStateCmd),

	/// Import blocks.
	ImportBlocks(sc_cli::ImportBlocksCmd),

	/// Remove the whole chain database.
	PurgeChain(sc_cli::PurgeChainCmd),

	/// Revert the chain to a previous state.
	Revert(sc_cli::RevertCmd),

	/// Benchmarks: `pallet` (generates weights), `overhead`, `block`, `machine`.
	#[command(subcommand)]
	Benchmark(frame_benchmarking_cli::BenchmarkCmd),

	/// Database meta columns information.
	ChainInfo(sc_cli::ChainInfoCmd),
}
