"""Fine-tuning an encoder on AG News with the Trainer: the lab's training code, shared by every page that needs it.

The capstone lab explains these functions step by step; `fine_tuned_classifier(profile)` runs the same steps once
per configuration through the cache, so chapters that need the classifier load it instead of training again.
Command line: `python -m llmcourse.finetune train ...` (also under torchrun) and `python -m llmcourse.finetune bench`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from llmcourse.cache import cached_dir
from llmcourse.data import AG_NEWS_CLASSES, balanced_sample, load_ag_news
from llmcourse.errors import CourseError
from llmcourse.profile import Profile, get_profile

# Bump when a change to the training code changes what it produces, so stale cached classifiers are not reused.
TRAINING_CODE_VERSION = 2
OLDEST_TRANSFORMERS = "5.0.0"  # the supported range's oldest end, tested by tests/compat
NEWEST_TRANSFORMERS = "5.24.0"  # its newest end: the version requirements.txt pins (tests/compat checks both)
LOGITS_FILE = "test_logits.npy"
METRICS_FILE = "metrics.json"
RESULT_MARKER = "RESULT"  # the command line prints its summary on one line starting with this


@dataclass(frozen=True)
class FinetuneConfig:
    """Everything that decides the fine-tuned weights (besides the data rows)."""

    model: str  # "packaged:minilm", a Hub id, or a local folder
    max_length: int = 128
    batch_size: int = 32
    eval_batch_size: int = 128
    learning_rate: float = 1e-4
    epochs: float = 1.0
    warmup: float = 0.1  # fraction of the optimiser steps spent warming the learning rate up
    weight_decay: float = 0.01
    dynamic_padding: bool = True  # pad each batch to its longest row, not every row to max_length
    group_by_length: bool = True  # batches of rows with similar lengths (less padding)
    fp16: bool = False
    bf16: bool = False
    max_steps: int = -1  # > 0 stops early (tests, benchmarks)
    seed: int = 0

    @property
    def precision(self) -> str:
        """The arithmetic training runs in: "bf16" or "fp16" (mixed precision), else "float32"."""
        return "bf16" if self.bf16 else "fp16" if self.fp16 else "float32"


def config_for(profile: Profile | None = None) -> FinetuneConfig:
    """The tuned configuration the profile asks for."""
    p = profile or get_profile()
    return FinetuneConfig(
        model=p.encoder, max_length=p.max_length, batch_size=p.batch_size, eval_batch_size=p.eval_batch_size,
        learning_rate=p.learning_rate, epochs=p.epochs, fp16=p.fp16, bf16=p.bf16,
    )


def baseline_config(config: FinetuneConfig) -> FinetuneConfig:
    """The baseline (transformers 4 era) recipe on the same model: every row padded to max_length, random batches,
    float32."""
    return dataclasses.replace(config, dynamic_padding=False, group_by_length=False, fp16=False, bf16=False)


def in_supported_range(version: str) -> bool:
    """Whether a transformers version lies in the range this code is tested on (OLDEST_ to NEWEST_TRANSFORMERS)."""
    from packaging.version import Version

    return Version(OLDEST_TRANSFORMERS) <= Version(version) <= Version(NEWEST_TRANSFORMERS)


def model_source(model: str) -> str:
    """What from_pretrained loads for `model`: a local folder as is, else the profile loader's answer."""
    from llmcourse.models import encoder_source

    if Path(model).is_dir():
        return model
    return encoder_source(get_profile("smoke").with_overrides(name="custom", encoder=model))


