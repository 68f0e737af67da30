"""The sweep's tables: the trials so far, best first, and which settings mattered."""
from . import study as studies


def _cell(value):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def render(header, rows):
    """Plain columns, left-aligned, two spaces apart (rows: lists of strings)."""
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header] + rows]
    return "\n".join(lines)


def ranked(study, maximize):
    """The study's trials, best first: finished by value, then pruned ones by their
    last reported value, then the rest (failed, running, waiting) by number."""
    states = studies.optuna().trial.TrialState
    sign = -1 if maximize else 1

    def key(t):
        value = studies.value_or_last(t)
        group = {states.COMPLETE: 0, states.PRUNED: 1}.get(t.state, 2)
        return (group, sign * value if group < 2 and studies.finite(value) else 0, t.number)

    return sorted(study.get_trials(deepcopy=False), key=key)


def trials_table(study, plan):
    keys = list(plan.sweep.params)
    header = ["trial", "state", plan.sweep.objective, "step", "minutes"] + keys
    rows = []
    for t in ranked(study, plan.sweep.maximize):
        step = max(t.intermediate_values, default=None)
        minutes = f"{t.duration.total_seconds() / 60:.2f}" if t.duration else "-"
        rows.append([str(t.number), state_name(t), _cell(studies.value_or_last(t)), _cell(step),
                     minutes] + [_cell(t.params.get(k)) for k in keys])
    return render(header, rows)


def state_name(t):
    name = t.state.name.lower()
    if "diverged" in t.user_attrs:
        return "diverged"
    if "interrupted" in t.user_attrs:
        return "interrupted"
    if "retry_of" in t.user_attrs:
        return f"{name} (resumes {t.user_attrs['retry_of']})"
    if t.user_attrs.get("baseline"):
        return f"{name} (baseline)"
    return name


def importances_table(study):
    """Optuna's parameter importances (its default evaluator) as a table, or a line
    saying why there are none yet."""
    opt = studies.optuna()
    finished = study.get_trials(deepcopy=False, states=(opt.trial.TrialState.COMPLETE,))
    if len(finished) < 2:
        return (f"importances: need at least 2 finished trials, the study has "
                f"{len(finished)}")
    try:
        found = opt.importance.get_param_importances(study)
    except (ValueError, RuntimeError) as e:
        return f"importances: none yet ({str(e).splitlines()[0]})"
    rows = [[key, f"{value:.3f}"] for key, value in found.items()]
    return render(["setting", "importance"], rows)
