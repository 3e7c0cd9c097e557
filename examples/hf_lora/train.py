#!/usr/bin/env python3
"""LoRA fine-tuning of a tiny Llama-architecture model with Hugging Face `Trainer` + PEFT, on CPU.

The Hugging Face workload of flopledger's tests and peers benchmark. The base model is built
from a LlamaConfig with seeded random weights (nothing is downloaded; the hub is never asked),
the data set is synthetic: `--examples` sequences of token ids of seeded random lengths in
[seq_len/2, seq_len], right-padded to `--seq-len` with an attention mask (so padding is real and
the non-padding token count differs from batch x seq_len). Python: an interpreter with
transformers, peft and accelerate, e.g. the one `bash .ci/python-venv.sh` prints (docs/python.md);
the callback needs `pip install ./python` (or PYTHONPATH=python).

    python train.py                      # one process
    mpirun -np 2 python train.py         # DDP on gloo, one process per rank
    flopledger run -n 2 -- python train.py               # metered, no code change
    flopledger run -n 2 -- python train.py --callback    # + flopledger.hf.FlopledgerCallback

Options for tests: --spy-markers appends `marker event=eval_begin|eval_end` lines to the BLAS
spy's log of this process (tests/support/blas_spy.c) around every evaluation, so that a test
can split the spy's independent count into evaluation and training; --resume DIR resumes from a
checkpoint; --flop-counter counts the training (and its evaluations) at the aten level with
aten_flops.py (FlopCounterMode, or its port to torch 1.13) and prints `aten_flops_rank<r>=<n>`.

Output (rank 0): `params_total=<n> params_trainable=<n>`, `dataset_tokens=<n>` (non-padding), then
`trainer_steps=<n> max_steps=<n> train_loss=<x> total_flos=<n> stopped_early=<0|1>
train_runtime=<s>`; every rank
prints `tokens_rank<r>=<n> seqsq_rank<r>=<n>`: the non-padding tokens of the training batches it
ran and the sum of their sequence lengths squared, counted by the script itself.
"""