def load_tokenizer(model: str):
    """The model's tokenizer, with a sane maximum length even when the files do not give one."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_source(model), model_max_length=512)


def load_model(model: str):
    """A fresh 4-way AG News classification head on the pretrained encoder, with readable label names."""
    from transformers import AutoModelForSequenceClassification

    return AutoModelForSequenceClassification.from_pretrained(
        model_source(model), num_labels=len(AG_NEWS_CLASSES),
        id2label=dict(enumerate(AG_NEWS_CLASSES)), label2id={c: i for i, c in enumerate(AG_NEWS_CLASSES)},
    )


def tokenize(dataset, tokenizer, max_length: int, pad_to_max_length: bool = False):
    """Token ids per row (truncated to max_length; padded only if asked), the text dropped, a `length` column added."""

    def encode(batch: dict) -> dict:
        out = tokenizer(batch["text"], truncation=True, max_length=max_length,
                        padding="max_length" if pad_to_max_length else False)
        out["length"] = [int(sum(mask)) for mask in out["attention_mask"]]  # real (non-pad) tokens
        return out

    return dataset.map(encode, batched=True, remove_columns=["text"])


def collator(tokenizer, config: FinetuneConfig):
    """Pads each batch to its longest row (a multiple of 8 under mixed precision on a GPU, for tensor cores)."""
    import torch
    from transformers import DataCollatorWithPadding

    multiple = 8 if (config.fp16 or config.bf16) and torch.cuda.is_available() else None
    return DataCollatorWithPadding(tokenizer, pad_to_multiple_of=multiple)


def argument_names() -> set[str]:
    """The options this transformers version's TrainingArguments accepts."""
    from transformers import TrainingArguments

    return {field.name for field in dataclasses.fields(TrainingArguments)}


def length_grouping_argument(enabled: bool) -> dict:
    """The TrainingArguments entry for length-grouped batches in this transformers version."""
    if "train_sampling_strategy" in argument_names():  # newer 5.x: one option for every sampling strategy
        return {"train_sampling_strategy": "group_by_length" if enabled else "random"}
    return {"group_by_length": enabled}  # 5.0 to the release before train_sampling_strategy


def distributed_arguments() -> dict:
    """Data-parallel settings; under torchrun without a GPU, CPU processes over gloo (else each trains alone)."""
    import torch

    # Our loss is a mean over each batch's rows, so DDP's gradient average is already right; the default
    # (True) multiplies the loss by the number of processes for token-count losses, doubling ours under torchrun.
    out: dict = {"average_tokens_across_devices": False}
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        out["ddp_find_unused_parameters"] = False  # every parameter gets a gradient: skip the extra graph walk
        if not torch.cuda.is_available():
            out["ddp_backend"] = "gloo"
    return {key: value for key, value in out.items() if key in argument_names()}


def training_arguments(config: FinetuneConfig, output_dir: str | Path, **overrides: object):
    """TrainingArguments for `config` on current transformers (the lab explains each change from the baseline
    recipe)."""
    import torch
    from transformers import TrainingArguments

    kwargs: dict = dict(
        output_dir=str(output_dir),
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.eval_batch_size,
        learning_rate=config.learning_rate,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        warmup_steps=config.warmup,  # a float below 1 is a fraction of the steps (warmup_ratio is gone)
        weight_decay=config.weight_decay,
        lr_scheduler_type="linear",
        eval_strategy="no",  # was evaluation_strategy; we evaluate once, after training, on the test split
        save_strategy="no",  # we save the final model ourselves
        logging_steps=0.05,  # a log line (loss, learning rate) every 5% of the steps, whatever the data size
        report_to="none",
        seed=config.seed,
        data_seed=config.seed,
        fp16=config.fp16,
        bf16=config.bf16,
        use_cpu=not torch.cuda.is_available(),  # as env.device(); bf16 on a CPU needs it said
        disable_tqdm=False,
        dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),
        **length_grouping_argument(config.group_by_length),
        **distributed_arguments(),
    )
    kwargs.update(overrides)
    return TrainingArguments(**kwargs)


def make_trainer(model, args, train_dataset, tokenizer, data_collator, callbacks: Sequence | None = None):
    """A Trainer for the classifier (processing_class= replaced tokenizer= in transformers 5); a plain-text progress
    bar and no printed log dicts (the losses stay in trainer.state.log_history)."""
    from transformers import Trainer

    trainer = Trainer(model=model, args=args, train_dataset=train_dataset, data_collator=data_collator,
                      processing_class=tokenizer, callbacks=list(callbacks or []))
    for callback in list(trainer.callback_handler.callbacks):
        name = type(callback).__name__
        if name in ("ProgressCallback", "NotebookProgressCallback", "PrinterCallback"):
            trainer.remove_callback(callback)
            if name != "PrinterCallback":
                trainer.add_callback(_text_progress_callback())
    return trainer


