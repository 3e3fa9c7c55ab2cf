"""Datasets: procedural clips with ground-truth actions, and windows of users' own videos."""

from dila.data.procedural import (
    KINDS,
    SPLITS,
    Clip,
    ProceduralVideoDataset,
    Scene,
    render_clip,
    render_pair,
    rollout,
    sample_actions,
    sample_clip,
    sample_scene,
)
from dila.data.tensors import frames_to_tensor, tensor_to_frames
from dila.data.videos import VideoFolderDataset

__all__ = [
    "KINDS", "SPLITS", "Clip", "ProceduralVideoDataset", "Scene", "VideoFolderDataset", "frames_to_tensor",
    "render_clip", "render_pair", "rollout", "sample_actions", "sample_clip", "sample_scene", "tensor_to_frames",
]
