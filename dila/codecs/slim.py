"""Drop a light codec's decoder branch: `python -m dila.codecs.slim CODEC --out DIR`.

The encoder is kept as it is, so a world model trained on the codec's tokens is unchanged; frames
decode through the linear map alone (`LightCodec.without_decoder_branch`). Prints how far the slim
decoder's frames are from the full one's on held-out procedural frames, clean and noisy tokens.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from dila.codecs.light import LightCodec
from dila.data.procedural import render_clip, sample_scene


def heldout_frames(count: int = 8, size: int = 64) -> torch.Tensor:
    rng = np.random.default_rng(0)
    clips = [render_clip(sample_scene(rng, "heldout", size, camera=i % 2 == 0),
                         (rng.normal(size=(5, 4)) * [2, 2, 0.1, 0.05]).astype(np.float32), "compose").frames
             for i in range(count)]
    return torch.from_numpy(np.concatenate(clips)).float().div(255).permute(0, 3, 1, 2)


@torch.no_grad()
def largest_difference(full: LightCodec, slim: LightCodec, frames: torch.Tensor) -> tuple[float, float]:
    """The largest pixel difference (0-1 scale) between the two decoders: clean tokens, then tokens
    with noise of 0.3 std (as a world model predicts them)."""
    tokens = full.encode(frames)
    noisy = tokens + 0.3 * torch.randn(tokens.shape, generator=torch.Generator().manual_seed(0))
    return tuple(float((full.decode(z) - slim.decode(z)).abs().max()) for z in (tokens, noisy))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("codec", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    full = LightCodec.from_pretrained(args.codec)
    slim = full.without_decoder_branch()
    clean, noisy = largest_difference(full, slim, heldout_frames(size=full.image_size))
    slim.save_pretrained(args.out)
    print(f"{args.out}: decoder branch dropped; largest pixel difference {255 * clean:.2f} / 255 on held-out "
          f"frames, {255 * noisy:.2f} / 255 on noisy tokens")


if __name__ == "__main__":
    main()
