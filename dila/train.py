"""Train a DiLA world model on codec tokens of procedural clips or of a folder of videos.

    python -m dila.train --out runs/phase1 --phase 1 --steps 6000
    python -m dila.train --out runs/phase2 --phase 2 --steps 1500 --init runs/phase1

Runs on CPU, on one GPU, or on several through `accelerate launch -m dila.train ...`; on several CPU
processes through `ACCELERATE_USE_CPU=1 torchrun --nproc-per-node 2 -m dila.train ...`. Every
`--save-every` steps the run directory gets `config.json` + `model.safetensors` (the model) and
`training_state.pt` (optimizer, schedule, step, random state), and at least every `--save-minutes`
of a one-process run; running the same command again resumes from it. Losses go to `log.jsonl`.
`--init DIR` starts from a model's weights, in the design of `--model-config` when given (options that
add no parameters, such as `inverse_antisymmetric`). `--stop-after N` ends a run at step N of its
schedule, so that a later command can resume it with other loss weights.
"""
from __future__ import annotations

import argparse
import json
import math
import time
import typing
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from accelerate import Accelerator, DistributedDataParallelKwargs
from accelerate.utils import set_seed
from einops import rearrange
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from dila.block_motion import block_shifts
from dila.codecs import load_codec
from dila.config import DiLAConfig
from dila.flow_motion import flow_growth_and_turn
from dila.hub import BUNDLED, load_world_model, read_pt, save_world_model
from dila.losses import PICK_TEMPERATURE, LossWeights, PickTarget, world_model_loss
from dila.world_model import DiLAWorldModel

STATE_NAME, LOG_NAME = "training_state.pt", "log.jsonl"


def small_config(embed_dim: int) -> DiLAConfig:
    """The bundled model's sizes and design options, around a light codec's `embed_dim`-d tokens."""
    return DiLAConfig(
        embed_dim=embed_dim, structure_dim=8, content_dim=32, action_dim=16,
        encoder_spatial_depth=2, encoder_temporal_depth=2, encoder_heads=4, encoder_dim_head=16,
        mlp_depth=2, memory_depth=1, memory_state_dim=8,
        decoder_depth=2, decoder_heads=4, decoder_dim_head=16,
        inverse_channels=32, inverse_blocks=(1, 1, 1, 1), inverse_hidden=256,
        forward_dim=64, forward_depth=2, forward_heads=4, forward_dim_head=16, dropout=0.0,
        inverse_input="pair", inverse_antisymmetric=True, inverse_time_kernel=1, time_padding="replicate",
        residual_decoder=True,
    )


@dataclass
class TrainArgs:
    out: str
    phase: int = 1
    steps: int = 6000
    batch_size: int = 16
    frames: int = 8
    lr: float = 5e-4
    weight_decay: float = 1e-5
    warmup: int = 200
    max_grad_norm: float = 6.0
    seed: int = 0
    data: str = "procedural"
    num_clips: int = 200_000
    still_objects: float = 0.0
    noise_backdrops: float = 0.0
    codec: str = str(BUNDLED / "codec")
    init: str | None = None
    model_config: str | None = None
    save_every: int = 500
    save_minutes: float = 15.0
    log_every: int = 25
    workers: int = 0
    oracle_weight: float = 0.0
    detached_dynamics_weight: float = 0.0
    sharpness_weight: float = 0.0
    motion_weight: float = 0.0
    stretch_weight: float = 0.0
    readout_weight: float = 0.0
    rest_weight: float = 0.0
    readout_whole: float | None = None
    readout_flow: bool = False
    even_weight: float = 0.0
    pixel_weight: float = 0.0
    pick_weight: float = 0.0
    pick_temperature: float = PICK_TEMPERATURE
    pick_stillness: float = 0.0
    pick_truth: bool = False
    picker_lr_scale: float = 1.0
    action_noise: float = 0.0
    symmetry_weight: float = LossWeights.symmetry
    stop_after: int | None = None


def parse_args(argv=None) -> TrainArgs:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    hints = typing.get_type_hints(TrainArgs)
    for name, default in asdict(TrainArgs(out="")).items():
        flag = "--" + name.replace("_", "-")
        if name == "out":
            parser.add_argument(flag, required=True, help="run directory (created; resumed when it holds a run)")
        else:
            kind = next(t for t in typing.get_args(hints[name]) or (hints[name],) if t is not type(None))
            if kind is bool:
                parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default)
            else:
                parser.add_argument(flag, type=kind, default=default)
    return TrainArgs(**vars(parser.parse_args(argv)))


