"""``fastscratch bench bisect GOOD BAD -k EXPR``: the first commit on BAD's first-parent history
after GOOD where a selected benchmark got slower, by binary search with ``ab`` runs (the idea
of asv's ``find``), ending with an ``ab`` between that commit and its parent."""
from .ab import run_ab
from .gitrevs import first_parent_path


def bisect(repo, good, bad, worktrees, definitions, options, report=print, on_round=None):
    """(first slower commit or None, the ABRun of it against its parent or of GOOD against
    BAD when nothing got slower); ``report`` gets one line per ab run. Assumes one step
    change: each run decides which half holds it."""
    commits = first_parent_path(repo, good, bad)
    runs = {}

    def slower(i, j):
        run = run_ab(worktrees, commits[i], commits[j], definitions, options, on_round)
        runs[i, j] = run
        names = [c.item.split("::")[-1] for c in run.slower]
        report(f"{commits[i][:10]} -> {commits[j][:10]}: "
               + (f"slower: {', '.join(names)}" if names else "no slowdown")
               + f" ({run.seconds:.0f} s)")
        return bool(names)

    lo, hi = 0, len(commits) - 1
    report(f"{hi} commits from {good[:10]} to {bad[:10]}")
    if not slower(lo, hi):
        return None, runs[lo, hi]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if slower(lo, mid):
            hi = mid
        else:
            lo = mid
    if (lo, hi) not in runs:
        slower(lo, hi)
    return commits[hi], runs[lo, hi]