def _text_progress_callback():
    """The Trainer's progress bar as plain text on stderr: live in a terminal, in Colab and in Jupyter, and a saved
    notebook keeps its final state (the HTML and widget bars are saved as their first frame). It does not print the
    log dicts the stock bar writes under itself."""
    from tqdm.std import tqdm
    from transformers.trainer_callback import ProgressCallback

    class TextProgressCallback(ProgressCallback):
        """ProgressCallback with a plain-text training bar."""

        def on_train_begin(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                self.training_bar = tqdm(total=state.max_steps, ncols=90, file=sys.stderr, desc="training")
            self.current_step = 0

        def on_log(self, args, state, control, logs=None, **kwargs):
            pass  # the logs stay in state.log_history

    return TextProgressCallback()


def predict_logits(model, tokenizer, texts: Sequence[str], batch_size: int = 128, max_length: int = 128) -> np.ndarray:
    """Logits [len(texts), num_labels] in float32, in the order given; rows run sorted by length (little padding)."""
    import torch

    texts = list(texts)
    lengths = [len(ids) for ids in tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]]
    order = np.argsort(lengths, kind="stable")
    device = next(model.parameters()).device
    out = np.zeros((len(texts), model.config.num_labels), dtype=np.float32)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            rows = order[start:start + batch_size]
            batch = tokenizer([texts[i] for i in rows], truncation=True, max_length=max_length,
                              padding=True, return_tensors="pt").to(device)
            out[rows] = model(**batch).logits.float().cpu().numpy()
    model.train(was_training)
    return out


def classification_metrics(labels: Sequence[int], predictions: Sequence[int]) -> dict:
    """Accuracy and macro-F1 (scikit-learn; evaluate.load needs the Hub)."""
    from sklearn.metrics import accuracy_score, f1_score

    return {"accuracy": float(accuracy_score(labels, predictions)),
            "macro_f1": float(f1_score(labels, predictions, average="macro"))}


def train_classifier(config: FinetuneConfig, train_dataset, test_dataset, folder: str | Path) -> dict:
    """Fine-tune `config.model` on `train_dataset`, save model, tokenizer, test logits and metrics into `folder`."""
    import torch
    import transformers

    folder = Path(folder)
    tokenizer = load_tokenizer(config.model)
    train_tokens = tokenize(train_dataset, tokenizer, config.max_length, pad_to_max_length=not config.dynamic_padding)
    transformers.set_seed(config.seed)  # the new head's random start, so every caller gets the same weights
    model = load_model(config.model)
    args = training_arguments(config, folder / "trainer")
    trainer = make_trainer(model, args, train_tokens, tokenizer, collator(tokenizer, config))
    start = time.perf_counter()
    result = trainer.train()
    train_seconds = time.perf_counter() - start
    if not trainer.is_world_process_zero():
        return {}
    model = trainer.accelerator.unwrap_model(trainer.model, keep_fp32_wrapper=False)  # predict in float32
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    start = time.perf_counter()
    logits = predict_logits(model, tokenizer, test_dataset["text"], config.eval_batch_size, config.max_length)
    eval_seconds = time.perf_counter() - start
    np.save(folder / LOGITS_FILE, logits)
    metrics = {
        **classification_metrics(test_dataset["label"], logits.argmax(1)),
        "train_seconds": train_seconds, "eval_seconds": eval_seconds, "train_loss": float(result.training_loss),
        "steps": int(result.global_step), "train_rows": len(train_dataset), "test_rows": len(test_dataset),
        "world_size": int(args.world_size), "device": str(args.device),
        "transformers": transformers.__version__, "torch": torch.__version__, "cpu_threads": torch.get_num_threads(),
        "config": asdict(config), "log_history": trainer.state.log_history,
    }
    (folder / METRICS_FILE).write_text(json.dumps(metrics, indent=1))
    return metrics


def cache_config(profile: Profile | None = None) -> dict:
    """What names the cached classifier: profile, data sizes, training configuration and code version."""
    profile = profile or get_profile()
    return {"profile": profile.name, "train_rows": profile.train_rows, "test_rows": profile.test_rows,
            "code_version": TRAINING_CODE_VERSION, **asdict(config_for(profile))}


def fine_tuned_classifier(profile: Profile | None = None) -> Path:
    """Folder of the profile's AG News classifier (model, tokenizer, test_logits.npy, metrics.json); trained once."""
    profile = profile or get_profile()

    def build(folder: Path) -> None:
        data = load_ag_news(profile)
        train_classifier(config_for(profile), data["train"], data["test"], folder)
        _remove_trainer_scratch(folder)

    return cached_dir("ag-news-classifier", cache_config(profile), build)