def make_dataset(args: TrainArgs, image_size: int):
    if args.pick_truth and not args.pick_weight:
        raise ValueError("--pick-truth sets the pick term's target: give the term a --pick-weight")
    if args.data == "procedural":
        from dila.data.procedural import ProceduralVideoDataset

        return ProceduralVideoDataset("train", num_clips=args.num_clips, frames=args.frames, size=image_size,
                                     seed=args.seed, still_objects=args.still_objects, motion=args.pick_truth,
                                     noise_backdrops=args.noise_backdrops)
    from dila.data.videos import VideoFolderDataset

    if args.pick_truth:
        raise ValueError("--pick-truth needs procedural data: a video folder's true motion is unknown")
    return VideoFolderDataset(args.data, frames=args.frames, size=image_size)


def cosine_schedule(step: int, warmup: int, total: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress))


def forever(loader: DataLoader):
    epoch = 0
    while True:
        if hasattr(loader, "set_epoch"):
            loader.set_epoch(epoch)
        yield from loader
        epoch += 1


def build_model(args: TrainArgs, out: Path, codec, dataset, device) -> DiLAWorldModel:
    if (out / STATE_NAME).is_file():
        return load_world_model(out).train()
    config = DiLAConfig.load(args.model_config) if args.model_config else None
    if args.init:
        model = initial_weights(load_world_model(args.init), config)
    else:
        model = DiLAWorldModel(config or small_config(codec.latent_dim))
        sample = torch.stack([dataset[i]["frames"] for i in range(min(len(dataset), 32))])
        init_output_norm(model, encode_clips(codec, sample.to(device)))
    warp = model.fusion_decoder.warp
    if warp is not None and not warp.ready:
        warp.init_from_codec(codec)
    return model.train()


OPTION_PREFIXES = ("fusion_decoder.warp.",)  # parameters a design option adds (started at their initialisation) or drops


def initial_weights(model: DiLAWorldModel, config: DiLAConfig | None) -> DiLAWorldModel:
    """`model` itself, or its weights in a model of `config`: design options that add no parameters,
    or that add or drop the parameters of `OPTION_PREFIXES` (added ones keep their initialisation)."""
    if config is None or config == model.config:
        return model
    moved = DiLAWorldModel(config)
    try:
        missing, unexpected = moved.load_state_dict(model.state_dict(), strict=False)
    except RuntimeError as error:  # a shape that differs
        raise ValueError(f"--init weights do not fit --model-config: {error}") from None
    unfitting = [k for k in missing + unexpected if not k.startswith(OPTION_PREFIXES)]
    if unfitting:
        raise ValueError(f"--init weights do not fit --model-config: {', '.join(unfitting[:6])}")
    return moved


@torch.no_grad()
def encode_clips(codec, frames: torch.Tensor) -> torch.Tensor:
    """Pixels `b t c h w` -> tokens `b t d h w`."""
    return codec.encode(frames.flatten(0, 1)).unflatten(0, frames.shape[:2])


@torch.no_grad()
def init_output_norm(model: DiLAWorldModel, tokens: torch.Tensor) -> None:
    """Start the decoder's output LayerNorm at the tokens' per-channel std and mean.

    A LayerNorm output with unit gain has the same norm for every token, which light-codec
    tokens (channel scales from 6 down to 0.1) are far from: with gain 1 and bias 0 the best
    reachable token MSE is 0.27, with the data's std and mean 0.015 (held-out procedural tokens).
    A residual decoder has no output LayerNorm: its head starts at "no change".
    """
    if model.config.residual_decoder:
        return
    flat = rearrange(tokens, "b t d h w -> (b t h w) d")
    model.fusion_decoder.norm_out.weight.copy_(flat.std(dim=0))
    model.fusion_decoder.norm_out.bias.copy_(flat.mean(dim=0))


class Objective(torch.nn.Module):
    """The model and its loss as one module, so that data-parallel wrappers see the whole step."""

    def __init__(self, model: DiLAWorldModel, phase: int, weights: LossWeights, action_noise: float = 0.0,
                 readout_whole: float | None = None, pick: PickTarget | None = None):
        super().__init__()
        self.model, self.phase, self.weights, self.action_noise = model, phase, weights, action_noise
        self.readout_whole, self.pick = readout_whole, pick or PickTarget()

    def forward(self, tokens: torch.Tensor, shifts: torch.Tensor | None = None, frames: torch.Tensor | None = None,
                motion: torch.Tensor | None = None, turn: torch.Tensor | None = None):
        return world_model_loss(self.model, tokens, self.phase, self.weights, shifts, self.action_noise, frames,
                                self.readout_whole, self.pick, motion, turn)


