"""Plant the bugs a code review found unguarded, one at a time, and check the test suite kills
each (`tests/test_value_checks.py`).

    python benchmarks/planted_bugs.py

Works on a scratch copy of the tracked files (the checkout is never modified). Prints one line
per planted bug, ``killed`` or ``SURVIVED``, and exits non-zero if any survives. This is a fixed
list of realistic bugs in the core maths, not a mutation score; a mutation tool (mutmut,
cosmic-ray) over the core modules is the open part of the architecture issue.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: (bug, file, original text, planted text, tests that must fail: -k expression)
BUGS = [
    ("posterior scale without the between-sample variance", "dyngraphvae/objectives/elbo.py",
     "post_scale = (scale.pow(2) + (loc - post_loc).pow(2)).mean(0).sqrt()",
     "post_scale = scale.pow(2).mean(0).sqrt()", "law_of_total_variance"),
    ("graph-mixture weights from a sum over nodes", "dyngraphvae/nn/transition.py",
     "logits = p.mixture_distribution.logits.mean(-2)",
     "logits = p.mixture_distribution.logits.sum(-2)", "graph_mixture"),
    ("self-loops counted by the sparse edge estimator", "dyngraphvae/nn/adjacency.py",
     "    if bool(loops.any()):\n        edge_index = edge_index[:, ~loops]\n", "", "self_loops"),
    ("biased (nrg) CRPS in the drift curves", "dyngraphvae/evaluation/drift.py",
     'est = "fair" if num_samples > 1 else "nrg"', 'est = "nrg"', "drift_crps"),
    ("mixture log score without -log S", "dyngraphvae/evaluation/drift.py",
     "ls = -(torch.logsumexp(lp, 0) - math.log(num_samples))",
     "ls = -torch.logsumexp(lp, 0)", "drift_crps"),
    ("one teacher-forcing coin shared by all samples", "dyngraphvae/models/engine.py",
     "coin = torch.rand(S, 1, 1,", "coin = torch.rand(1, 1, 1,", "teacher_forcing"),
    ("teacher forcing with probability eps^2", "dyngraphvae/models/engine.py",
     "< teacher_forcing\n", "< teacher_forcing ** 2\n", "teacher_forcing"),
    ("marginal predictive log-likelihood without -log S", "dyngraphvae/models/results.py",
     "fms.append((torch.logsumexp(fn, dim=0) - math.log(num_samples)).sum())",
     "fms.append(torch.logsumexp(fn, dim=0).sum())", "predictive_log_likelihood"),
    ("historical negatives that include the target's edges", "dyngraphvae/evaluation/negatives.py",
     "    return cand[~torch.isin(cand, target)]", "    return cand", "historical"),
    ("EdgeBank's window off by one", "dyngraphvae/evaluation/baselines.py",
     "first = 0 if self.window is None else max(0, T - int(self.window))",
     "first = 0 if self.window is None else max(0, T - int(self.window) - 1)", "edgebank"),
]


def main() -> int:
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True,
                           check=True).stdout.split()
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for f in files:
            dst = root / f
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes((REPO / f).read_bytes())
        for bug, rel, old, new, tests in BUGS:
            path = root / rel
            src = path.read_text()
            if src.count(old) != 1:
                print(f"??       {bug}: the original text occurs {src.count(old)} times")
                ok = False
                continue
            path.write_text(src.replace(old, new))
            try:
                run = subprocess.run(
                    [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                     "tests/test_value_checks.py", "tests/test_eval_negatives.py", "-k", tests],
                    cwd=root, capture_output=True, text=True)
            finally:
                path.write_text(src)
            killed = run.returncode == 1  # tests ran and failed (2+ would be a collection error)
            ok &= killed
            print(f"{'killed  ' if killed else 'SURVIVED'} {bug}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
