"""POST /v1/classify's one call into the library.

bodies.classify lets only a model whose task is "classify" reach here; until the
library has such a task (engine.spec.TASKS), every model is refused there with a 400
saying it is not a classifier. When it has one, this is the only place to change:
call the library's entry for a batch of texts and return what it finds as a JSON
object, such as {"predictions": [{"label": ..., "probabilities": {...}}, ...]}.
"""
from ..errors import RnngenError


def classify_texts(served, texts):
    """{"predictions": [...]} for ``texts`` under the classifier ``served``."""
    raise RnngenError(f"model {served.name!r} has task {served.task!r}, which this rnngen "
                      "cannot run yet")
