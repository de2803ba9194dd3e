"""The accuracy matrix and the continual-learning metrics computed from it.

Notation (T tasks, 0-based here, 1-based in the papers):
  R[i][j]  accuracy on task j after training task i (j <= i is always filled;
           R[j-1][j], the accuracy of task j's routed expert just before it trains, is
           filled when known and drives FWT).
  b[j]     zero-shot accuracy of the frozen backbone on task j.

  AvgAcc      = 1/T     sum_j R[T-1][j]
  BWT         = 1/(T-1) sum_{j<T-1} (R[T-1][j] - R[j][j])                (Lopez-Paz & Ranzato 2017)
  BWT_clipped = 1/T     sum_{j<T}   min(R[T-1][j] - R[j][j], 0)          (LLM CL papers, e.g. TRACE)
  FWT         = 1/(T-1) sum_{j>=1}  (R[j-1][j] - b[j])                   (Lopez-Paz & Ranzato 2017)
  Forgetting  = 1/(T-1) sum_{j<T-1} (max_{j<=i<T-1} R[i][j] - R[T-1][j]) (Chaudhry et al. 2018)

With one task, BWT, FWT and forgetting are 0 by convention. See docs/adr/0007-metrics.md.
"""

from __future__ import annotations

from collections.abc import Sequence

from attrs import define, field

from adaptive_learner.domain.errors import DomainError


def _check_accuracy(value: float, where: str) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise DomainError(f"{where}: accuracy {value} is outside [0, 1]")
    return value


@define
class AccuracyMatrix:
    """R[i][j] for a sequence of `task_ids`, filled row by row as training proceeds."""

    # A typed converter (not plain `tuple`) lets mypy type __init__; it converts, it checks nothing.
    task_ids: tuple[str, ...] = field(converter=tuple[str, ...])
    _cells: dict[tuple[int, int], float] = field(factory=dict, alias="cells")
    zero_shot: dict[int, float] = field(factory=dict)

    @property
    def size(self) -> int:
        return len(self.task_ids)

    @property
    def trained(self) -> int:
        """Number of rows whose diagonal is filled (tasks trained so far)."""
        n = 0
        while (n, n) in self._cells:
            n += 1
        return n

    def _check_index(self, i: int, j: int) -> None:
        if not (0 <= i < self.size and 0 <= j < self.size):
            raise DomainError(f"cell ({i}, {j}) is outside a {self.size}x{self.size} matrix")

    def record(self, i: int, j: int, accuracy: float) -> None:
        self._check_index(i, j)
        self._cells[(i, j)] = _check_accuracy(accuracy, f"R[{i}][{j}]")

    def record_zero_shot(self, j: int, accuracy: float) -> None:
        self._check_index(0, j)
        self.zero_shot[j] = _check_accuracy(accuracy, f"b[{j}]")

    def get(self, i: int, j: int) -> float | None:
        return self._cells.get((i, j))

    def __getitem__(self, ij: tuple[int, int]) -> float:
        value = self._cells.get(ij)
        if value is None:
            raise DomainError(f"R[{ij[0]}][{ij[1]}] has not been measured")
        return value

    def rows(self) -> list[list[float | None]]:
        return [[self.get(i, j) for j in range(self.size)] for i in range(self.size)]

    @classmethod
    def from_rows(
        cls, rows: Sequence[Sequence[float | None]], task_ids: Sequence[str] | None = None
    ) -> AccuracyMatrix:
        ids = tuple(task_ids) if task_ids is not None else tuple(f"t{j}" for j in range(len(rows)))
        matrix = cls(ids)
        for i, row in enumerate(rows):
            for j, value in enumerate(row):
                if value is not None:
                    matrix.record(i, j, value)
        return matrix

    # --- metrics over the first `self.trained` tasks ---------------------------------------

    def _last(self) -> int:
        t = self.trained
        if t == 0:
            raise DomainError("no task has been trained yet")
        return t - 1

    def avg_acc(self) -> float:
        last = self._last()
        return sum(self[last, j] for j in range(last + 1)) / (last + 1)

    def bwt(self) -> float:
        last = self._last()
        if last == 0:
            return 0.0
        return sum(self[last, j] - self[j, j] for j in range(last)) / last

    def bwt_clipped(self) -> float:
        last = self._last()
        return sum(min(self[last, j] - self[j, j], 0.0) for j in range(last + 1)) / (last + 1)

    def forgetting(self) -> float:
        last = self._last()
        if last == 0:
            return 0.0
        drops = [max(self[i, j] for i in range(j, last)) - self[last, j] for j in range(last)]
        return sum(drops) / last

    def fwt(self) -> float | None:
        """Forward transfer; None when a needed R[j-1][j] or b[j] was not measured."""
        last = self._last()
        if last == 0:
            return 0.0
        terms = []
        for j in range(1, last + 1):
            before, base = self.get(j - 1, j), self.zero_shot.get(j)
            if before is None or base is None:
                return None
            terms.append(before - base)
        return sum(terms) / last

    def summary(self) -> dict[str, float | None]:
        return {
            "avg_acc": self.avg_acc(),
            "bwt": self.bwt(),
            "bwt_clipped": self.bwt_clipped(),
            "fwt": self.fwt(),
            "forgetting": self.forgetting(),
        }

    def to_dict(self) -> dict:
        return {
            "task_ids": list(self.task_ids),
            "rows": self.rows(),
            "zero_shot": [self.zero_shot.get(j) for j in range(self.size)],
        }

    @classmethod
    def from_dict(cls, data: dict) -> AccuracyMatrix:
        matrix = cls.from_rows(data["rows"], data["task_ids"])
        for j, value in enumerate(data.get("zero_shot", [])):
            if value is not None:
                matrix.record_zero_shot(j, value)
        return matrix


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value) across seeds."""
    if not values:
        raise DomainError("mean_std of no values")
    mean = sum(values) / len(values)
    if len(values) == 1:
        return mean, 0.0
    var = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return mean, var**0.5


@define(frozen=True)
class Score:
    """One evaluation of one expert on one split of one task."""

    accuracy: float
    balanced_accuracy: float
    majority_baseline: float
    n: int
    predictions: dict[str, int] = field(factory=dict)

    def __attrs_post_init__(self) -> None:
        for name in ("accuracy", "balanced_accuracy", "majority_baseline"):
            _check_accuracy(getattr(self, name), name)

    @classmethod
    def from_predictions(
        cls, gold: Sequence[int], predicted: Sequence[int], labels: Sequence[str]
    ) -> Score:
        """Accuracy, balanced accuracy (mean per-class recall) and majority-class accuracy."""
        if len(gold) != len(predicted):
            raise DomainError(f"{len(gold)} gold labels but {len(predicted)} predictions")
        if not gold:
            raise DomainError("cannot score an empty split")
        n = len(gold)
        correct = sum(g == p for g, p in zip(gold, predicted, strict=True))
        recalls = []
        for c in sorted(set(gold)):
            members = [p for g, p in zip(gold, predicted, strict=True) if g == c]
            recalls.append(sum(p == c for p in members) / len(members))
        counts = {labels[c]: sum(p == c for p in predicted) for c in range(len(labels))}
        majority = max(sum(g == c for g in gold) for c in set(gold)) / n
        return cls(correct / n, sum(recalls) / len(recalls), majority, n, counts)
