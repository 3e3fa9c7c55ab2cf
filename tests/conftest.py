import os
from pathlib import Path

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(min(2, torch.get_num_threads()))

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def tiny_config():
    from dila import DiLAConfig

    return DiLAConfig(
        embed_dim=32, structure_dim=4, content_dim=16, action_dim=8,
        encoder_spatial_depth=1, encoder_temporal_depth=1, encoder_heads=2, encoder_dim_head=8,
        mlp_depth=1, memory_depth=1, memory_state_dim=4,
        decoder_depth=1, decoder_heads=2, decoder_dim_head=8,
        inverse_channels=8, inverse_blocks=(1, 1, 1, 1), inverse_hidden=32,
        forward_dim=32, forward_depth=1, forward_heads=2, forward_dim_head=8,
    )


@pytest.fixture
def tiny_model(tiny_config):
    from dila import DiLAWorldModel

    torch.manual_seed(0)
    return DiLAWorldModel(tiny_config).eval()


@pytest.fixture
def one_thread():
    """Tiny tensors: a second thread only adds synchronisation, which costs seconds on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