def is_cached(profile: Profile | None = None) -> bool:
    """Whether the profile's classifier is already in the cache (so fine_tuned_classifier will only load it)."""
    from llmcourse.cache import cache_key, cache_root

    return (cache_root() / cache_key("ag-news-classifier", cache_config(profile)) / ".complete").exists()


def load_metrics(folder: str | Path) -> dict:
    """The metrics recorded when the classifier in `folder` was trained."""
    return json.loads((Path(folder) / METRICS_FILE).read_text())


def make_tiny_model(folder: str | Path, model: str = "packaged:minilm") -> Path:
    """A randomly initialised 2-layer BERT (hidden 32) with `model`'s tokenizer in `folder`: for fast tests."""
    import torch
    from transformers import BertConfig, BertModel

    folder = Path(folder)
    tokenizer = load_tokenizer(model)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512)
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _remove_trainer_scratch(folder: Path) -> None:
    """Drop the Trainer's scratch output folder (nothing is saved there with save_strategy='no')."""
    import shutil

    shutil.rmtree(folder / "trainer", ignore_errors=True)


# ----------------------------------------------------------------------------------------------- benchmark


def _reset_peak_memory() -> None:
    """Start measuring peak memory now (CUDA allocations; on Linux also the resident set's high-water mark)."""
    import torch

    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    try:
        Path("/proc/self/clear_refs").write_text("5")  # Linux: reset VmHWM to the current resident size
    except OSError:
        pass


def _peak_memory_mb(device: str) -> float:
    """Peak memory since the reset: CUDA memory allocated on a GPU, else the process's resident set (MiB)."""
    import torch

    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20
    try:
        status = Path("/proc/self/status").read_text().splitlines()
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024  # kB
    except (OSError, StopIteration):
        import resource  # elsewhere: the peak over the process's whole life

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def benchmark_rows(lengths: Sequence[int], batch_size: int, steps: int, seed: int = 0) -> list[list[int]]:
    """`steps` batches (row indices) of one epoch cut by transformers' length-grouped sampler over rows with these
    lengths: the rows both benchmark configurations train on. The batches are taken at evenly spaced quantiles of
    their mean length, so a few batches hold short, typical and long rows in the epoch's proportions."""
    import torch
    from transformers.trainer_pt_utils import get_length_grouped_indices

    generator = torch.Generator().manual_seed(seed)
    order = get_length_grouped_indices([int(n) for n in lengths], batch_size, generator=generator)
    batches = [order[i:i + batch_size] for i in range(0, len(order) - batch_size + 1, batch_size)]  # full ones
    if steps > len(batches):
        raise CourseError(f"The benchmark asks for {steps} batches of {batch_size} rows, but the data give only "
                          f"{len(batches)}. Fix: ask for fewer steps or a smaller batch size.")
    lengths = np.asarray(lengths)
    by_length = np.argsort([lengths[batch].mean() for batch in batches], kind="stable")
    picks = np.sort(by_length[((np.arange(steps) + 0.5) * len(batches) / steps).astype(int)])
    return [list(batches[k]) for k in picks]


