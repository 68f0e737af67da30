"""POST /v1/classify's one call into the library: a classifier's probabilities for a
batch of texts, answered as `rnngen classify --json` answers each line."""


def classify_texts(served, texts):
    """{"predictions": [{"text", "label", "probability", "probabilities"}, ...]} for
    ``texts`` under the classifier ``served`` (a classification.Classifier)."""
    classes = served.model.classes
    out = []
    for text, row in zip(texts, served.model.probabilities(texts)):  # (N, K)
        best = int(row.argmax())
        out.append({"text": text, "label": classes[best], "probability": float(row[best]),
                    "probabilities": {c: float(p) for c, p in zip(classes, row)}})
    return {"predictions": out}
