// Compatibility check with a client nobody here wrote: @polkadot/api.
//
// Usage: node polkadot_api_check.mjs <ws-url> [<block-hash> <model-id>]
//
// Connects to node-decentralml, reads the metadata, finds the DecentralML pallet's calls,
// storage and events, decodes the events and extrinsics of a block (the one that registered
// <model-id>, when given) and signs a transfer with its own keyring. Prints one JSON object
// on stdout; exits 1 with a reason on stderr when anything is missing or fails.
import { ApiPromise, WsProvider, Keyring } from '@polkadot/api';
import { blake2AsHex, cryptoWaitReady } from '@polkadot/util-crypto';

const [url, blockHash, modelId] = process.argv.slice(2);
if (!url) {
  console.error('usage: node polkadot_api_check.mjs <ws-url> [<block-hash> <model-id>]');
  process.exit(2);
}

function fail(msg) {
  throw new Error(msg);
}

async function main() {
  await cryptoWaitReady();
  const provider = new WsProvider(url, false);
  await provider.connect();
  const api = await ApiPromise.create({ provider, throwOnConnect: true, noInitWarn: true });
  const out = {};
  try {
    const version = api.runtimeVersion;
    out.specName = version.specName.toString();
    out.specVersion = version.specVersion.toNumber();
    if (out.specName !== 'decentralml') fail(`spec_name is ${out.specName}, expected decentralml`);

    out.pallets = api.runtimeMetadata.asLatest.pallets.map((p) => p.name.toString());
    for (const p of ['System', 'Balances', 'Assets', 'SafetyCouncil', 'SafetyCouncilMembership', 'DecentralMl']) {
      if (!out.pallets.includes(p)) fail(`pallet ${p} missing from metadata`);
    }
    out.calls = Object.keys(api.tx.decentralMl ?? {});
    out.storage = Object.keys(api.query.decentralMl ?? {});
    out.events = Object.keys(api.events.decentralMl ?? {});
    out.errors = Object.keys(api.errors.decentralMl ?? {});
    for (const c of ['registerModel', 'retireModel', 'commitUpdate', 'revealUpdate']) if (!out.calls.includes(c)) fail(`call decentralMl.${c} missing`);
    for (const s of ['models', 'nextModelId', 'commitments', 'updates']) if (!out.storage.includes(s)) fail(`storage decentralMl.${s} missing`);
    for (const e of ['ModelRegistered', 'ModelRetired', 'UpdateCommitted', 'UpdateRevealed']) if (!out.events.includes(e)) fail(`event decentralMl.${e} missing`);
    // An update commitment composed by this client's own SCALE codec and hasher: the vector
    // pinned in the pallet's tests (commitment_encoding_is_pinned) and in the Python client's.
    const encoded = api.registry
      .createType('(u32, u32, [u8; 32], Bytes, [u8; 32], u64, [u8; 32])', [
        7,
        3,
        new Uint8Array(32).fill(2),
        // a plain array: a Uint8Array would be read as already length-prefixed
        Array.from(new TextEncoder().encode('bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')),
        new Uint8Array(32).fill(1),
        1000,
        new Uint8Array(32).fill(9),
      ])
      .toU8a();
    out.commitment = blake2AsHex(encoded, 256).slice(2);
    // The call's argument types as the metadata declares them.
    out.revealArgs = api.tx.decentralMl.revealUpdate.meta.args.map((a) => a.name.toString());

    const hash = blockHash ?? (await api.rpc.chain.getFinalizedHead()).toHex();
    const [signedBlock, apiAt] = await Promise.all([api.rpc.chain.getBlock(hash), api.at(hash)]);
    const events = await apiAt.query.system.events();
    out.block = { hash, number: signedBlock.block.header.number.toNumber() };
    out.blockEvents = events.map(({ event }) => `${event.section}.${event.method}`);
    out.blockExtrinsics = signedBlock.block.extrinsics.map((x) => `${x.method.section}.${x.method.method}`);
    if (modelId !== undefined) {
      const registered = events.find(
        ({ event }) => event.section === 'decentralMl' && event.method === 'ModelRegistered',
      );
      if (!registered) fail(`no decentralMl.ModelRegistered event in block ${hash}`);
      const data = registered.event.data;
      out.registeredModel = { modelId: data.modelId.toNumber(), owner: data.owner.toString(), deposit: data.deposit.toString() };
      if (out.registeredModel.modelId !== Number(modelId)) fail(`event names model ${out.registeredModel.modelId}, expected ${modelId}`);
      if (!out.blockExtrinsics.includes('decentralMl.registerModel')) fail('block has no decentralMl.registerModel extrinsic');
      const model = await api.query.decentralMl.models(Number(modelId));
      if (model.isNone) fail(`decentralMl.models(${modelId}) is empty`);
      out.model = model.unwrap().toHuman();
    }

    // Sign with @polkadot/api's own keyring: proves the transaction extensions are compatible.
    const keyring = new Keyring({ type: 'sr25519' });
    const alice = keyring.addFromUri('//Alice');
    const dave = keyring.addFromUri('//Dave');
    const amount = 1_000_000_000_000n; // 1 DML
    out.transfer = await new Promise((resolve, reject) => {
      let unsub = () => {};
      const timer = setTimeout(() => { unsub(); reject(new Error('transfer not included within 60 s')); }, 60_000);
      api.tx.balances
        .transferKeepAlive(dave.address, amount)
        .signAndSend(alice, ({ status, dispatchError, events: evs }) => {
          // A block sealed and finalized at once (instant sealing) may report Finalized only.
          if (!status.isInBlock && !status.isFinalized) return;
          clearTimeout(timer);
          unsub();
          if (dispatchError) {
            reject(new Error(`transfer failed: ${dispatchError.toString()}`));
            return;
          }
          const transfer = evs.find(({ event }) => event.section === 'balances' && event.method === 'Transfer');
          if (!transfer) { reject(new Error('no balances.Transfer event')); return; }
          resolve({ inBlock: (status.isInBlock ? status.asInBlock : status.asFinalized).toHex(), amount: transfer.event.data.amount.toString() });
        })
        .then((u) => { unsub = u; })
        .catch(reject);
    });
    if (out.transfer.amount !== amount.toString()) fail(`transferred ${out.transfer.amount}, expected ${amount}`);
  } finally {
    await api.disconnect();
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`polkadot-api check failed: ${err.message}`);
    process.exit(1);
  },
);
