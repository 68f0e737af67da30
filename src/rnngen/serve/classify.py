"""POST /v1/classify's one call into the library.

bodies.classify lets only a model whose task is "classify" reach here; until the
library has that task (engine.spec.TASKS), every model is refused there with a 400
saying it is not a classifier. Plugging the classifier in touches two places:
models.load builds the task's own model for a "classify" checkpoint (the library's
classifier, loaded once, as decoding.Model is for text), and classify_texts below
asks it for each text's class probabilities, (N, K) in the order of its classes,
and answers {"predictions": [{"label": ..., "probabilities": {class: p, ...}}, ...]}.
"""
from ..errors import RnngenError


def classify_texts(served, texts):
    """{"predictions": [...]} for ``texts`` under the classifier ``served``."""
    raise RnngenError(f"model {served.name!r} has task {served.task!r}, which this rnngen "
                      "cannot run yet")
