"""The experiment configuration's schema: one typed, documented class per section.

Every hyperparameter of a run lives here (the seed's central config); each field carries its
default, its help text (`doc`, shown by `adaptive-learner presets --show NAME`) and its validator
(bootstrap/config_fields.py). Loading presets and `--set` overrides is bootstrap/config.py.
"""

from __future__ import annotations

from typing import Any

import attrs
from attrs import field, frozen

from adaptive_learner.bootstrap.config_fields import (
    MAX_BATCH,
    MAX_SEED,
    _block_weights,
    _layer_list,
    _nonblank,
    _nonblank_items,
    _positive_or_all,
    _safe_name,
    _signal_table,
    _task_names,
    _word_lists,
    doc,
    within,
)


@frozen
class RunConfig:
    name: str = doc(
        "demo",
        "Experiment name; the run folder is <output_dir>/<name>-<timestamp>-s<seed>.",
        validator=_safe_name,
    )
    seed: int = doc(
        0,
        "Random seed for sampling, LoRA initialisation and data order (0 to 2^64-1).",
        validator=within(0, MAX_SEED),
    )
    backbone: str = doc(
        "hf",
        "Backbone adapter: 'hf' (transformers + PEFT) or 'fake' (a simulation without a model; "
        "the learned router still uses torch).",
        validator=attrs.validators.in_(("hf", "fake")),
    )
    tracker: str = doc(
        "jsonl",
        "Tracker: 'null', 'jsonl' (events.jsonl in the run folder) or 'wandb'.",
        validator=attrs.validators.in_(("null", "jsonl", "wandb")),
    )
    output_dir: str = doc("runs", "Folder that receives one sub-folder per run.")
    device: str = doc(
        "auto",
        "'auto' (CUDA when available, else CPU), 'cpu' or 'cuda'.",
        validator=attrs.validators.in_(("auto", "cpu", "cuda")),
    )
    keep_checkpoints: bool = doc(
        False,
        "Keep <run>/checkpoint/ (within-task resume state) after the run finishes; by default it "
        "is deleted.",
    )
    wandb_project: str = doc(
        "adaptive-learner",
        "W&B project (run.tracker = 'wandb'); the WANDB_PROJECT environment variable wins.",
    )
    wandb_tags: list[str] = doc([], "Extra W&B tags for the run.")
    experiment_tag: str = doc(
        "",
        "Experiment tag (e.g. 'MVE_CL_SharedLoRA_SL_A'); W&B gets it as a tag and group, with "
        "'_seed<seed>' as a second tag.",
    )
    reference: str = doc(
        "",
        "A shipped reference result printed beside this run's "
        "(bootstrap/presets/<name>.reference.json), e.g. 'demo-naive': the default preset "
        "without replay, measured in a separate run; or a path to such a file. Empty = none.",
    )


@frozen
class DataConfig:
    source: str = doc(
        "demo",
        "'demo' (embedded generated suite), 'folder' (--data-dir) or 'hub' (nyu-mll/glue online).",
        validator=attrs.validators.in_(("demo", "folder", "hub")),
    )
    data_dir: str = doc(
        "",
        "Folder of task folders (<task>/task.json, train.jsonl, validation.jsonl) for source "
        "'folder'.",
    )
    tasks: list[str] = doc(
        [],
        "Task folder names in learning order; empty = every task folder, sorted.",
        validator=_task_names,
    )
    train_samples_per_task: int = doc(
        250, "Training examples drawn per task (seeded).", validator=within(1)
    )
    dev_samples_per_task: int = doc(
        100, "Held-out examples drawn from the train file for early stopping.", validator=within(0)
    )
    validation_samples_per_task: int = doc(
        500, "Cap on reported validation examples per task (0 = all).", validator=within(0)
    )
    max_length: int = doc(
        256,
        "Truncate prompts to this many tokens (keeps the answer position).",
        validator=within(1, 2**20),
    )
    verbalizers: dict[str, list[str]] = doc(
        {},
        "Per-task answer words in label order, e.g. {rte = [' yes', ' no']}.",
        validator=_word_lists,
    )


