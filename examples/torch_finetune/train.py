#!/usr/bin/env python3
"""Data-parallel fine-tuning of a small GPT-style character-level language model on CPU.

The default workload of flopledger's examples and end-to-end tests. It needs nothing from
flopledger: run it as a plain process, under ``mpirun -np N`` (torch.distributed with gloo; MPI
is only the launcher), under ``srun``, or under ``flopledger run -n N -- python train.py``. When
the flopledger runtime is loaded into the process it also uses the C API through ctypes: one
``flopledger_step_end(tokens)`` after every optimizer step, and ``flopledger_set_phase`` around
evaluation passes.

The base model is built from a config with seeded random weights (nothing is downloaded) and
fine-tuned on ``corpus.txt`` next to this file (or ``--corpus``).

Model: token embedding + learned position embedding, ``--layers`` pre-LayerNorm blocks of causal
multi-head self-attention (qkv and output projections with nn.Linear, scores and weighted sum with
torch.bmm) and a GELU MLP (d -> 4d -> d), a final LayerNorm and an untied LM head (d -> vocab).
Every matrix product goes through BLAS: torch 1.13 runs bmm with m*n*k < 400 in its own loop,
so the script refuses shapes whose attention products would be that small.

Launcher environment: rank and world size from OMPI_COMM_WORLD_RANK/SIZE (mpirun), else
PMIX_RANK with SLURM_NTASKS, else SLURM_PROCID/SLURM_NTASKS; otherwise a single process with no
torch.distributed at all. Rendezvous: env:// when MASTER_ADDR and MASTER_PORT are set, else a
FileStore in the system temp directory named after the launcher's job id
(OMPI_MCA_ess_base_jobid, OMPI_MCA_orte_ess_jobid, PMIX_NAMESPACE, SLURM_JOB_ID.SLURM_STEP_ID).

Output (rank 0): ``vocab=<V> params=<P> world_size=<W>``, ``step=<s> loss=<x>`` every few steps,
``eval step=<s> loss=<x>`` after each evaluation, and at the end
``final_loss=<x> steps=<n> tokens_per_rank=<n> seconds=<t> train_seconds=<t>`` (x printed with
repr: bit-identical runs print identical lines; ``train_seconds``: the training loop alone, with
its evaluations, measured with a monotonic clock, for benchmarks).

``--aws-token-meter`` (off by default) is a benchmark aid, not a feature: it adds to the loop the
per-micro-step work of AWS's Fine-Tuning FLOPs Meter (``sagemaker_code/flops_meter.py``:
``TokenCountingTrainer.training_step`` + ``FlopsMeterCallback.add_tokens``), so that
``tests/bench/e2e_overhead.py`` can time that approach in the same job: before each forward pass,
count the batch's non-padding tokens on the CPU, ``int((ids.detach().to("cpu") != pad).sum()
.item())``, then all-reduce that count (a float64 CPU tensor, SUM) and accumulate it; at the end
rank 0 prints ``aws_tokens_processed=<n> aws_flops_architecture=<x>`` with AWS's
``(4.0 * N_total + 2.0 * N_trainable) * tokens`` in floating point (N_total = N_trainable =
every parameter: a full fine-tune). The pad id is AWS's default, -100 (its Trainer reads
``args.pad_token_id``, which ``TrainingArguments`` does not have): a character model has no
padding, so every token counts, as it should.
"""

