"""Block matching: where each cell of a frame came from in the frame before, read off the pixels.

For every cell (a `patch x patch` block) of frame t+1, the whole-pixel shift s = (s_x, s_y) in -r..r
that best explains it as frame t read at (x + s_x, y + s_y), borders replicated:

    s = argmin_s  mean_cell (next(x) - prev(x + s))^2  +  tie * |s|_1

the small `tie` term picks the smallest shift among equals, so a flat or unchanged cell stays put.
This is the convention of the pixel warp (`dila.modules.warp`: a pixel is read from x + s), so the
shifts are a target for its expected shift that any video gives, with no labels.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange

TIE = 1e-5


@torch.no_grad()
def block_shifts(frames: torch.Tensor, patch: int, radius: int) -> torch.Tensor:
    """Frames `b t c H W` -> per-cell shifts `b (t-1) h w 2` (x then y, in pixels) from each frame to the next."""
    b = frames.shape[0]
    prev, nxt = (rearrange(f, "b t c y x -> (b t) c y x") for f in (frames[:, :-1], frames[:, 1:]))
    padded = F.pad(prev, (radius,) * 4, mode="replicate")
    height, width = prev.shape[-2:]
    offsets = torch.arange(-radius, radius + 1)
    candidates = [(sx, sy) for sy in offsets.tolist() for sx in offsets.tolist()]
    errors = torch.stack([
        F.avg_pool2d((nxt - padded[..., radius + sy:radius + sy + height, radius + sx:radius + sx + width])
                     .pow(2).mean(1, keepdim=True), patch)[:, 0]
        + TIE * (abs(sx) + abs(sy))
        for sx, sy in candidates
    ], dim=1)
    best = torch.tensor(candidates, dtype=frames.dtype)[errors.argmin(dim=1)]
    return rearrange(best, "(b t) h w s -> b t h w s", b=b)


def moving_cells(shifts: torch.Tensor) -> torch.Tensor:
    """Per-cell shifts `b t h w 2` -> 1 where a cell moved, else 0, `b t (h w)` in the shifts' dtype."""
    return (shifts.abs().sum(-1) > 0).flatten(2).to(shifts.dtype)


def dominant_motion(shifts: torch.Tensor, min_cells: int = 3) -> torch.Tensor:
    """Per-cell shifts `b t h w 2` -> the content's dominant similarity motion `b t 4`, in pixels:
    (move x, move y, growth, turn), least squares over the cells that moved,

        motion(p) = move + growth * (p - c) + turn * J (p - c),    J (x, y) = (-y, x),

    with p the cells' positions in cells around their mean c, so growth and turn are how far a point one
    cell from the centre moves outwards and around. Content motion is the opposite of the warp's shift
    (a pixel read from x + s came from there). Fewer than `min_cells` moving cells: no motion."""
    h, w = shifts.shape[2:4]
    motion = -rearrange(shifts, "b t h w s -> b t (h w) s")
    moving = moving_cells(shifts)
    ys, xs = torch.meshgrid(torch.arange(h, device=shifts.device), torch.arange(w, device=shifts.device), indexing="ij")
    cells = torch.stack((xs, ys), dim=-1).reshape(-1, 2).to(shifts.dtype)
    count = moving.sum(-1, keepdim=True)
    centre = torch.einsum("btn,nc->btc", moving, cells) / count.clamp_min(1)
    x, y = (cells - centre[..., None, :]).unbind(-1)
    one, zero = torch.ones_like(x), torch.zeros_like(x)
    design = torch.stack((torch.stack((one, zero, x, -y), -1), torch.stack((zero, one, y, x), -1)), dim=-2)
    ridge = 1e-6 * torch.eye(4, dtype=shifts.dtype, device=shifts.device)
    gram = torch.einsum("btnsi,btn,btnsj->btij", design, moving, design) + ridge
    moment = torch.einsum("btnsi,btn,btns->bti", design, moving, motion)
    fitted = torch.linalg.solve(gram, moment)
    return torch.where(count >= min_cells, fitted, torch.zeros_like(fitted))


def part_and_whole_motion(shifts: torch.Tensor, whole: float, min_cells: int = 3) -> torch.Tensor:
    """Per-cell shifts `b t h w 2` -> `b t 8`: the dominant motion (`dominant_motion`) as a part's (the first
    four) when fewer than `whole` of the cells moved, else as the whole view's (the last four), so that an
    object moving right and the view panning left are told apart by the coordinates that carry them."""
    motion = dominant_motion(shifts, min_cells)
    share = moving_cells(shifts).mean(-1, keepdim=True)
    is_whole = (share >= whole).to(motion.dtype)
    return torch.cat((motion * (1 - is_whole), motion * is_whole), dim=-1)
