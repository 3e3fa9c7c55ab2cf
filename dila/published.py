"""The published checkpoint layout: its key names mapped to ours, and its configuration read back
from tensor shapes. This is the one place that knows the authors' names."""
from __future__ import annotations

import re

import torch

from dila.config import DiLAConfig

_PREFIXES = [
    (r"^(?:module\.|_orig_mod\.)+", ""),
    (r"^structure_encoder\.ST_model\.spatial_rel_pos_bias\.", "structure_encoder.position_bias."),
    (r"^structure_encoder\.ST_model\.enc_spatial_transformer\.", "structure_encoder.space."),
    (r"^structure_encoder\.ST_model\.enc_temporal_transformer\.", "structure_encoder.time."),
    (r"^content_fusion\.fusion_decoder\.spatial_rel_pos_bias\.", "fusion_decoder.position_bias."),
    (r"^content_fusion\.fusion_decoder\.dec_spatial_transformer\.", "fusion_decoder."),
    (r"^content_fusion\.motion_encoder\.", "motion_encoder."),
    (r"^content_fusion\.content_encoder\.", "content_encoder."),
    (r"^content_fusion\.structure_to_intermediate\.", "structure_lift."),
    (r"^content_fusion\.content_memory\.mamba_stack\.", "content_memory."),
    (r"^content_fusion\.content_memory\.content_enhance\.", "content_memory.enhance."),
    (r"^Inverse_model\.", "inverse_model."),
    (r"^forward_dynamics\.dec_spatial_rel_pos_bias\.", "forward_model.position_bias."),
    (r"^forward_dynamics\.transformer\.", "forward_model."),
    (r"^forward_dynamics\.", "forward_model."),
    (r"^Action_decoder\.mapping\.", "action_adapter."),
]

_PARTS = [
    # axial transformers of the structure encoder: [PEG, attention, -, feed-forward]
    (r"^(structure_encoder\.(?:space|time)\.layers\.\d+)\.0\.dsconv\.", r"\1.peg.conv."),
    (r"^(structure_encoder\.(?:space|time)\.layers\.\d+)\.1\.", r"\1.attn."),
    (r"^(structure_encoder\.(?:space|time)\.layers\.\d+)\.3\.", r"\1.ff."),
    # fusion decoder: [PEG, self-attention, first-frame attention, content attention, feed-forward]
    (r"^(fusion_decoder\.layers\.\d+)\.0\.dsconv\.", r"\1.peg.conv."),
    (r"^(fusion_decoder\.layers\.\d+)\.1\.", r"\1.self_attn."),
    (r"^(fusion_decoder\.layers\.\d+)\.2\.", r"\1.frame_attn."),
    (r"^(fusion_decoder\.layers\.\d+)\.3\.", r"\1.content_attn."),
    (r"^(fusion_decoder\.layers\.\d+)\.4\.", r"\1.ff."),
    # forward model: [conditioning, PEG, space attention, time attention, feed-forward]
    (r"^(forward_model\.layers\.\d+)\.0\.to_alpha_beta\.", r"\1.condition.to_scale_shift."),
    (r"^(forward_model\.layers\.\d+)\.0\.ffn\.0\.", r"\1.condition.fc1."),
    (r"^(forward_model\.layers\.\d+)\.0\.ffn\.2\.", r"\1.condition.fc2."),
    (r"^(forward_model\.layers\.\d+)\.1\.dsconv\.", r"\1.peg.conv."),
    (r"^(forward_model\.layers\.\d+)\.2\.", r"\1.space_attn."),
    (r"^(forward_model\.layers\.\d+)\.3\.", r"\1.time_attn."),
    (r"^(forward_model\.layers\.\d+)\.4\.", r"\1.ff."),
    (r"^forward_model\.input_proj\.0\.", "forward_model.state_embed.proj."),
    (r"^forward_model\.input_proj\.1\.", "forward_model.state_embed.ff."),
    (r"^forward_model\.action_proj\.0\.", "forward_model.action_embed.proj."),
    (r"^forward_model\.action_proj\.1\.", "forward_model.action_embed.ff."),
    (r"^forward_model\.to_delta\.0\.", "forward_model.head.norm."),
    (r"^forward_model\.to_delta\.1\.", "forward_model.head.fc1."),
    (r"^forward_model\.to_delta\.3\.", "forward_model.head.fc2."),
    # feed-forward: [LayerNorm, Linear, GEGLU, Dropout, Linear]
    (r"\.ff\.0\.", ".ff.norm."),
    (r"\.ff\.1\.", ".ff.proj_in."),
    (r"\.ff\.4\.", ".ff.proj_out."),
    # residual MLPs
    (r"\.hidden_layers\.(\d+)\.0\.", r".blocks.\1.norm."),
    (r"\.hidden_layers\.(\d+)\.2\.", r".blocks.\1.fc."),
    (r"\.output_proj\.0\.", ".output_norm."),
    (r"\.output_proj\.2\.", ".output_proj."),
    # Mamba
    (r"^content_memory\.layers\.(\d+)\.mamba\.", r"content_memory.layers.\1.mixer."),
    (r"^content_memory\.enhance\.0\.", "content_memory.enhance.norm."),
    (r"^content_memory\.enhance\.1\.", "content_memory.enhance.fc1."),
    (r"^content_memory\.enhance\.3\.", "content_memory.enhance.fc2."),
    # inverse model
    (r"^inverse_model\.stem\.0\.", "inverse_model.stem.conv."),
    (r"^inverse_model\.stem\.1\.", "inverse_model.stem.norm."),
    (r"^inverse_model\.stage(\d)\.(\d+)\.net\.0\.", lambda m: f"inverse_model.levels.{int(m[1]) - 1}.blocks.{m[2]}.conv1."),
    (r"^inverse_model\.stage(\d)\.(\d+)\.net\.1\.", lambda m: f"inverse_model.levels.{int(m[1]) - 1}.blocks.{m[2]}.norm1."),
    (r"^inverse_model\.stage(\d)\.(\d+)\.net\.3\.", lambda m: f"inverse_model.levels.{int(m[1]) - 1}.blocks.{m[2]}.conv2."),
    (r"^inverse_model\.stage(\d)\.(\d+)\.net\.4\.", lambda m: f"inverse_model.levels.{int(m[1]) - 1}.blocks.{m[2]}.norm2."),
    (r"^inverse_model\.down(\d)\.", lambda m: f"inverse_model.levels.{int(m[1]) - 1}.down."),
    (r"^inverse_model\.head\.0\.", "inverse_model.head.fc1."),
    (r"^inverse_model\.head\.3\.", "inverse_model.head.fc2."),
    (r"^action_adapter\.0\.", "action_adapter.fc1."),
    (r"^action_adapter\.2\.", "action_adapter.fc2."),
    # the published LayerNorm keeps its weight as `gamma` and a constant zero `beta`
    (r"\.gamma$", ".weight"),
    (r"\.beta$", ".bias"),
]