@frozen
class ModelConfig:
    name_or_path: str = doc(
        "smollm2-135m",
        "Hub id, local folder, or embedded name ('smollm2-135m', 'gemma3-270m').",
        validator=_nonblank,
    )
    gguf_file: str = doc(
        "", "GGUF file inside name_or_path to load through transformers' gguf_file=."
    )
    dtype: str = doc(
        "auto",
        "'auto' (float32 on CPU, bfloat16 on CUDA), 'float32', 'bfloat16' or 'float16'.",
        validator=attrs.validators.in_(("auto", "float32", "bfloat16", "float16")),
    )
    attention: str = doc(
        "auto",
        "'auto' (flash_attention_2 when flash-attn is importable on CUDA, else sdpa), 'sdpa', "
        "'eager'.",
        validator=attrs.validators.in_(("auto", "sdpa", "eager", "flash_attention_2")),
    )
    quantize: str = doc(
        "none",
        "'none', '8bit' or '4bit' (bitsandbytes).",
        validator=attrs.validators.in_(("none", "8bit", "4bit")),
    )
    cache_dir: str = doc(
        "", "Where converted GGUF models are cached; empty = ~/.cache/adaptive-learner/models."
    )


@frozen
class LoraConfig:
    r: int = doc(8, "LoRA rank.", validator=within(1, 65536))
    alpha: int = doc(16, "LoRA alpha (scaling = alpha / r).", validator=within(1, 2**20))
    dropout: float = doc(
        0.05, "LoRA dropout (0 <= p < 1).", validator=within(0.0, 1.0, hi_open=True)
    )
    target_modules: list[str] = doc(
        [],
        "Modules to adapt; empty = the architecture's attention projections.",
        validator=_nonblank_items,
    )
    first_layer: int = doc(
        0,
        "Adapt decoder layers from this index up (0 = all); latent replay reads the input of "
        "this layer.",
        validator=within(0, 100000),
    )


@frozen
class TrainingConfig:
    epochs: int = doc(3, "Maximum epochs per task.", validator=within(1, 100000))
    batch_size: int = doc(8, "Training batch size.", validator=within(1, MAX_BATCH))
    eval_batch_size: int = doc(32, "Scoring batch size.", validator=within(1, MAX_BATCH))
    learning_rate: float = doc(
        2e-4, "AdamW learning rate for LoRA parameters.", validator=within(0.0, lo_open=True)
    )
    weight_decay: float = doc(0.0, "AdamW weight decay.", validator=within(0.0))
    max_grad_norm: float = doc(1.0, "Gradient clipping norm (0 = off).", validator=within(0.0))
    early_stopping: bool = doc(
        True, "Check dev accuracy each epoch and restore the best epoch's weights."
    )
    patience: int = doc(3, "Epochs without improvement before stopping.", validator=within(1))
    min_delta: float = doc(
        0.001, "Smallest dev-accuracy gain that counts as an improvement.", validator=within(0.0)
    )
    min_epochs_before_stop: int = doc(1, "Never stop before this many epochs.", validator=within(0))
    share_prefix: bool | str = doc(
        "auto",
        "Run the prompt prefix a batch shares (task description) once per batch, not once per "
        "row: true, false or 'auto' (on a CPU, where it halves the arithmetic; off on CUDA, "
        "where its extra launches cost more: docs/adr/0047).",
        validator=attrs.validators.in_(("auto", True, False)),
    )
    compile: str = doc(
        "none",
        "torch.compile the answer forward: 'none', 'default' or 'reduce-overhead' (CUDA graphs); "
        "turns share_prefix off.",
        validator=attrs.validators.in_(("none", "default", "reduce-overhead")),
    )
    pad_to_multiple: int = doc(
        0,
        "Length buckets: pad batch width up to a multiple of this (0 = off); use with compile.",
        validator=within(0, 4096),
    )
    autocast: str = doc(
        "auto",
        "'auto' (bf16 autocast on CUDA, off on CPU) or 'off'.",
        validator=attrs.validators.in_(("auto", "off")),
    )
    cudnn_attention: bool = doc(
        False,
        "Let SDPA use cuDNN attention in passes that are differentiated on CUDA (off: its "
        "backward returns NaN on H100/H200 for masked inputs, pytorch/pytorch#196678; "
        "docs/adr/0047).",
    )


