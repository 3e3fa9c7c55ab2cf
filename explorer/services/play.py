"""Play: the library's actions clustered, each centre bound to a key that steps the steering run."""
from __future__ import annotations

import secrets

import numpy as np

from explorer import play, steer
from explorer.device import compute
from explorer.errors import UserError
from explorer.media import png_data_uri
from explorer.services.action_map import MapService
from explorer.services.core import Core, index
from explorer.services.steer import room, running


class PlayService:
    def __init__(self, core: Core, map: MapService):
        self.core, self.map = core, map
        self._players: dict[str, str] = {}  # play token -> session id

    def setup(self, sid: str, clusters: int = 6):
        """Bind the centres of `clusters` k-means clusters of the library's actions to keys, to play
        on from the steering run's current frame. Returns (play panel HTML, status)."""
        clusters = index(clusters, play.MAX_CLUSTERS, "number of keys", low=1)
        with self.core.session(sid) as (session, model):
            steering = running(session)
            centres = play.cluster(self.map.current(session).actions, clusters)
            token = secrets.token_urlsafe(16)
            self._players = {t: s for t, s in self._players.items() if s != sid} | {token: sid}
            previews = [steer.preview(model.pipeline, steering, centre) for centre in centres]
            keys = play.assign_keys(np.array([play.shift(steering.current, frame) for frame in previews]))
            steering.keys = play.PlayKeys(token, centres, keys)
            strips = [png_data_uri(np.concatenate([steering.current, frame], axis=1)) for frame in previews]
            status = (f"{len(centres)} keys bound, each to the average move of one group of similar actions in the "
                      f"library; each shows the current frame and where its move leads, and an arrow key only where "
                      f"the picture moves that way.")
            return play.panel(token, png_data_uri(steering.current), strips, keys), status

    def key(self, token: str, key: str) -> dict:
        """One played frame for a held key (the page's server function; the token names the session)."""
        sid = self._players.get(str(token))
        if sid is None or sid not in self.core.sessions:
            return {"error": "This play session has ended; press “Bind keys” again."}
        try:
            with self.core.session(sid) as (session, model):
                steering = session.steering
                if steering is None or steering.keys is None or steering.keys.token != token:
                    return {"error": "The steering run changed; press “Bind keys” again."}
                action = steering.keys.action(str(key))
                if action is None:
                    return {"error": f"No action is bound to {key!r}."}
                room(steering, 1, self.core.limits.max_steer_frames)
                frame, steering.state = compute(model.pipeline.step, steering.state, action)
                steering.frames.append(frame)
                return {"frame": png_data_uri(frame), "frames": len(steering.frames)}
        except UserError as error:
            return {"error": str(error)}