def measure_training(config: FinetuneConfig, train_dataset, steps: int, warmup_steps: int = 2) -> dict:
    """Throughput of one pass of the real training loop over the rows of `benchmark_rows` (the same rows for every
    configuration), after `warmup_steps` untimed optimiser steps on them.

    A length-grouped configuration trains them in the batches its sampler made; any other, in random batches of
    the same rows (what its random sampler would draw). So configurations compare like for like.
    """
    import tempfile

    import torch
    from transformers import TrainerCallback

    if "train_sampling_strategy" not in argument_names():
        raise CourseError("The benchmark needs a transformers version whose TrainingArguments have "
                          "train_sampling_strategy. Fix: install the pinned version (requirements.txt).")
    tokenizer = load_tokenizer(config.model)
    tokens = tokenize(train_dataset, tokenizer, config.max_length, pad_to_max_length=not config.dynamic_padding)
    batches = benchmark_rows(tokens["length"], config.batch_size, steps, config.seed)
    rows = [i for batch in batches for i in batch]
    if not config.group_by_length:
        rows = [rows[i] for i in np.random.default_rng(config.seed).permutation(len(rows))]
    timed = tokens.select(rows)  # in the order they are trained, batch after batch
    base = collator(tokenizer, config)
    counts: list[tuple[int, int, int]] = []  # (rows, real tokens, padded positions) per batch, in the order collated

    def counting_collator(features):
        batch = base(features)
        mask = batch["attention_mask"]
        counts.append((int(mask.shape[0]), int(mask.sum()), int(mask.numel())))
        return batch

    def _sync() -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()

    class Clock(TrainerCallback):
        """Times the epoch: from before its first batch is collated to after its last optimiser step."""

        def __init__(self) -> None:
            self.start = self.end = 0.0

        def on_epoch_begin(self, args, state, control, **kwargs):
            _sync()
            self.start = time.perf_counter()

        def on_epoch_end(self, args, state, control, **kwargs):
            _sync()
            self.end = time.perf_counter()

    model = load_model(config.model)
    with tempfile.TemporaryDirectory() as scratch:

        def run(max_steps: int, callbacks: list):
            one_pass = dataclasses.replace(config, epochs=1.0, max_steps=max_steps)
            args = training_arguments(one_pass, scratch, disable_tqdm=True, logging_strategy="no", warmup_steps=0,
                                      train_sampling_strategy="sequential")  # the batches chosen above, in order
            make_trainer(model, args, timed, tokenizer, counting_collator, callbacks=callbacks).train()
            return args

        run(warmup_steps, [])  # untimed: first-call costs (memory allocation, kernel selection, thread start-up)
        counts.clear()
        clock = Clock()
        _reset_peak_memory()
        args = run(-1, [clock])  # timed: one full pass over the rows
    seconds = clock.end - clock.start
    samples = sum(c[0] for c in counts)
    real = sum(c[1] for c in counts)
    padded = sum(c[2] for c in counts)
    if samples != len(rows):
        raise CourseError(f"The timed pass collated {samples} rows, not the {len(rows)} it should have.")
    return {
        "samples_per_s": samples / seconds, "tokens_per_s": real / seconds, "tokens_per_sample": real / samples,
        "padding_share": 1 - real / padded, "peak_memory_mb": _peak_memory_mb(str(args.device)),
        "seconds": seconds, "rows": samples, "steps": len(counts), "batch_size": config.batch_size,
        "device": str(args.device), "precision": config.precision,
    }


BENCH_KINDS = ("baseline", "tuned")


def _bench_one(kind: str, profile_name: str, steps: int, batch_size: int | None, model: str | None) -> dict:
    """Measure the baseline or the tuned configuration of the profile (one per process, for a clean peak memory)."""
    profile = get_profile(profile_name)
    tuned = config_for(profile)
    tuned = dataclasses.replace(tuned, batch_size=batch_size or tuned.batch_size, model=model or tuned.model)
    config = tuned if kind == "tuned" else baseline_config(tuned)
    train = load_ag_news(profile)["train"].shuffle(seed=0)  # the same rows for both configurations
    return {"config": kind, **measure_training(config, train, steps)}


def benchmark(steps: int | None = None, profile: Profile | None = None, batch_size: int | None = None,
              model: str | None = None) -> dict:
    """Baseline vs tuned training throughput on this machine over the same rows, each configuration in its own
    process; with their ratio."""
    profile = profile or get_profile()
    steps = steps or profile.bench_steps
    results = {}
    for kind in BENCH_KINDS:
        cmd = [sys.executable, "-m", "llmcourse.finetune", "bench-one", "--kind", kind, "--profile", profile.name,
               "--steps", str(steps)]
        cmd += ["--batch-size", str(batch_size)] if batch_size else []
        cmd += ["--model", model] if model else []
        done = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
        if done.returncode != 0:
            raise CourseError(f"The {kind} benchmark run failed:\n{done.stderr[-3000:]}\nFix: run the command "
                              f"{' '.join(cmd)} to see the whole error.")
        results[kind] = parse_result(done.stdout)
    results["ratio_samples"] = results["tuned"]["samples_per_s"] / results["baseline"]["samples_per_s"]
    results["ratio_tokens"] = results["tuned"]["tokens_per_s"] / results["baseline"]["tokens_per_s"]
    return results