@frozen
class RoutingConfig:
    strategy: str = doc(
        "adaptive",
        "'schedule' (num_tasks_to_share_lora), 'similarity' (profile cosine vs reuse_threshold) "
        "or 'adaptive' (calibrated p_reuse, UCB, adaptive tau; docs/adr/0031).",
        validator=attrs.validators.in_(("schedule", "similarity", "adaptive")),
    )
    num_tasks_to_share_lora: int = doc(
        1,
        "First N tasks share one LoRA, later tasks get their own; -1 = one LoRA for all.",
        validator=within(0, also=(-1,)),
    )
    expert_of_task: list[int] = doc(
        [],
        "Schedule strategy, written out (ablations, counterfactual runs): task i joins the "
        "expert made for task expert_of_task[i], and i itself = a new expert, e.g. [0, 1, 0]; "
        "empty = num_tasks_to_share_lora.",
    )
    reuse_threshold: float = doc(
        0.9, "Similarity routing: reuse an expert at or above this cosine (> 1 = never)."
    )
    fork_threshold: float = doc(
        1.01, "Similarity routing: fork an expert at or above this cosine (> 1 = never)."
    )
    temperature: float = doc(
        0.1,
        "Softmax temperature for the decision probability.",
        validator=within(0.0, lo_open=True),
    )
    router_confidence_threshold: float = doc(
        0.5,
        "Adaptive routing: initial tau on p_reuse; reuse only candidates with p_reuse >= tau "
        "(0.5: reuse when the evidence says a reuse is at least as likely to work as not; "
        "docs/adr/0046). Any value >= 1 = always a new expert.",
        validator=within(0.0),
    )
    use_advanced_embeddings: bool = doc(
        False,
        "Triple-signal profiles: add the gradient sketch and context statistics (docs/adr/0030).",
    )
    k_examples_for_prototype: int = doc(
        0,
        "Add the mean embedding of k training examples to the profile (0 = description only).",
        validator=within(0, 100000),
    )
    profile_weights: dict[str, float] = doc(
        {"description": 1.0, "prototype": 1.0, "gradient": 1.0, "context": 0.5},
        "Weight of each profile block (each block is L2-normalised first; weight = its share of "
        "the squared norm).",
        validator=_block_weights,
    )
    embedding_layers: list[int] = doc(
        [],
        "Hidden-state layers, each mean-pooled, side by side in the embeddings (-1 = the final "
        "layer); empty = 1/4, 1/2 and 3/4 of the depth ([8, 15, 22] on SmolLM2; docs/adr/0039).",
        validator=_layer_list,
    )
    grad_sketch_layer_names: list[str] = doc(
        [], "Modules whose loss gradient is sketched; empty = the architecture's default."
    )
    grad_sketch_dim: int = doc(
        256, "Dimension of the gradient sketch (count sketch).", validator=within(8, 2**20)
    )
    grad_sketch_examples: int = doc(
        8, "Training examples whose loss gradient is sketched.", validator=within(1, MAX_BATCH)
    )
    dynamic_profiles: bool = doc(
        True,
        "Re-profile an expert with its trained weights on held-out dev examples after each task "
        "(where a trained probe measures every decision: when a decision reads it, docs/adr/0065).",
    )
    calibration: str = doc(
        "logistic",
        "p_reuse calibrator: 'logistic' or 'isotonic'.",
        validator=attrs.validators.in_(("logistic", "isotonic")),
    )
    prior_midpoint: float = doc(
        0.9,
        "Calibrator prior: the cosine at which a reuse works half the time, before outcomes.",
        validator=within(-1.0, 1.0),
    )
    prior_slope: float = doc(
        20.0,
        "Calibrator prior: slope of the prior sigmoid in cosine.",
        validator=within(0.0, 1000.0),
    )
    prior_strength: float = doc(
        4.0,
        "Calibrator prior: how many measured outcomes the prior counts for.",
        validator=within(0.0, 1e6, lo_open=True),
    )
    probe_candidates: int = doc(
        1,
        "Adaptive routing: transfer probe on N experts: the N that answer the new task's dev "
        "inputs best as they are (forward passes, docs/adr/0060) and a fresh start are trained "
        "probe_steps steps on it and measured on those inputs (docs/adr/0040); the chosen "
        "option's copy goes on as its training (docs/adr/0057). With probe_steps 0 the N "
        "nearest are answered as they are (docs/adr/0034). 0 = off.",
        validator=within(0, 100),
    )
    probe_steps: int = doc(
        8,
        "Adaptive routing: train the probe's throwaway copies (each candidate and a fresh LoRA) "
        "this many steps under the consolidation policy before comparing them, and score the "
        "candidate's earlier tasks before and after; the evidence is the change of summed dev "
        "accuracy (docs/adr/0040). 0 = the zero-step probe (no training, cheaper).",
        validator=within(0, 100000),
    )
    decision_dev_examples: int = doc(
        64,
        "Adaptive routing: dev examples per task that a decision's measurements read (the "
        "probe's screen and copies, the candidate's earlier tasks before and after, a reuse's "
        "outcome): the first N of each dev split, a seeded random draw; 0 = all. Early stopping "
        "always reads the whole dev split (docs/adr/0064).",
        validator=within(0, 100000),
    )
    ucb_c: float = doc(
        0.5, "UCB exploration constant c in mean + c*sqrt(ln N / n).", validator=within(0.0, 100.0)
    )
    probe_visits: float = doc(
        1.0,
        "Adaptive routing: a trained probe of a candidate counts as this many UCB observations "
        "with reward p_probe, so a measured candidate is weighed, not explored blindly "
        "(docs/adr/0044). 0 = an expert never reused keeps an infinite UCB index.",
        validator=within(0.0, 1e6),
    )
    top_k: int = doc(
        5,
        "Candidate experts considered per decision (nearest by cosine).",
        validator=within(1, 100000),
    )
    tau_step: float = doc(
        0.05,
        "Adaptive tau: tau += tau_step * (regret - target_regret) after each measured reuse.",
        validator=within(0.0, 1.0),
    )
    target_regret: float = doc(
        0.1, "Adaptive tau: the regret at which tau stays put.", validator=within(0.0, 1.0)
    )
    tol_forget: float = doc(
        0.02,
        "A reuse works if the expert's earlier tasks lose at most this dev accuracy (mean).",
        validator=within(0.0, 1.0),
    )
    tol_new: float = doc(
        0.02,
        "... and, when a fresh expert was measured, the task reaches within this of it.",
        validator=within(0.0, 1.0),
    )
    outcome_z: float = doc(
        1.0,
        "A reuse still works if its forgetting exceeds tol_forget by at most this many standard "
        "errors of the dev measurement (docs/adr/0044); 0 = the fixed tolerance.",
        validator=within(0.0, 100.0),
    )
    router_model: str = doc(
        "linear",
        "Task-free routing of single inputs: 'cosine' (nearest task key), 'linear' or 'mlp' "
        "(learned).",
        validator=attrs.validators.in_(("cosine", "linear", "mlp")),
    )
    router_examples_per_task: int = doc(
        256,
        "Inputs per task behind its routing key and the learned router: its training inputs, "
        "then its dev inputs (never the validation split).",
        validator=within(1, 100000),
    )


