"""Classification metrics against values worked out by hand."""
import json

import numpy as np
import pytest

from rnngen import metrics
from rnngen.errors import OptionError

# 3 classes; class 2 is never predicted.
Y_TRUE = [0, 0, 0, 1, 1, 2, 2, 2]
Y_PRED = [0, 0, 1, 1, 1, 1, 0, 1]
# rows true, columns predicted:
#   true 0 -> predicted 0, 0, 1     [2, 1, 0]
#   true 1 -> predicted 1, 1        [0, 2, 0]
#   true 2 -> predicted 1, 0, 1     [1, 2, 0]
MATRIX = [[2, 1, 0], [0, 2, 0], [1, 2, 0]]
# precision: 2/3, 2/5, 0 (never predicted)   recall: 2/3, 2/2, 0/3
# F1: 2/3, 2(0.4)(1)/1.4 = 4/7, 0            macro-F1: (2/3 + 4/7 + 0) / 3 = 26/63
# accuracy: (2 + 2 + 0) / 8


def test_confusion_matrix_rows_true_columns_predicted():
    assert metrics.confusion(Y_TRUE, Y_PRED, 3).tolist() == MATRIX


def test_scores_by_hand_with_a_class_never_predicted():
    s = metrics.scores(MATRIX)
    assert s["accuracy"] == pytest.approx(0.5)
    np.testing.assert_allclose(s["precision"], [2 / 3, 2 / 5, 0])
    np.testing.assert_allclose(s["recall"], [2 / 3, 1, 0])
    np.testing.assert_allclose(s["f1"], [2 / 3, 4 / 7, 0])
    assert s["macro_f1"] == pytest.approx(26 / 63)
    assert s["support"].tolist() == [3, 2, 3]


def test_a_class_absent_from_truth_and_predictions_does_not_count_in_macro_f1():
    s = metrics.scores(metrics.confusion(Y_TRUE, Y_PRED, 4))
    assert s["macro_f1"] == pytest.approx(26 / 63)
    # present only among the predictions: it counts, with F1 0
    s = metrics.scores(metrics.confusion([0, 0, 1], [0, 3, 1], 4))
    assert s["macro_f1"] == pytest.approx((2 * 1 * 0.5 / 1.5 + 1 + 0) / 3)


def test_evaluate_is_json_ready_with_headline_keys_first():
    summary = metrics.evaluate(Y_TRUE, Y_PRED, ["a", "b", "c"])
    assert list(summary)[:2] == ["accuracy", "macro_f1"]
    assert summary["confusion"] == MATRIX and summary["examples"] == 8
    assert summary["per_class"][2] == {"class": "c", "precision": 0.0, "recall": 0.0,
                                       "f1": 0.0, "support": 3}
    json.dumps(summary, allow_nan=False)  # no NaN anywhere, even for 0/0


def test_nothing_to_score_gives_zeros_not_nan():
    s = metrics.scores(np.zeros((2, 2), dtype=int))
    assert s["accuracy"] == 0.0 and s["macro_f1"] == 0.0


def test_bad_label_arrays():
    with pytest.raises(OptionError, match="differ in shape"):
        metrics.confusion([0, 1], [0], 2)
    with pytest.raises(OptionError, match=r"class indices in \[0, 2\)"):
        metrics.confusion([0, 2], [0, 1], 2)


def test_format_summary_lines():
    lines = metrics.format_summary(metrics.evaluate(Y_TRUE, Y_PRED, ["en", "pl", "fi"]))
    assert lines[0] == "accuracy 0.5000  macro-F1 0.4127  (8 examples)"
    assert lines[2] == "class  precision  recall      F1  support"
    assert lines[3] == "en        0.6667  0.6667  0.6667        3"
    assert lines[5] == "fi        0.0000  0.0000  0.0000        3"
    assert lines[-4:] == ["             0     1     2",
                          "en     0     2     1     0",
                          "pl     1     0     2     0",
                          "fi     2     1     2     0"]
