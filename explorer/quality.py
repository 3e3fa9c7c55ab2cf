"""The loaded model's measured quality in words, from the `eval.json` beside it
(`python -m dila.evaluate` writes it), or "not evaluated"."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

EVAL_FILE = "eval.json"


@dataclass(frozen=True)
class Quality:
    one_step: float | None = None  # dB, the model's next frame
    copy_last: float | None = None  # dB, repeating the last frame
    rollout: float | None = None  # dB, frames imagined from the first one
    copy_first: float | None = None  # dB, repeating the first frame
    probe_r2: float | None = None  # how much of the true motion a linear probe reads from the actions
    planning: float | None = None  # share of planning tasks reached

    @property
    def evaluated(self) -> bool:
        return self.one_step is not None

    def line(self) -> str:
        """One sentence for beside a generated image."""
        if not self.evaluated:
            return "Model quality: not evaluated (no eval.json beside the model)."
        text = f"Model quality: one-step prediction {self.one_step:.0f} dB"
        if self.copy_last is None:
            return text + "."
        text += f", copying the last frame {self.copy_last:.0f} dB: "
        if self.one_step + 1 < self.copy_last:
            return text + "predictions are blurrier than the input."
        if self.one_step > self.copy_last + 1:
            return text + "predictions beat repeating the input."
        return text + "predictions are about as sharp as repeating the input."

    def markdown(self) -> str:
        """The model card's paragraph."""
        if not self.evaluated:
            return "**Quality**: not evaluated (no `eval.json` beside the model)."
        parts = [self.line().removeprefix("Model quality: ").rstrip(".")]
        if self.rollout is not None and self.copy_first is not None:
            verdict = "below" if self.rollout + 1 < self.copy_first else "at or above"
            parts.append(f"8-step rollout {self.rollout:.0f} dB against {self.copy_first:.0f} dB for repeating "
                         f"the first frame ({verdict} that baseline)")
        if self.probe_r2 is not None:
            parts.append(f"a linear probe reads {_share(self.probe_r2)} of the true motion from the latent actions")
        if self.planning is not None:
            parts.append(f"planning reaches {self.planning:.0%} of its goals")
        return "**Quality** (held-out clips, PSNR; higher is sharper): " + "; ".join(parts) + "."


def _share(r2: float) -> str:
    return "none" if r2 <= 0.05 else f"{r2:.0%}"


def _get(data: dict, path: str) -> float | None:
    for key in path.split("."):
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return float(data) if isinstance(data, (int, float)) else None


def from_dict(data: dict) -> Quality:
    probe = data.get("interpretability", {}).get("probe_r2", {}) if isinstance(data, dict) else {}
    probes = [v for k, v in probe.items() if k != "mean" and isinstance(v, (int, float))] if isinstance(probe, dict) else []
    return Quality(one_step=_get(data, "prediction.one_step.psnr"), copy_last=_get(data, "prediction.copy_last.psnr"),
                   rollout=_get(data, "prediction.rollout.psnr"), copy_first=_get(data, "prediction.copy_first.psnr"),
                   probe_r2=sum(probes) / len(probes) if probes else None,
                   planning=_get(data, "planning.success_rate"))


def read_quality(source: str) -> Quality:
    """The evaluation beside a model directory or `.pt` file; `Quality()` when there is none."""
    path = Path(source).expanduser()
    folder = path if path.is_dir() else path.parent
    try:
        return from_dict(json.loads((folder / EVAL_FILE).read_text()))
    except (OSError, ValueError, AttributeError):
        return Quality()