def format_benchmark(results: dict, profile_name: str) -> str:
    """A small table of the benchmark figures."""
    lines = [f"{'config':<9}{'samples/s':>10}{'tokens/s':>10}{'tokens/sample':>15}{'pad share':>11}{'peak MB':>9}"
             f"  device (profile={profile_name})"]
    for kind in BENCH_KINDS:
        r = results[kind]
        lines.append(f"{kind:<9}{r['samples_per_s']:>10.1f}{r['tokens_per_s']:>10.0f}{r['tokens_per_sample']:>15.1f}"
                     f"{r['padding_share']:>11.1%}{r['peak_memory_mb']:>9.0f}  {r['device']} {r['precision']}, batch "
                     f"{r['batch_size']}, {r['steps']} steps over {r['rows']} rows")
    lines.append(f"ratio tuned/baseline: {results['ratio_samples']:.2f}x samples/s, "
                 f"{results['ratio_tokens']:.2f}x tokens/s")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------- command line


def parse_result(stdout: str) -> dict:
    """The summary a `python -m llmcourse.finetune` command printed (the last line starting with RESULT)."""
    lines = [line for line in stdout.splitlines() if line.startswith(RESULT_MARKER + " ")]
    if not lines:
        raise CourseError(f"No {RESULT_MARKER} line in the command's output:\n{stdout[-2000:]}")
    return json.loads(lines[-1][len(RESULT_MARKER) + 1:])


def _train_main(args: argparse.Namespace) -> None:
    """Train a classifier from the command line: the same code path as the lab, also under torchrun."""
    profile = get_profile(args.profile)
    data = load_ag_news(profile)
    train = balanced_sample(data["train"], args.train_rows) if args.train_rows else data["train"]
    test = balanced_sample(data["test"], args.test_rows) if args.test_rows else data["test"]
    base = config_for(profile)
    config = dataclasses.replace(
        base, model=args.model or base.model, max_steps=args.max_steps, batch_size=args.batch_size or base.batch_size,
        max_length=args.max_length or base.max_length, eval_batch_size=args.batch_size or base.eval_batch_size)
    metrics = train_classifier(config, train, test, args.out)
    if metrics:
        _remove_trainer_scratch(Path(args.out))
        summary = {k: v for k, v in metrics.items() if k != "log_history"}
        print(RESULT_MARKER, json.dumps(summary))


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: `train` (a classifier into --out) or `bench` (baseline vs tuned throughput)."""
    parser = argparse.ArgumentParser(prog="python -m llmcourse.finetune", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="fine-tune on (a sample of) the profile's data; works under torchrun")
    train.add_argument("--out", required=True)
    train.add_argument("--profile", default=None, help="smoke or full (default: LLMCOURSE_PROFILE / hardware)")
    train.add_argument("--model", help="model folder or id (default: the chosen profile's encoder)")
    train.add_argument("--train-rows", type=int)
    train.add_argument("--test-rows", type=int)
    train.add_argument("--max-steps", type=int, default=-1)
    train.add_argument("--batch-size", type=int)
    train.add_argument("--max-length", type=int)
    for name in ("bench", "bench-one"):
        bench = sub.add_parser(name, help="baseline vs tuned training throughput on the same rows" if name == "bench"
                               else "one configuration of the benchmark (bench runs it in a fresh process)")
        bench.add_argument("--profile", default=None, help="smoke or full (default: LLMCOURSE_PROFILE / hardware)")
        bench.add_argument("--steps", type=int, help="batches in the timed pass (default: the profile's)")
        bench.add_argument("--batch-size", type=int)
        bench.add_argument("--model", help="model folder or id (default: the profile's encoder)")
        if name == "bench-one":
            bench.add_argument("--kind", choices=list(BENCH_KINDS), required=True)
    args = parser.parse_args(argv)
    if args.command == "train":
        _train_main(args)
    elif args.command == "bench-one":
        profile = get_profile(args.profile)
        steps = args.steps or profile.bench_steps
        result = _bench_one(args.kind, profile.name, steps, args.batch_size, args.model)
        print(RESULT_MARKER, json.dumps(result))
    else:
        profile = get_profile(args.profile)
        print(format_benchmark(benchmark(args.steps, profile, args.batch_size, args.model), profile.name))


if __name__ == "__main__":
    main()
