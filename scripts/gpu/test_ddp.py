"""The generated PyTorch binding under DistributedDataParallel on every GPU of the machine (one process
each, NCCL): the small GPT of examples/torch/gpt.py with mhc_n4 connections, the same initial weights
on every rank, each rank a slice of one batch. After one step the gradients of every parameter must
be the same on all ranks (DDP's all-reduce ran through the connections' autograd) and equal, within
fp32 summation order, to one process's gradient of the whole batch; a few AdamW steps later the ranks'
weights must still agree bit for bit. Prints PASS/FAIL lines from rank 0; exit 1 on any failure.
Needs two or more GPUs. MHC_GPU_GEN=DIR takes another generated tree. --fsdp: the same checks with
the model sharded by FSDP2 (torch.distributed.fsdp.fully_shard, each sublayer's connection and the
whole model) instead of DDP; gradients and weights are compared as full tensors.

Usage: python3 scripts/gpu/test_ddp.py [--fsdp]
"""
import os
import sys

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "examples", "torch"))
import mhc_gpu as G  # noqa: E402

BATCH, CONTEXT = 8, 64
FSDP = "--fsdp" in sys.argv


def model(dev):
    from gpt import GPT, load_binding
    binding, cls = load_binding(G.GEN, "mhc_n4")
    torch.manual_seed(0)
    return GPT(256, 256, 4, 2, CONTEXT, connection=cls, binding=binding).to(dev)


def data(dev):
    gen = torch.Generator().manual_seed(1)
    x = torch.randint(0, 256, (BATCH, CONTEXT), generator=gen)
    y = torch.randint(0, 256, (BATCH, CONTEXT), generator=gen)
    return x.to(dev), y.to(dev)


def loss_of(m, x, y):
    """The GPT's loss through m's forward (m may be the DDP wrapper, whose forward runs its hooks)."""
    with torch.autocast("cuda", dtype=torch.bfloat16):
        logits = m(x)
    return torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1))


def full(t):
    """A tensor as a whole: an FSDP2 shard (DTensor) gathered, anything else as it is."""
    return t.full_tensor() if hasattr(t, "full_tensor") else t


def worker(rank, world, port, out):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), NCCL_NVLS_ENABLE="0")
    torch.cuda.set_device(rank)
    dev = torch.device("cuda", rank)
    dist.init_process_group("nccl", rank=rank, world_size=world)
    report = G.Checks()
    try:
        x, y = data(dev)
        share = BATCH // world
        m = model(dev)
        if FSDP:
            from torch.distributed.fsdp import fully_shard
            for conn in m.connections:
                fully_shard(conn)
            wrapped = fully_shard(m)
        else:
            wrapped = torch.nn.parallel.DistributedDataParallel(m, device_ids=[rank])
        name = "FSDP2" if FSDP else "DDP"
        loss_of(wrapped, x[rank * share:(rank + 1) * share], y[rank * share:(rank + 1) * share]).backward()
        grads = torch.cat([full(p.grad).float().flatten() for p in m.parameters()])  # (gathering shards: on every rank)
        conn = torch.cat([full(p.grad).float().flatten() for p in m.connections.parameters()])
        gathered = [torch.empty_like(grads) for _ in range(world)]
        dist.all_gather(gathered, grads)
        if rank == 0:
            same = all(torch.equal(gathered[0], g) for g in gathered[1:])
            report(same, f"gradients equal on all {world} ranks after {name}'s reduction")
            whole = model(dev)
            loss_of(whole, x[:share * world], y[:share * world]).backward()
            ref = torch.cat([p.grad.float().flatten() for p in whole.parameters()])
            err = ((grads - ref).abs().max() / ref.abs().max()).item()
            conn_ref = torch.cat([p.grad.float().flatten() for p in whole.connections.parameters()])
            conn_err = ((conn - conn_ref).abs().max() / conn_ref.abs().max()).item()
            report(err < 1e-2 and conn_err < 1e-2, f"{name} gradient equals one process's gradient of the whole batch",
                   f"max rel err {err:.2e}, connections {conn_err:.2e}")
        opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
        for _ in range(3):
            opt.step()
            opt.zero_grad(set_to_none=True)
            loss_of(wrapped, x[rank * share:(rank + 1) * share], y[rank * share:(rank + 1) * share]).backward()
        weights = torch.cat([full(p.detach()).float().flatten() for p in m.parameters()])
        gathered = [torch.empty_like(weights) for _ in range(world)]
        dist.all_gather(gathered, weights)
        if rank == 0:
            report(all(torch.equal(gathered[0], w) for w in gathered[1:]), "weights equal on all ranks after 3 AdamW steps")
        if FSDP and rank == 0:  # pre() is not forward: no hook gathers the sharded parameters, and the binding says so
            conn0 = m.connections[0]
            xs = torch.zeros(2, conn0.n, conn0.C, device=dev, dtype=torch.bfloat16)
            try:
                conn0.pre(xs)
                report(False, "pre() on sharded parameters refused with a message", "no error raised")
            except ValueError as e:
                report("module itself" in str(e), "pre() on sharded parameters refused with a message", str(e)[:120])
    except Exception as e:  # noqa: BLE001
        report(False, f"rank {rank}", f"{type(e).__name__}: {str(e)[:400]}")
    if rank == 0:
        out.put(report.failures)
    dist.destroy_process_group()


def main():
    world = torch.cuda.device_count()
    if world < 2:
        print("test_ddp needs two or more GPUs", flush=True)
        sys.exit(2)
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=worker, args=(r, world, 29517, out)) for r in range(world)]
    for p in procs:
        p.start()
    failures = out.get(timeout=600)
    for p in procs:
        p.join(timeout=120)
    bad = [p.exitcode for p in procs if p.exitcode != 0]
    print(f"{'PASS' if failures == 0 and not bad else 'FAIL'} test_ddp{' --fsdp' if FSDP else ''} on {world} GPUs: {failures} failure(s){f', exit codes {bad}' if bad else ''}", flush=True)
    sys.exit(1 if failures or bad else 0)


if __name__ == "__main__":
    main()