import argparse
import os
import sys
import tempfile


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--examples", type=int, default=48, help="training sequences (default 48)")
    p.add_argument("--eval-examples", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=4, help="per rank (default 4)")
    p.add_argument("--seq-len", type=int, default=32)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--kv-heads", type=int, default=2)
    p.add_argument("--ffn", type=int, default=128)
    p.add_argument("--vocab", type=int, default=256)
    p.add_argument("--lora-rank", type=int, default=4)
    p.add_argument("--lora-targets", default="q_proj,v_proj")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--grad-accum", type=int, default=1, help="gradient accumulation steps")
    p.add_argument("--eval-steps", type=int, default=3, help="evaluate every K steps (0: never)")
    p.add_argument("--save-steps", type=int, default=0, help="checkpoint every K steps (0: never)")
    p.add_argument("--output-dir", default=None)
    p.add_argument("--resume", default=None, metavar="DIR")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--callback", action="store_true", help="use flopledger.hf.FlopledgerCallback")
    p.add_argument("--spy-markers", action="store_true")
    p.add_argument("--full", action="store_true", help="full fine-tune instead of LoRA")
    p.add_argument("--flop-counter", action="store_true",
                   help="count the job at the aten level (aten_flops.py) and print it")
    args = p.parse_args(argv)
    for name in ("examples", "batch_size", "seq_len", "hidden", "layers", "heads", "kv_heads",
                 "vocab", "epochs", "grad_accum"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    # torch 1.13 runs batched products with m*n*k < 400 in its own loop, not BLAS: keep the
    # attention products (padded length T: T x hd x T) on BLAS. (The rotary embedding's tiny
    # product is below it whatever the shapes: docs/peers.md.)
    if args.seq_len * args.seq_len * (args.hidden // args.heads) < 400:
        p.error("--seq-len and --hidden/--heads too small: attention products would bypass BLAS")
    return args


def launcher_world():
    """(rank, world_size, job_id) from Open MPI's or SLURM's environment; (0, 1, None) alone."""
    env = os.environ
    for r, s in (("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"), ("PMIX_RANK", "SLURM_NTASKS"),
                 ("SLURM_PROCID", "SLURM_NTASKS")):
        if r in env and s in env:
            rank, size = int(env[r]), int(env[s])
            break
    else:
        return 0, 1, None
    job = next((env[k] for k in ("OMPI_MCA_ess_base_jobid", "OMPI_MCA_orte_ess_jobid",
                                 "PMIX_NAMESPACE", "SLURM_JOB_ID") if env.get(k)), None)
    return rank, size, job


def spy_marker(event):
    """Appends a marker line to this process's BLAS spy log (one write, like the spy's)."""
    d = os.environ.get("BLAS_SPY_DIR")
    if d:
        fd = os.open(os.path.join(d, f"spy.{os.getpid()}.log"),
                     os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"marker event={event}\n".encode())
        finally:
            os.close(fd)


def say(line):
    """One line on stdout in one write, starting on a line of its own: every rank prints, and
    mpirun interleaves the ranks' writes (print() writes the text and the newline separately,
    as Trainer's own log lines do)."""
    sys.stdout.write("\n" + line + "\n")
    sys.stdout.flush()


def main(argv):
    args = parse_args(argv)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    rank, world, job = launcher_world()

    import torch
    import torch.distributed as dist
    torch.set_num_threads(1)
    if world > 1:
        # Trainer (accelerate) finds torch.distributed from RANK/WORLD_SIZE/LOCAL_RANK; the
        # rendezvous is a file named after the launcher's job id (no port to collide on).
        os.environ.update({"RANK": str(rank), "WORLD_SIZE": str(world),
                           "LOCAL_RANK": os.environ.get("OMPI_COMM_WORLD_LOCAL_RANK", str(rank)),
                           "LOCAL_WORLD_SIZE": os.environ.get("OMPI_COMM_WORLD_LOCAL_SIZE",
                                                              str(world))})
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", "29500")
        if not job:
            sys.exit("hf_lora/train.py: world size > 1 but no launcher job id")
        safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in job)
        store = os.path.join(tempfile.gettempdir(), f"hf_lora.{safe}.store")
        dist.init_process_group("gloo", init_method="file://" + store, rank=rank,
                                world_size=world)

    if world > 1:
        # Trainer maps checkpoints to args.device, which is "cpu:<local rank>" on a multi-process
        # CPU job; torch 1.13's loader only knows "cpu". Teach it that any cpu:N is the CPU.
        def restore_cpu(obj, location):
            return obj if location.startswith("cpu:") else None

        torch.serialization.register_package(11, lambda obj: None, restore_cpu)

    from transformers import (LlamaConfig, LlamaForCausalLM, Trainer, TrainingArguments,
                              set_seed)
    from transformers.utils import logging as hf_logging
    hf_logging.set_verbosity_error()
    set_seed(args.seed)

    config = LlamaConfig(vocab_size=args.vocab, hidden_size=args.hidden,
                         intermediate_size=args.ffn, num_hidden_layers=args.layers,
                         num_attention_heads=args.heads, num_key_value_heads=args.kv_heads,
                         max_position_embeddings=max(64, args.seq_len), pad_token_id=0,
                         tie_word_embeddings=False, attn_implementation="eager")
    config._attn_implementation = "eager"
    model = LlamaForCausalLM(config)
    if not args.full:
        from peft import LoraConfig, get_peft_model
        model = get_peft_model(model, LoraConfig(r=args.lora_rank, lora_alpha=2 * args.lora_rank,
                                                 target_modules=args.lora_targets.split(","),
                                                 lora_dropout=0.0, task_type="CAUSAL_LM"))

    def make(count, seed):
        g = torch.Generator().manual_seed(seed)
        rows = []
        for _ in range(count):
            n = int(torch.randint(args.seq_len // 2, args.seq_len + 1, (1,), generator=g))
            ids = torch.randint(1, args.vocab, (n,), generator=g)
            pad = args.seq_len - n
            input_ids = torch.cat([ids, torch.zeros(pad, dtype=torch.long)])
            mask = torch.cat([torch.ones(n, dtype=torch.long), torch.zeros(pad, dtype=torch.long)])
            labels = torch.cat([ids, torch.full((pad,), -100, dtype=torch.long)])
            rows.append({"input_ids": input_ids, "attention_mask": mask, "labels": labels})
        return rows

    train_set = make(args.examples, args.seed)
    eval_set = make(args.eval_examples, args.seed + 1)
    if rank == 0:
        say(f"params_total={sum(p.numel() for p in model.parameters())} "
            f"params_trainable={sum(p.numel() for p in model.parameters() if p.requires_grad)}")
        say(f"dataset_tokens={sum(int(r['attention_mask'].sum()) for r in train_set)}")

    out = args.output_dir or tempfile.mkdtemp(prefix="hf_lora.")
    targs = TrainingArguments(
        output_dir=out, per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=args.batch_size, num_train_epochs=args.epochs,
        gradient_accumulation_steps=args.grad_accum,
        learning_rate=1e-3, logging_steps=1, report_to=[], use_cpu=True,
        ddp_backend="gloo" if world > 1 else None,
        evaluation_strategy="steps" if args.eval_steps else "no",
        eval_steps=args.eval_steps or None,
        save_strategy="steps" if args.save_steps else "no", save_steps=args.save_steps or 500,
        seed=args.seed, dataloader_num_workers=0, disable_tqdm=True, remove_unused_columns=False,
        save_safetensors=True, ddp_find_unused_parameters=False)

    callbacks = []
    if args.callback:
        from flopledger.hf import FlopledgerCallback
        callbacks.append(FlopledgerCallback())

    class MarkedTrainer(Trainer):
        def evaluate(self, *a, **kw):
            if args.spy_markers:
                spy_marker("eval_begin")
            try:
                return super().evaluate(*a, **kw)
            finally:
                if args.spy_markers:
                    spy_marker("eval_end")

    tokens = {"n": 0, "sq": 0}

    trainer = MarkedTrainer(model=model, args=targs, train_dataset=train_set,
                            eval_dataset=eval_set if args.eval_steps else None,
                            callbacks=callbacks)
    # This rank's non-padding training tokens, counted independently of the callback.
    orig_step = trainer.training_step

    def training_step(model_, inputs):
        lengths = inputs["attention_mask"].sum(dim=1).tolist()
        tokens["n"] += int(sum(lengths))
        tokens["sq"] += int(sum(v * v for v in lengths))
        return orig_step(model_, inputs)

    trainer.training_step = training_step
    if args.flop_counter:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from aten_flops import AtenFlops
        with AtenFlops() as counter:
            result = trainer.train(resume_from_checkpoint=args.resume)
        ops = ",".join(f"{k}:{v}" for k, v in sorted(counter.by_op.items()))
        say(f"aten_flops_rank{rank}={counter.total} aten_small_bmm_rank{rank}="
            f"{counter.small_bmm} aten_mv_rank{rank}={counter.mv} aten_ops_rank{rank}={ops} "
            f"aten_impl={counter.implementation}")
    else:
        result = trainer.train(resume_from_checkpoint=args.resume)
    stopped = trainer.state.global_step < trainer.state.max_steps
    say(f"tokens_rank{rank}={tokens['n']} seqsq_rank{rank}={tokens['sq']}")
    if rank == 0:
        say(f"trainer_steps={trainer.state.global_step} max_steps={trainer.state.max_steps} "
            f"train_loss={result.training_loss!r} total_flos={int(trainer.state.total_flos)} "
            f"stopped_early={int(stopped)} "
            f"train_runtime={result.metrics.get('train_runtime')!r}")
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1:])
