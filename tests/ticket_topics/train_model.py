"""Train the subject model the package ships (keybuzz_shared/ticket_topics/subject_model.npz).

    .venv/bin/python -m tests.ticket_topics.train_model    # writes the weights, prints their size

Trained on the labeled set (labeled_messages.jsonl) and the written set's tuning part
(written_set/tuning.jsonl) with the tuning messages beside it (tuning_extra.jsonl), never on
its held-out part: that one is only measured
(docs/BENCHMARKS.md, "Ticket topics: the subject classifier chosen by measurement"). Each
message is read as the poller reads it: its own words (``own_words``) first. A logistic
regression (one against the rest) fitted by scikit-learn's SGD, fixed epochs and seed: the
same data give the same weights. scikit-learn trains only: the package applies the weights
with numpy.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np
from keybuzz_shared.own_words import own_words
from keybuzz_shared.ticket_topics import SUBJECTS
from keybuzz_shared.ticket_topics.subject_model import RULE_SCALE, WEIGHTS, SubjectModel, vector
from scipy.sparse import csr_matrix  # type: ignore[import-untyped]

from tests.ticket_topics.measure import Labeled, extra_tuning, labeled, written

BUCKETS = 1 << 17  # hashed features: 2^17 × 8 subjects at int8 (BENCHMARKS.md: 2^16 loses)
# As LogisticRegression's C, and the rule features' scale (subject_model.RULE_SCALE): chosen
# by 5 folds over the training messages (C 30 / 100 / 200 / 300 / 1000, scale 0.125 / 0.25 / 0.5 / 1;
# BENCHMARKS.md, twenty-sixth session).
REGULARISATION = 300.0
EPOCHS = 50
SEED = 0


def training_messages() -> list[Labeled]:
    return labeled() + written("tuning") + extra_tuning()


def fit(
    messages: Sequence[Labeled],
    *,
    buckets: int = BUCKETS,
    rule_scale: float = RULE_SCALE,
    regularisation: float = REGULARISATION,
) -> SubjectModel:
    """A model trained on ``messages``' own words and subjects."""
    from sklearn.linear_model import SGDClassifier  # type: ignore[import-untyped]

    indptr, indices, values = [0], [], []
    for message in messages:
        columns, weights = vector(own_words(message.text), buckets, rule_scale)
        indices.append(columns)
        values.append(weights)
        indptr.append(indptr[-1] + len(columns))
    matrix = csr_matrix(
        (np.concatenate(values), np.concatenate(indices), np.array(indptr)),
        shape=(len(messages), buckets + len(SUBJECTS)),
    )
    labels = np.array([SUBJECTS.index(m.subject) for m in messages])
    # Fixed epochs and seed: the same messages give the same weights. The penalty as
    # LogisticRegression's C would put it (1 / (C × n)), ~10x faster than its lbfgs, as good.
    regression = SGDClassifier(
        loss="log_loss",
        alpha=1 / (regularisation * len(messages)),
        max_iter=EPOCHS,
        tol=None,
        random_state=SEED,
    )
    regression.fit(matrix, labels)
    if list(regression.classes_) != list(range(len(SUBJECTS))):
        raise ValueError("every subject must be in the training messages")
    return SubjectModel(
        regression.coef_.T.astype(np.float32), regression.intercept_, buckets, rule_scale
    )


def main() -> None:
    messages = training_messages()
    model = fit(messages)
    model.save(WEIGHTS)
    print(
        f"{WEIGHTS}: {WEIGHTS.stat().st_size / 1024:.0f} KiB, trained on {len(messages)} "
        f"messages ({len(labeled())} of the labeled set, {len(written('tuning'))} tuning, "
        f"{len(extra_tuning())} extra tuning)",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
