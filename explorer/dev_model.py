"""A model with random weights in our format, for working on the app before (or without) the
trained one: `python -m explorer.dev_model DIR [--tiny]`, then `python app.py --model DIR`."""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

TINY = dict(structure_dim=4, content_dim=16, action_dim=8, encoder_spatial_depth=1, encoder_temporal_depth=1,
            encoder_heads=2, encoder_dim_head=8, mlp_depth=1, memory_depth=1, memory_state_dim=4, decoder_depth=1,
            decoder_heads=2, decoder_dim_head=8, inverse_channels=8, inverse_blocks=(1, 1, 1, 1), inverse_hidden=32,
            forward_dim=32, forward_depth=1, forward_heads=2, forward_dim_head=8, dropout=0.0)


def write_dev_model(directory: str | Path, tiny: bool = False, seed: int = 0) -> Path:
    """A light codec in `directory/codec` and a world model (the bundled sizes, or tiny ones)."""
    from dila import DiLAConfig, DiLAWorldModel
    from dila.codecs.light import LightCodec
    from dila.hub import save_world_model
    from dila.train import small_config

    torch.manual_seed(seed)
    directory = Path(directory)
    codec = LightCodec()
    codec.save_pretrained(directory / "codec")
    dim = codec.config.latent_dim
    config = DiLAConfig(embed_dim=dim, **TINY) if tiny else small_config(dim)
    return save_world_model(DiLAWorldModel(config), directory)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("directory", type=Path)
    parser.add_argument("--tiny", action="store_true")
    options = parser.parse_args()
    print(write_dev_model(options.directory, options.tiny))
