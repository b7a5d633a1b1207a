import math

import torch
from torch import nn

from semedge_train.loop import BestEpoch, WarmupCosine


def test_warmup_rises_linearly_then_the_cosine_ends_at_zero_where_the_plan_says():
    schedule = WarmupCosine(warmup_steps=4, total_steps=14)
    assert [round(schedule(s), 3) for s in range(4)] == [0.2, 0.4, 0.6, 0.8]
    assert schedule(4) == 1.0
    assert math.isclose(schedule(9), 0.5, abs_tol=1e-9)
    assert schedule(14) == 0.0 and schedule(20) == 0.0
    # A time budget re-plans the run: the cosine then ends at the new total.
    schedule.total_steps = 24
    assert math.isclose(schedule(14), 0.5, abs_tol=1e-9)


def test_best_epoch_keeps_the_weights_of_the_best_key_and_counts_the_epochs_since():
    model = nn.Linear(2, 1)
    best = BestEpoch(patience=2)
    with torch.no_grad():
        model.weight.fill_(1.0)
    assert best.offer((0.5, -1.0), 1, model)
    with torch.no_grad():
        model.weight.fill_(2.0)
    assert best.offer((0.6, -2.0), 2, model)
    with torch.no_grad():
        model.weight.fill_(3.0)
    # Same accuracy, higher loss: not better.
    assert not best.offer((0.6, -2.5), 3, model)
    assert not best.patience_ran_out
    assert not best.offer((0.1, 0.0), 4, model)
    assert best.patience_ran_out and best.epoch == 2
    best.restore(model)
    assert float(model.weight[0, 0]) == 2.0