def parameter_groups(model: DiLAWorldModel, lr: float, picker_scale: float = 1.0) -> list[dict]:
    """The optimizer's parameter groups: the shift picker's (`DiLAConfig.warp_refine`) at `picker_scale` times
    the learning rate, a small net whose gradient the global clipping otherwise shares with the whole model."""
    warp = model.fusion_decoder.warp
    picker = [] if picker_scale == 1.0 or warp is None or warp.picker is None else list(warp.picker.parameters())
    if picker_scale != 1.0 and not picker:
        raise ValueError("picker_lr_scale needs a model with a shift picker (warp_refine)")
    chosen = {id(p) for p in picker}
    rest = [p for p in model.parameters() if id(p) not in chosen]
    return [{"params": rest}] + ([{"params": picker, "lr": lr * picker_scale}] if picker else [])


def train(args: TrainArgs) -> Path:
    accelerator = Accelerator(kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)])
    set_seed(args.seed)
    out = Path(args.out)
    codec = load_codec(args.codec, device=accelerator.device)
    dataset = make_dataset(args, codec.image_size)
    model = build_model(args, out, codec, dataset, accelerator.device)
    optimizer = torch.optim.AdamW(parameter_groups(model, args.lr, args.picker_lr_scale), lr=args.lr,
                                  weight_decay=args.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: cosine_schedule(s, args.warmup, args.steps))
    step = 0
    if (out / STATE_NAME).is_file():
        state = read_pt(out / STATE_NAME)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step = int(state["step"])
        torch.set_rng_state(state["rng"])
    generator = torch.Generator().manual_seed(args.seed + step)
    loader = DataLoader(dataset, batch_size=args.batch_size, shuffle=True,
                        num_workers=args.workers, drop_last=True, generator=generator)
    weights = LossWeights(symmetry=args.symmetry_weight, oracle=args.oracle_weight,
                          detached_dynamics=args.detached_dynamics_weight, sharpness=args.sharpness_weight,
                          motion=args.motion_weight, stretch=args.stretch_weight, readout=args.readout_weight,
                          rest=args.rest_weight, even=args.even_weight, pixel=args.pixel_weight,
                          pick=args.pick_weight)
    objective = Objective(model, args.phase, weights, args.action_noise, args.readout_whole,
                          PickTarget(args.pick_temperature, args.pick_stillness))
    objective, optimizer, loader, scheduler = accelerator.prepare(objective, optimizer, loader, scheduler)
    if accelerator.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        (out / "train_args.json").write_text(json.dumps(asdict(args), indent=2) + "\n")
    batches = forever(loader)
    last = min(args.steps, args.stop_after or args.steps)
    progress = tqdm(range(step, last), initial=step, total=args.steps, disable=not accelerator.is_main_process)
    start = last_save = time.perf_counter()
    for step in progress:
        batch = next(batches)
        frames = batch["frames"]
        tokens = encode_clips(codec, frames)
        shifts = block_shifts(frames, model.config.warp_patch, model.config.decoder_warp) if weights.reads_shifts else None
        turn = flow_growth_and_turn(frames, model.config.warp_patch) if args.readout_flow and weights.readout else None
        loss, terms = objective(tokens, shifts, frames if weights.reads_frames else None, batch.get("motion"), turn)
        optimizer.zero_grad(set_to_none=True)
        accelerator.backward(loss)
        accelerator.clip_grad_norm_(objective.parameters(), args.max_grad_norm)
        optimizer.step()
        scheduler.step()
        if (step + 1) % args.log_every == 0 and accelerator.is_main_process:
            record = {"step": step + 1, "processes": accelerator.num_processes, "loss": loss.item(),
                      **{k: v.item() for k, v in terms.items()}, "lr": scheduler.get_last_lr()[0],
                      "seconds": round(time.perf_counter() - start, 1)}
            with open(out / LOG_NAME, "a") as log:
                log.write(json.dumps(record) + "\n")
            progress.set_postfix(loss=f"{record['loss']:.4f}", pred=f"{record['prediction']:.4f}")
        if (step + 1) % args.save_every == 0 or step + 1 == last or save_due(accelerator, last_save, args.save_minutes):
            save(accelerator, objective, optimizer, scheduler, step + 1, out)
            last_save = time.perf_counter()
    return out


def save_due(accelerator: Accelerator, last_save: float, minutes: float) -> bool:
    """Time-based saving (one process only: several processes would disagree on the clock)."""
    return accelerator.num_processes == 1 and time.perf_counter() - last_save >= 60 * minutes


def save(accelerator: Accelerator, objective, optimizer, scheduler, step: int, out: Path) -> None:
    accelerator.wait_for_everyone()
    if not accelerator.is_main_process:
        return
    save_world_model(accelerator.unwrap_model(objective).model, out)
    state = {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "step": step, "rng": torch.get_rng_state()}
    torch.save(state, out / STATE_NAME)


if __name__ == "__main__":
    train(parse_args())
