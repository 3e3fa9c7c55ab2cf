"""The loaded model's measured quality in plain words, from the `eval.json` beside it
(`python -m dila.evaluate` writes it), or "not evaluated": what it does well and what it does
not, each in a sentence, and for each view the sentence about what that view does."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

EVAL_FILE = "eval.json"
VIEWS = ("map", "steer", "transfer", "rebind", "plan")
"""The views with a quality line beside their generated images, in the order `Quality.lines` gives."""
NOT_EVALUATED = "Model quality: not evaluated (no eval.json beside the model)."
DB = "A frame's dB (its PSNR) says how close it is to the real frame: higher is closer."


@dataclass(frozen=True)
class Claim:
    good: bool
    sentence: str


@dataclass(frozen=True)
class Quality:
    one_step: float | None = None  # dB, the model's next frame
    copy_last: float | None = None  # dB, repeating the last frame
    rollout: float | None = None  # dB, frames imagined from the first one
    copy_first: float | None = None  # dB, repeating the first frame
    rollout_steps: int = 8
    transfer: float | None = None  # dB, one clip's motion on another clip's first frame
    transfer_copy: float | None = None  # dB, repeating that first frame
    moves: float | None = None  # share of sideways and up-down motion a linear read-out finds in the actions
    turns: float | None = None  # the same for rotation and scaling (the better of the two)
    slider: float | None = None  # share of slider tests that move the object the right way
    slider_px: float = 2.0
    planning: float | None = None  # share of planning tasks reached
    tasks: int = 16
    plan_px: float = 3.0
    idle_planning: float | None = None  # share reached by doing nothing
    rebinding: float | None = None  # share of rebinding tests whose appearance follows the content clip

    @property
    def evaluated(self) -> bool:
        return self.one_step is not None

    def claims(self) -> dict[str, Claim]:
        """One plain sentence per measured ability, keyed by what it is about."""
        claims = {}
        if self.copy_last is not None:
            good = self.one_step > self.copy_last + 0.5
            claims["next"] = Claim(good, (
                f"It predicts the next frame {'better than' if good else 'no better than'} simply repeating the "
                f"current frame ({self.one_step:.1f} against {self.copy_last:.1f} dB, higher is closer)."))
        if self.rollout is not None and self.copy_first is not None:
            good = self.rollout > self.copy_first + 1
            claims["rollout"] = Claim(good, (
                f"Imagining {self.rollout_steps} frames ahead from one frame, it stays "
                f"{'closer to the real frames than' if good else 'only about as close to the real frames as'} "
                f"a still picture of that frame ({self.rollout:.1f} against {self.copy_first:.1f} dB, higher is closer)."))
        if self.transfer is not None and self.transfer_copy is not None:
            good = self.transfer > self.transfer_copy + 1
            claims["transfer"] = Claim(good, (
                f"Moving one clip's motion onto another clip comes out {'closer to' if good else 'no closer to'} "
                f"the truth than a still copy of that clip's first frame ({self.transfer:.1f} against "
                f"{self.transfer_copy:.1f} dB, higher is closer)."))
        if self.moves is not None:
            claims["moves"] = Claim(self.moves >= 0.5, (
                f"Its actions (the change it reads between two frames) hold sideways and up-down movement: a simple "
                f"read-out recovers {_share(self.moves)} of it."))
        if self.turns is not None:
            claims["turns"] = Claim(self.turns >= 0.5, (
                f"Its actions hold {'' if self.turns >= 0.5 else 'almost nothing of '}turning or growing (rotation, "
                f"scaling): a read-out recovers {_share(self.turns)} of it."))
        if self.slider is not None:
            claims["slider"] = Claim(self.slider >= 0.5, (
                f"Pushing an action two typical steps sideways moves the object that way by {self.slider_px:g} "
                f"pixels or more in {self.slider:.0%} of tests."))
        if self.planning is not None:
            idle = "" if self.idle_planning is None else f"; doing nothing reaches {self.idle_planning * self.tasks:.0f}"
            claims["plan"] = Claim(self.planning >= 0.5, (
                f"Planning reaches the goal frame (within {self.plan_px:g} pixels) in "
                f"{self.planning * self.tasks:.0f} of {self.tasks} tasks{idle}."))
        if self.rebinding is not None:
            claims["rebind"] = Claim(self.rebinding >= 0.8, (
                f"Rebinding gives the result the content clip's appearance in {self.rebinding:.0%} of tests."))
        return claims

    def markdown(self) -> str:
        """The model card's paragraphs: what it does well, what it does not."""
        if not self.evaluated:
            return "**Quality**: not evaluated (no `eval.json` beside the model)."
        claims = self.claims().values()
        good = "\n".join(f"- {c.sentence}" for c in claims if c.good) or "- Nothing measured is better than its baseline."
        bad = "\n".join(f"- {c.sentence}" for c in claims if not c.good) or "- Every measured ability beats its baseline."
        return (f"**What this model does well** (measured on clips it never saw in training):\n{good}\n\n"
                f"**What it does not do well yet**:\n{bad}\n\n{DB}")

    def line(self, view: str = "steer") -> str:
        """One sentence for beside a view's generated images: the measurements about that view."""
        if not self.evaluated:
            return NOT_EVALUATED
        claims = self.claims()
        keys = {"map": ("moves", "turns"), "steer": ("next", "slider"), "transfer": ("transfer",),
                "rebind": ("rebind",), "plan": ("plan",)}[view]
        sentences = [claims[k].sentence for k in keys if k in claims] or [claims["next"].sentence]
        return "Model quality: " + " ".join(sentences)

    def lines(self) -> tuple[str, ...]:
        return tuple(self.line(view) for view in VIEWS)


def _share(r2: float) -> str:
    return "almost none" if r2 <= 0.05 else f"{r2:.0%}"


def _get(data: dict, path: str) -> float | None:
    for key in path.split("."):
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return float(data) if isinstance(data, (int, float)) else None


def _mean(values: list[float | None]) -> float | None:
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def from_dict(data: dict) -> Quality:
    if not isinstance(data, dict):
        return Quality()
    probe = "interpretability.probe_r2."
    turns = [_get(data, probe + k) for k in ("rotation", "log_scale")]
    optional = {"rollout_steps": _get(data, "settings.steps"), "slider_px": _get(data, "slider.min_shift_px"),
                "tasks": _get(data, "planning.tasks"), "plan_px": _get(data, "planning.tolerance_px")}
    return Quality(one_step=_get(data, "prediction.one_step.psnr"), copy_last=_get(data, "prediction.copy_last.psnr"),
                   rollout=_get(data, "prediction.rollout.psnr"), copy_first=_get(data, "prediction.copy_first.psnr"),
                   transfer=_get(data, "transfer.model.psnr"), transfer_copy=_get(data, "transfer.copy_first.psnr"),
                   moves=_mean([_get(data, probe + "dx"), _get(data, probe + "dy")]),
                   turns=max([t for t in turns if t is not None], default=None),
                   slider=_get(data, "slider.success_rate"), planning=_get(data, "planning.success_rate"),
                   idle_planning=_get(data, "planning.do_nothing_success_rate"),
                   rebinding=_get(data, "disentanglement.appearance_moved"),
                   **{k: type(getattr(Quality, k))(v) for k, v in optional.items() if v is not None})


def read_quality(source: str) -> Quality:
    """The evaluation beside a model directory or `.pt` file; `Quality()` when there is none."""
    path = Path(source).expanduser()
    folder = path if path.is_dir() else path.parent
    try:
        return from_dict(json.loads((folder / EVAL_FILE).read_text()))
    except (OSError, ValueError, AttributeError):
        return Quality()
