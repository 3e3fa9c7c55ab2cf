"""The frame format shared by all datasets: float32 [t, 3, h, w] in [0, 1]."""

import numpy as np
import torch


def frames_to_tensor(frames: np.ndarray) -> torch.Tensor:
    """uint8 [t, h, w, 3] -> float32 [t, 3, h, w] in [0, 1]."""
    tensor = np.ascontiguousarray(frames.transpose(0, 3, 1, 2), dtype=np.float32)
    tensor /= 255
    return torch.from_numpy(tensor)


def tensor_to_frames(frames: torch.Tensor) -> np.ndarray:
    """float [t, 3, h, w] in [0, 1] -> uint8 [t, h, w, 3], e.g. for `dila.video.write_video`."""
    return frames.detach().clamp(0, 1).mul(255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