def rename_key(key: str) -> str:
    for pattern, replacement in _PREFIXES + _PARTS:
        key = re.sub(pattern, replacement, key)
    return key


def strip_wrappers(key: str) -> str:
    """Drop the `module.` (DDP) and `_orig_mod.` (torch.compile) prefixes."""
    return re.sub(_PREFIXES[0][0], "", key)


def is_published_layout(state_dict: dict) -> bool:
    return any(strip_wrappers(k).startswith(("structure_encoder.ST_model.", "content_fusion.")) for k in state_dict)


def to_our_layout(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename every published key to ours; two keys landing on one name is an error."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        new = rename_key(key)
        if new in out:
            raise ValueError(f"keys collide after renaming: {key!r} -> {new!r}")
        out[new] = value
    return out


def _count(state_dict: dict, pattern: str) -> int:
    found = {m[1] for k in state_dict if (m := re.match(pattern, k))}
    return len(found)


def infer_config(state_dict: dict[str, torch.Tensor], **overrides) -> DiLAConfig:
    """Read every size of the model back from a state dict in our layout."""
    sd = state_dict

    def shape(key: str) -> torch.Size:
        if key not in sd:
            raise KeyError(key)
        return sd[key].shape

    structure_dim, embed_dim = shape("motion_encoder.output_proj.weight")
    content_dim = shape("content_encoder.output_proj.weight")[0]
    inner, state_dim = shape("content_memory.layers.0.mixer.A_log")
    cfg = dict(
        embed_dim=embed_dim,
        structure_dim=structure_dim,
        content_dim=content_dim,
        action_dim=shape("inverse_model.head.fc2.weight")[0],
        encoder_spatial_depth=_count(sd, r"structure_encoder\.space\.layers\.(\d+)\."),
        encoder_temporal_depth=_count(sd, r"structure_encoder\.time\.layers\.(\d+)\."),
        encoder_heads=shape("structure_encoder.position_bias.net.4.weight")[0],
        encoder_dim_head=shape("structure_encoder.space.layers.0.attn.q_scale")[0],
        mlp_depth=_count(sd, r"motion_encoder\.blocks\.(\d+)\."),
        memory_depth=_count(sd, r"content_memory\.layers\.(\d+)\."),
        memory_state_dim=state_dim,
        memory_conv_width=shape("content_memory.layers.0.mixer.conv1d.weight")[-1],
        memory_expand=inner // content_dim,
        decoder_depth=_count(sd, r"fusion_decoder\.layers\.(\d+)\."),
        decoder_heads=shape("fusion_decoder.position_bias.net.4.weight")[0],
        decoder_dim_head=shape("fusion_decoder.layers.0.self_attn.q_scale")[0],
        decoder_null_kv=shape("fusion_decoder.layers.0.frame_attn.null_kv")[1] // 2,
        inverse_channels=shape("inverse_model.stem.conv.weight")[0],
        inverse_blocks=tuple(_count(sd, rf"inverse_model\.levels\.{i}\.blocks\.(\d+)\.")
                             for i in range(_count(sd, r"inverse_model\.levels\.(\d+)\."))),
        inverse_hidden=shape("inverse_model.head.fc1.weight")[0],
        forward_dim=shape("forward_model.state_embed.proj.weight")[0],
        forward_depth=_count(sd, r"forward_model\.layers\.(\d+)\."),
        forward_heads=shape("forward_model.position_bias.net.4.weight")[0],
        forward_dim_head=shape("forward_model.layers.0.time_attn.q_scale")[0],
        robot_action_dim=shape("action_adapter.fc1.weight")[1] if "action_adapter.fc1.weight" in sd else None,
    )
    cfg.update(overrides)
    return DiLAConfig(**cfg)