import argparse
import ctypes
import math
import os
import sys
import tempfile
import time


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=20, help="optimizer steps (default 20)")
    p.add_argument("--batch-size", type=int, default=8, help="sequences per rank per step")
    p.add_argument("--seq-len", type=int, default=64, help="characters per sequence")
    p.add_argument("--d-model", type=int, default=128)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--lr", type=float, default=3e-3, help="AdamW learning rate")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--threads", type=int, default=1, help="intra-op threads per rank (default 1)")
    p.add_argument("--eval-every", type=int, default=10,
                   help="evaluate after every K steps (0: never)")
    p.add_argument("--eval-batches", type=int, default=1, help="batches per evaluation pass")
    p.add_argument("--log-every", type=int, default=5, help="print the loss every K steps")
    p.add_argument("--corpus", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                    "corpus.txt"))
    p.add_argument("--checkpoint-dir", default=None,
                   help="save a checkpoint here (one file per rank) when flopledger's budget "
                        "guard stops the run, and at the end")
    p.add_argument("--resume", default=None, metavar="DIR",
                   help="resume from the checkpoint in DIR (same --world size)")
    p.add_argument("--no-model-declaration", action="store_true",
                   help="do not declare the model to flopledger (no analytic estimate)")
    p.add_argument("--exit-code", type=int, default=None,
                   help="after training, exit with this status (for tests)")
    p.add_argument("--aws-token-meter", action="store_true",
                   help="benchmark aid: also do AWS's FLOPs Meter per-micro-step token count and "
                        "all-reduce (see the module docstring)")
    args = p.parse_args(argv)
    for name in ("steps", "eval_every", "eval_batches"):
        if getattr(args, name) < 0:
            p.error(f"--{name.replace('_', '-')} must be >= 0")
    for name in ("batch_size", "seq_len", "d_model", "layers", "heads", "threads", "log_every"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.d_model % args.heads != 0:
        p.error("--d-model must be a multiple of --heads")
    head_dim = args.d_model // args.heads
    # Attention products: (T x hd) @ (hd x T) and (T x T) @ (T x hd), both m*n*k = T*T*hd.
    if args.seq_len * args.seq_len * head_dim < 400:
        p.error("seq_len^2 * (d_model/heads) must be >= 400: smaller batched products bypass BLAS")
    if args.exit_code is not None and not 0 <= args.exit_code <= 255:
        p.error("--exit-code must be in 0..255")
    return args


def launcher_world():
    """(rank, world_size, job_id) from the launcher's environment; (0, 1, None) without one."""
    env = os.environ
    if "OMPI_COMM_WORLD_RANK" in env and "OMPI_COMM_WORLD_SIZE" in env:
        rank, size = int(env["OMPI_COMM_WORLD_RANK"]), int(env["OMPI_COMM_WORLD_SIZE"])
    elif "PMIX_RANK" in env and "SLURM_NTASKS" in env:
        rank, size = int(env["PMIX_RANK"]), int(env["SLURM_NTASKS"])
    elif "SLURM_PROCID" in env and "SLURM_NTASKS" in env:
        rank, size = int(env["SLURM_PROCID"]), int(env["SLURM_NTASKS"])
    else:
        return 0, 1, None
    job_id = None
    for key in ("OMPI_MCA_ess_base_jobid", "OMPI_MCA_orte_ess_jobid", "PMIX_NAMESPACE"):
        if env.get(key):
            job_id = env[key]
            break
    if job_id is None and env.get("SLURM_JOB_ID"):
        job_id = env["SLURM_JOB_ID"] + "." + env.get("SLURM_STEP_ID", "0")
    return rank, size, job_id


class FlopLedger:
    """The flopledger C API through ctypes, when the runtime is loaded; otherwise no-ops."""

    PHASE_TRAIN, PHASE_EVAL = 0, 2
    SIGNATURES = {
        "flopledger_step_end": ([ctypes.c_uint64], ctypes.c_int),
        "flopledger_set_phase": ([ctypes.c_int], ctypes.c_int),
        "flopledger_declare_model": ([ctypes.c_char_p], ctypes.c_int),
        "flopledger_should_stop": ([], ctypes.c_int),
        "flopledger_set_step": ([ctypes.c_uint64], ctypes.c_int),
        "flopledger_get_step": ([], ctypes.c_uint64),
    }

    def __init__(self):
        self.fn = {}
        try:
            lib = ctypes.CDLL(None)
        except OSError:
            return
        for name, (argtypes, restype) in self.SIGNATURES.items():
            if hasattr(lib, name):
                f = getattr(lib, name)
                f.argtypes, f.restype = argtypes, restype
                self.fn[name] = f

    @property
    def present(self):
        return "flopledger_step_end" in self.fn

    def call(self, name, *args, default=None):
        f = self.fn.get(name)
        return f(*args) if f is not None else default

    def step_end(self, tokens):
        self.call("flopledger_step_end", tokens)

    def set_phase(self, phase):
        self.call("flopledger_set_phase", phase)

    def declare_model(self, spec):
        import json
        return self.call("flopledger_declare_model", json.dumps(spec).encode())

    def should_stop(self):
        """Collective: every rank calls it after every step and gets the same answer."""
        return self.call("flopledger_should_stop", default=0) == 1

    def set_step(self, step):
        self.call("flopledger_set_step", step)


def main(argv):
    args = parse_args(argv)
    # OpenBLAS has its own thread pool: size it before torch loads OpenBLAS.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(args.threads))
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))

    import torch
    import torch.distributed as dist
    import torch.nn as nn
    import torch.nn.functional as F

    torch.set_num_threads(args.threads)
    rank, world, job_id = launcher_world()

    store_path = None
    if world > 1:
        if os.environ.get("MASTER_ADDR") and os.environ.get("MASTER_PORT"):
            init_method = "env://"
        elif job_id is not None:
            safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in job_id)
            store_path = os.path.join(tempfile.gettempdir(), f"torch_finetune.{safe}.store")
            init_method = "file://" + store_path
        else:
            sys.exit("train.py: world size > 1 but no MASTER_ADDR/MASTER_PORT and no launcher "
                     "job id to name a rendezvous file")
        dist.init_process_group("gloo", init_method=init_method, rank=rank, world_size=world)

    ledger = FlopLedger()

    with open(args.corpus, encoding="utf-8") as f:
        text = f.read()
    chars = sorted(set(text))
    vocab = len(chars)
    index = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([index[c] for c in text], dtype=torch.long)
    if data.numel() < args.seq_len + 2:
        sys.exit(f"train.py: corpus {args.corpus} is shorter than --seq-len")
    split = int(0.9 * data.numel())
    train_data, eval_data = data[:split], data[split:]
    if eval_data.numel() < args.seq_len + 2:
        eval_data = train_data

    class CausalSelfAttention(nn.Module):
        def __init__(self, d, heads, seq_len):
            super().__init__()
            self.heads, self.head_dim = heads, d // heads
            self.qkv = nn.Linear(d, 3 * d)
            self.proj = nn.Linear(d, d)
            # A plain attribute, not a buffer: gloo cannot broadcast bool tensors, and the mask
            # is the same on every rank anyway.
            self.mask = torch.triu(torch.ones(seq_len, seq_len, dtype=torch.bool), diagonal=1)

        def forward(self, x):
            b, t, d = x.shape
            h, hd = self.heads, self.head_dim
            q, k, v = self.qkv(x).split(d, dim=2)
            # (b, t, d) -> (b*h, t, hd), contiguous so that bmm sees plain strided matrices.
            q = q.reshape(b, t, h, hd).transpose(1, 2).reshape(b * h, t, hd)
            k = k.reshape(b, t, h, hd).transpose(1, 2).reshape(b * h, t, hd)
            v = v.reshape(b, t, h, hd).transpose(1, 2).reshape(b * h, t, hd)
            scores = torch.bmm(q, k.transpose(1, 2)) * (1.0 / math.sqrt(hd))
            scores = scores.masked_fill(self.mask[:t, :t], float("-inf"))
            weights = F.softmax(scores, dim=-1)
            y = torch.bmm(weights, v)  # (b*h, t, hd)
            y = y.reshape(b, h, t, hd).transpose(1, 2).reshape(b, t, d)
            return self.proj(y)

    class Block(nn.Module):
        def __init__(self, d, heads, seq_len):
            super().__init__()
            self.ln1 = nn.LayerNorm(d)
            self.attn = CausalSelfAttention(d, heads, seq_len)
            self.ln2 = nn.LayerNorm(d)
            self.fc = nn.Linear(d, 4 * d)
            self.out = nn.Linear(4 * d, d)

        def forward(self, x):
            x = x + self.attn(self.ln1(x))
            return x + self.out(F.gelu(self.fc(self.ln2(x))))

    class TinyGPT(nn.Module):
        def __init__(self, vocab, d, layers, heads, seq_len):
            super().__init__()
            self.tok = nn.Embedding(vocab, d)
            self.pos = nn.Embedding(seq_len, d)
            self.blocks = nn.ModuleList(Block(d, heads, seq_len) for _ in range(layers))
            self.ln_f = nn.LayerNorm(d)
            self.head = nn.Linear(d, vocab, bias=False)

        def forward(self, idx):
            t = idx.shape[1]
            x = self.tok(idx) + self.pos(torch.arange(t))
            for block in self.blocks:
                x = block(x)
            return self.head(self.ln_f(x))

    # The "base model": the same seeded random weights on every rank (DDP also broadcasts them).
    torch.manual_seed(args.seed)
    model = TinyGPT(vocab, args.d_model, args.layers, args.heads, args.seq_len)
    params = sum(p.numel() for p in model.parameters())
    ddp = model
    if world > 1:
        ddp = nn.parallel.DistributedDataParallel(model)
    optimizer = torch.optim.AdamW(ddp.parameters(), lr=args.lr, weight_decay=0.01)

    # The model, declared once for flopledger's analytic estimate (docs/methods.md): every
    # matrix product of the model is described by this structure; embeddings are lookups.
    if not args.no_model_declaration:
        ledger.declare_model({
            "name": f"TinyGPT d={args.d_model} layers={args.layers} heads={args.heads}",
            "params_total": params, "params_trainable": params,
            "layers": args.layers, "hidden": args.d_model, "heads": args.heads,
            "ffn_hidden": 4 * args.d_model, "vocab": vocab, "seq_len": args.seq_len,
            "causal": True,
        })

    # Each rank draws its own batches (data parallelism), reproducibly.
    train_gen = torch.Generator().manual_seed(args.seed * 1009 + rank)
    eval_gen = torch.Generator().manual_seed(args.seed * 7919 + rank)

    def checkpoint_file(directory):
        return os.path.join(directory, f"rank{rank}.pt")

    def save_checkpoint(step):
        os.makedirs(args.checkpoint_dir, exist_ok=True)
        torch.save({"step": step, "world": world, "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(), "train_gen": train_gen.get_state(),
                    "eval_gen": eval_gen.get_state()}, checkpoint_file(args.checkpoint_dir))

    start_step = 0
    if args.resume:
        state = torch.load(checkpoint_file(args.resume))
        if state["world"] != world:
            sys.exit(f"train.py: the checkpoint in {args.resume} was saved by {state['world']} "
                     f"ranks, this run has {world}")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        train_gen.set_state(state["train_gen"])
        eval_gen.set_state(state["eval_gen"])
        start_step = state["step"]
        ledger.set_step(start_step)  # the ledger's step numbering continues after the checkpoint
        if rank == 0:
            print(f"resumed step={start_step} from {args.resume}", flush=True)

    def batch(source, gen):
        starts = torch.randint(0, source.numel() - args.seq_len - 1, (args.batch_size,),
                               generator=gen)
        x = torch.stack([source[s:s + args.seq_len] for s in starts.tolist()])
        y = torch.stack([source[s + 1:s + 1 + args.seq_len] for s in starts.tolist()])
        return x, y

    held = []  # tensors given to collectives stay alive until the process group is gone

    def reduce_mean(value):
        t = torch.tensor([value], dtype=torch.float64)
        if world > 1:
            dist.all_reduce(t)
            held.append(t)
        return t.item() / world

    def evaluate(step):
        ledger.set_phase(FlopLedger.PHASE_EVAL)
        model.eval()
        total = 0.0
        with torch.no_grad():
            for _ in range(args.eval_batches):
                x, y = batch(eval_data, eval_gen)
                logits = model(x)
                total += F.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1)).item()
        model.train()
        ledger.set_phase(FlopLedger.PHASE_TRAIN)
        loss = reduce_mean(total / args.eval_batches)
        if rank == 0:
            print(f"eval step={step} loss={loss:.4f}", flush=True)

    if rank == 0:
        print(f"vocab={vocab} params={params} world_size={world} "
              f"flopledger_api={'present' if ledger.present else 'absent'}", flush=True)

    # AWS's Fine-Tuning FLOPs Meter, per micro-step (--aws-token-meter; see the docstring).
    aws_pad_token_id = -100
    aws_tokens_processed = 0

    def aws_count_and_reduce_tokens(ids):
        n = int((ids.detach().to("cpu") != aws_pad_token_id).sum().item())
        if n > 0:
            if world > 1:
                t = torch.tensor([float(n)], dtype=torch.float64, device=torch.device("cpu"))
                dist.all_reduce(t, op=dist.ReduceOp.SUM)
                held.append(t)  # see reduce_mean
                n = int(float(t.item()))
            return n
        return 0

    tokens_per_step = args.batch_size * args.seq_len
    started = time.time()
    loop_started = time.perf_counter()
    last_loss = float("nan")
    stopped_at = None
    step = start_step
    model.train()
    for step in range(start_step + 1, args.steps + 1):
        x, y = batch(train_data, train_gen)
        if args.aws_token_meter:
            aws_tokens_processed += aws_count_and_reduce_tokens(x)
        logits = ddp(x)
        loss = F.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        ledger.step_end(tokens_per_step)
        last_loss = reduce_mean(loss.item())
        if rank == 0 and (step % args.log_every == 0 or step == 1 or step == args.steps):
            print(f"step={step} loss={last_loss:.4f}", flush=True)
        if args.eval_every > 0 and step % args.eval_every == 0:
            evaluate(step)
        # The budget guard: every rank gets the same answer at the same step.
        if ledger.should_stop():
            stopped_at = step
            break
    train_seconds = time.perf_counter() - loop_started

    if args.checkpoint_dir:
        save_checkpoint(step)
    if rank == 0:
        if stopped_at is not None:
            print(f"budget_stop step={stopped_at} checkpoint={args.checkpoint_dir}", flush=True)
        done = step - start_step
        print(f"final_loss={last_loss!r} steps={done} "
              f"tokens_per_rank={done * tokens_per_step} "
              f"seconds={time.time() - started:.2f} train_seconds={train_seconds:.4f}",
              flush=True)
        if args.aws_token_meter:
            aws_flops = (4.0 * params + 2.0 * params) * float(aws_tokens_processed)
            print(f"aws_tokens_processed={aws_tokens_processed} "
                  f"aws_flops_architecture={aws_flops!r}", flush=True)

    if world > 1:
        dist.barrier()
        # torch 1.13 + gloo: a gloo worker thread releases each finished work item after the
        # caller has seen it complete; dropping the last reference to a tensor that has a Python
        # object needs the GIL. If the process group is destroyed (joining those threads, GIL
        # held) in that window, the process deadlocks at exit. Let the workers go idle with the
        # GIL released, then tear DDP and the group down explicitly, before interpreter shutdown.
        time.sleep(0.2)
        del ddp
        dist.destroy_process_group()
        held.clear()
        if rank == 0 and store_path is not None:
            try:
                os.remove(store_path)
            except FileNotFoundError:
                pass
    if args.exit_code is not None:
        return args.exit_code  # a normal exit (atexit handlers and destructors run)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
