"""Planning: actions from a start frame towards a goal frame or image."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from explorer import planning, words
from explorer.device import compute
from explorer.figures import empty_figure, plan_figure
from explorer.images import read_image
from explorer.media import fit_image, panels, write_clip
from explorer.services.action_map import MapService
from explorer.services.core import Core, index

NO_PLAN = "Plan to see the actions here."


class PlanService:
    def __init__(self, core: Core, map: MapService):
        self.core, self.map = core, map

    def run(self, sid: str, start_id: str, start_index: int, goal_id: str | None, goal_index: int,
            goal_image: np.ndarray | str | None, horizon: int, color_by: str = "clip", method: str = "auto"):
        """Actions from a start frame to a goal (a clip's frame, or an image when given: an array,
        or a file path or data URL, checked against the pixel limit before it is decoded).
        Returns (video: goal | plan, figure with the path, status, the actions as lists)."""
        limits = self.core.limits
        with self.core.session(sid) as (session, model):
            start_clip = session.library.get(start_id)
            start = start_clip.frames[index(start_index, len(start_clip.frames) - 1, "start frame")]
            if isinstance(goal_image, (str, Path)):
                goal_image = read_image(goal_image, limits.max_image_pixels, "The goal image")
            if goal_image is not None:
                goal = fit_image(goal_image, model.pipeline.image_size)
            else:
                goal_clip = session.library.get(goal_id)
                goal = goal_clip.frames[index(goal_index, len(goal_clip.frames) - 1, "goal frame")]
            horizon = index(horizon, limits.max_rollout_steps, "horizon", low=1)
            result = planning.plan(model.pipeline, start, goal, horizon, self.map.current(session).actions,
                                   limits.plan_samples, limits.plan_iterations, limits.plan_cost)
            session.marks.path = result.actions
            rollout = np.concatenate([start[None], result.frames])
            video = write_clip(panels([np.repeat(goal[None], len(rollout), 0), rollout]), session.output("plan"), start_clip.fps)
            figure, _ = self.map.figure(session, color_by, method)
            tokens = [compute(model.pipeline.tokenize, frame[None]) for frame in (start, goal)]
            start_distance = float((tokens[0] - tokens[1]).pow(2).mean())
            status = f"{words.plan_result(horizon, start_distance, result.cost)} Video: goal | plan."
            return video, figure, status, np.round(result.actions, 4).tolist()

    def figure(self, sid: str):
        """The last plan's actions along the library's directions, as a small line plot."""
        with self.core.session(sid) as (session, _):
            if session.marks.path is None:
                return empty_figure(NO_PLAN)
            return plan_figure(self.map.pca(session).standardized(session.marks.path))
