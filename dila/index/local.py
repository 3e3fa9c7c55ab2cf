"""The single-process engine: clips decoded in a background thread, a few ahead of the model."""
from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor

from dila.index.config import IndexConfig
from dila.index.decode import decode
from dila.index.encode import clip_actions
from dila.index.results import ClipResult, failed
from dila.index.sources import ClipTask, Corpus


def local_results(config: IndexConfig, corpus: Corpus, tasks: Iterable[ClipTask], pipeline,
                  ahead: int = 2) -> Iterator[ClipResult]:
    side = pipeline.image_size

    def decoded(task: ClipTask):
        try:
            return decode(task, corpus, config, side)
        except Exception as error:  # noqa: BLE001 - any decoder failure is the clip's, not the run's
            return failed(task, error)

    with ThreadPoolExecutor(1) as pool:
        pending = deque()
        for task in tasks:
            pending.append(pool.submit(decoded, task))
            if len(pending) > ahead:
                yield _encoded(pending.popleft().result(), pipeline, config.window)
        while pending:
            yield _encoded(pending.popleft().result(), pipeline, config.window)


def _encoded(clip, pipeline, window: int) -> ClipResult:
    if isinstance(clip, ClipResult):
        return clip
    return ClipResult.of(clip, clip_actions(pipeline, clip.frames, window))