@frozen
class ConsolidationConfig:
    ewc_lambda: float = doc(0.0, "EWC strength; 0 turns EWC off.", validator=within(0.0))
    ewc_data_loader_num_samples: int = doc(
        25, "Training examples used to estimate the diagonal Fisher.", validator=within(1)
    )
    ewc_batch_size: int = doc(10, "Batch size of the Fisher pass.", validator=within(1, MAX_BATCH))
    fisher: str = doc(
        "empirical",
        "'empirical' (gold labels) or 'true' (labels sampled from the model).",
        validator=attrs.validators.in_(("empirical", "true")),
    )
    use_gamma_gating: bool = doc(
        False, "Scale each task's Fisher by the neuromodulation gain gamma."
    )
    ewc_fixed_lambda_bypass_gamma: bool = doc(
        False, "Ignore gamma even when gating is on (fixed-lambda EWC)."
    )
    gamma_gain_lambda: float = doc(
        3.0,
        "Gain of the neuromodulation signal: gamma = 1 + lambda * (drive - 0.5).",
        validator=within(0.0),
    )
    gamma_direction: str = doc(
        "competence",
        "What drives gamma: 'competence' (well-learned tasks consolidated more) or 'surprise' "
        "(hard tasks more).",
        validator=attrs.validators.in_(("competence", "surprise")),
    )
    gamma_weights: dict[str, float] = doc(
        {"nll": 1.0, "accuracy": 1.0, "grad_norm": 0.5, "entropy": 0.5},
        "Weights of the normalised training signals.",
        validator=_signal_table(positive=False),
    )
    gamma_scales: dict[str, float] = doc(
        {"nll": 2.0, "accuracy": 1.0, "grad_norm": 10.0, "entropy": 1.0},
        "Each signal is divided by its scale and clipped to [0, 1].",
        validator=_signal_table(positive=True),
    )
    replay: str = doc(
        "none",
        "'none', 'experience', 'cmt' or 'pcgr'.",
        validator=attrs.validators.in_(("none", "experience", "cmt", "pcgr")),
    )
    replay_alpha: float = doc(
        0.2,
        "Weight of the label-distribution divergence on replayed examples.",
        validator=within(0.0),
    )
    feature_replay_alpha: float = doc(
        0.1, "Weight of the feature distance on replayed examples.", validator=within(0.0)
    )
    replay_backbone_encoding_batch_size: int = doc(
        8, "Batch size when encoding a task into replay memory.", validator=within(1, MAX_BATCH)
    )
    replay_budget_bytes: int = doc(
        262144, "Replay memory budget per task, in bytes.", validator=within(1, 2**40)
    )
    replay_tasks_per_step: int = doc(
        1,
        "Earlier tasks whose memory each training step replays, one batch each (-1 = every "
        "earlier task).",
        validator=lambda _, attribute, value: _positive_or_all(attribute.name, value),
    )
    replay_batch_size: int = doc(
        0,
        "Rows of each replayed batch (0 = training.batch_size). Fewer rows cost less per step "
        "(on a CPU the replayed forward and backward cost about as much as the training batch's) "
        "and make the replayed gradient noisier.",
        validator=within(0, MAX_BATCH),
    )


@frozen
class FakeConfig:
    peak_accuracy: float = doc(
        0.9, "Fake backbone: accuracy of a fully learned task.", validator=within(0.0, 1.0)
    )
    epochs_to_learn: int = doc(
        1, "Fake backbone: epochs until a task is fully learned.", validator=within(1, 100000)
    )
    seconds_per_epoch: float = doc(
        0.0,
        "Fake backbone: sleep per epoch, to rehearse crashes and resume on a slow run.",
        validator=within(0.0, 3600.0),
    )


@frozen
class Config:
    description: str = doc("", "One line describing the preset.")
    run: RunConfig = field(factory=RunConfig)
    data: DataConfig = field(factory=DataConfig)
    model: ModelConfig = field(factory=ModelConfig)
    lora: LoraConfig = field(factory=LoraConfig)
    training: TrainingConfig = field(factory=TrainingConfig)
    routing: RoutingConfig = field(factory=RoutingConfig)
    consolidation: ConsolidationConfig = field(factory=ConsolidationConfig)
    fake: FakeConfig = field(factory=FakeConfig)

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)
