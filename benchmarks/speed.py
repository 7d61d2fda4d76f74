#!/usr/bin/env python
r"""Training speed and peak memory of :class:`dyngraphvae.models.TemporalGraphVAE`.

One *epoch* is one optimisation step on the whole sequence, as in VGRNN's released code
(full-sequence back-propagation through time)::

    opt.zero_grad(); out = model.elbo(graph); out.loss.backward(); opt.step()   # Adam

Each case is timed as the median of ``--repeats`` epochs after ``--warmup`` untimed epochs, in a
fresh Python process (so that the allocator caches of one case cannot hide the memory of the
next). Reported per case:

* wall seconds per epoch (``time.perf_counter``) and CPU seconds per epoch of the process
  (``time.process_time``: on a shared machine it is the steadier figure; with one thread and an
  idle machine the two agree);
* peak memory of training: on CPU the peak resident set size during the warm-up and timed epochs
  minus the resident size just before them (Linux ``VmHWM`` after resetting it through
  ``/proc/self/clear_refs``; ``ru_maxrss`` where that is not available); on CUDA
  ``torch.cuda.max_memory_allocated`` minus the memory allocated before the first epoch.

Cases: the real datasets (``--datasets``), random graphs with ``N`` in ``--sizes`` nodes, average
degree ``--degree`` and ``--snapshots`` snapshots (featureless and with ``--features`` Gaussian
node features), always with the **sparse** adjacency estimator; the **dense** evaluator is run
as well wherever ``N <= --dense-max-nodes``, and the dense/sparse ratios of time and memory are
printed. The log-log slope of time against ``N`` over the random graphs is fitted by least squares
(``log t = a + b log N``; linear scaling is ``b = 1``).

Usage (from the repository root)::

    python benchmarks/speed.py                       # the table of docs/benchmarks.md
    python benchmarks/speed.py --quick               # seconds; a smoke run
    python benchmarks/speed.py --sizes 1000,10000 --repeats 5 --threads 2 --device cuda

The random graphs are Erdős–Rényi snapshots drawn independently per step (``round(N k / 2)``
distinct undirected edges, ``k`` the average degree): what matters for cost is ``N``, ``E`` and
``T``, not the structure.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_DATASETS = ("vgrnn_enron10", "uci_collegemsg", "bitcoin_alpha")
#: Datasets loaded without their edge weights, and why (shown under the table).
UNWEIGHTED: dict[str, str] = {
    "bitcoin_alpha": "signed trust ratings in [-10, 10] as edge weights make weighted GCN "
    "degrees non-positive (886 node-steps), so D^-1/2 is NaN; timed without weights",
}
#: VGRNN's released code, rerun on this machine (``shared/datasets/VGRNN_RESULTS.md``).
VGRNN_REFERENCE: dict[str, str] = {
    "vgrnn_enron10": "0.020 s/epoch, 446 MB peak RSS",
    "uci_collegemsg[>=40]": "4.2 s/epoch, 6.35 GB peak RSS",
}
#: Slope of log time against log N above which the scaling is flagged.
SLOPE_TARGET = 1.05


# ==================================================================================================
# cases
# ==================================================================================================
@dataclass
class Case:
    """One measurement: a graph (dataset or random), an adjacency evaluator, a device."""

    label: str
    kind: str  # "dataset" | "random"
    method: str  # "dense" | "sparse"
    dataset: str | None = None
    min_edges: int = 0  # dataset: keep only snapshots with at least this many edges
    num_nodes: int = 0
    num_snapshots: int = 0
    degree: float = 10.0
    num_features: int = 0
    seed: int = 0
    data_root: str | None = None
    device: str = "cpu"
    threads: int = 1
    warmup: int = 1
    repeats: int = 3
    num_samples: int = 1
    window: int = 0  # 0: whole-sequence steps; W: a pass of windowed training (TrainConfig.window)


@dataclass
class Result:
    """What one case measured (times in seconds, memory in bytes)."""

    case: Case
    num_nodes: int = 0
    num_snapshots: int = 0
    edges_per_step: float = 0.0
    num_features: int = 0
    num_parameters: int = 0
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    peak_bytes: int | None = None
    memory_method: str = ""
    final_elbo: float | None = None
    setup_s: float = 0.0
    error: str | None = None

    @property
    def wall_median(self) -> float:
        return statistics.median(self.wall) if self.wall else math.nan

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu) if self.cpu else math.nan

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["wall_median"], d["cpu_median"] = self.wall_median, self.cpu_median
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Result:
        d = dict(d)
        d.pop("wall_median", None)
        d.pop("cpu_median", None)
        d["case"] = Case(**d["case"])
        return cls(**d)


def random_temporal_graph(
    num_nodes: int, num_snapshots: int, degree: float, num_features: int = 0, seed: int = 0
):
    """Independent Erdős–Rényi snapshots with ``round(N k / 2)`` distinct undirected edges each.

    Pairs are drawn uniformly (``u != v``), canonicalised to ``u < v``, deduplicated, and a
    uniformly random subset of the required size is kept; O(E log E) per snapshot, never N².
    Features (if any) are i.i.d. standard normal, shape ``(T, N, F)``.
    """
    import torch

    from dyngraphvae.data import TemporalGraph

    n, m = int(num_nodes), int(round(num_nodes * degree / 2))
    if m > n * (n - 1) // 2:
        raise ValueError(f"degree {degree} is impossible with {n} nodes")
    gen = torch.Generator().manual_seed(seed)
    edges = []
    for _ in range(num_snapshots):
        keys = torch.empty(0, dtype=torch.long)
        while keys.numel() < m:
            draw = 2 * (m - keys.numel()) + 16
            u = torch.randint(0, n, (draw,), generator=gen)
            v = torch.randint(0, n, (draw,), generator=gen)
            keep = u != v
            u, v = u[keep], v[keep]
            keys = torch.cat([keys, torch.minimum(u, v) * n + torch.maximum(u, v)]).unique()
        keys = keys[torch.randperm(keys.numel(), generator=gen)[:m]].sort().values
        edges.append(torch.stack([keys // n, keys % n]))
    x = (
        torch.randn(num_snapshots, n, num_features, generator=gen) if num_features > 0 else None
    )
    return TemporalGraph(edges, n, x=x, name=f"er(N={n},k={degree:g},T={num_snapshots})")


def build_graph(case: Case):
    """The TemporalGraph of a case (dataset, optionally restricted to busy snapshots; or random)."""
    if case.kind == "random":
        return random_temporal_graph(
            case.num_nodes, case.num_snapshots, case.degree, case.num_features, case.seed
        )
    from dyngraphvae.data import load_dataset

    options = {"weights": False} if case.dataset in UNWEIGHTED else {}
    g = load_dataset(case.dataset, case.data_root, **options)
    if case.min_edges > 0:
        g = g.select([t for t in range(len(g)) if g.num_edges(t) >= case.min_edges])
    return g


# ==================================================================================================
# measurement (runs inside the worker process)
# ==================================================================================================
def _status_kib(key: str) -> int | None:
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    m = re.search(rf"^{key}:\s+(\d+) kB", text, re.MULTILINE)
    return int(m.group(1)) if m else None


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (Linux >= 4.0); False where not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return _status_kib("VmHWM") is not None


class _PeakMemory:
    """Peak extra memory of a block of work (see the module docstring for the method)."""

    def __init__(self, device) -> None:
        import torch

        self.torch, self.device = torch, device
        self.cuda = device.type == "cuda"

    def start(self) -> None:
        if self.cuda:
            self.torch.cuda.synchronize(self.device)
            self.torch.cuda.reset_peak_memory_stats(self.device)
            self.base = self.torch.cuda.memory_allocated(self.device)
            self.method = "cuda max_memory_allocated"
        elif _reset_peak_rss():
            self.base = _status_kib("VmRSS") * 1024
            self.method = "VmHWM - VmRSS"
        else:
            self.base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            self.method = "ru_maxrss delta"

    def stop(self) -> int:
        if self.cuda:
            self.torch.cuda.synchronize(self.device)
            return int(self.torch.cuda.max_memory_allocated(self.device) - self.base)
        if self.method == "VmHWM - VmRSS":
            return max(0, _status_kib("VmHWM") * 1024 - self.base)
        return max(0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - self.base)


def measure(case: Case) -> Result:
    """Build the graph and the model of ``case`` and time ``warmup + repeats`` training epochs."""
    import torch

    from dyngraphvae.models import ForecasterConfig, TemporalGraphVAE

    torch.set_num_threads(case.threads)
    torch.manual_seed(case.seed)
    device = torch.device(case.device)
    t0 = time.perf_counter()
    graph = build_graph(case)
    T = len(graph)
    res = Result(case=case, num_nodes=graph.num_nodes, num_snapshots=T,
                 edges_per_step=sum(graph.num_edges(t) for t in range(T)) / T,
                 num_features=graph.num_features)
    config = ForecasterConfig.for_graph(graph, adjacency=case.method)
    model = TemporalGraphVAE(config).to(device)
    graph = graph.to(device)
    res.num_parameters = sum(p.numel() for p in model.parameters())
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    gen = torch.Generator(device=device).manual_seed(case.seed)
    res.setup_s = time.perf_counter() - t0

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    def epoch() -> float:
        if not case.window:
            opt.zero_grad(set_to_none=True)
            out = model.elbo(graph, num_samples=case.num_samples, generator=gen)
            out.loss.backward()
            opt.step()
            return float(out.elbo.detach())
        # one pass of windowed training: the filtered starts, then one step per window
        starts = list(range(0, T, case.window))
        model.eval()
        with torch.no_grad():
            states = model.filter_states(graph, starts[1:], case.num_samples, generator=gen)
        model.train()
        total = 0.0
        for a in starts:
            opt.zero_grad(set_to_none=True)
            out = model.elbo(graph[a:a + case.window], num_samples=case.num_samples,
                             generator=gen, start=states.get(a))
            out.loss.backward()
            opt.step()
            total += float(out.elbo.detach())
        return total

    mem = _PeakMemory(device)
    mem.start()
    for _ in range(case.warmup):
        epoch()
    for _ in range(case.repeats):
        sync()
        w0, c0 = time.perf_counter(), time.process_time()
        res.final_elbo = epoch()
        sync()
        res.wall.append(time.perf_counter() - w0)
        res.cpu.append(time.process_time() - c0)
    res.peak_bytes, res.memory_method = mem.stop(), mem.method
    return res


def _worker_main(payload: str) -> None:
    case = Case(**json.loads(payload))
    try:
        res = measure(case)
    except Exception as err:  # reported in the table, never hidden
        res = Result(case=case, error=f"{type(err).__name__}: {err}".splitlines()[0][:200])
    print("RESULT " + json.dumps(res.to_dict()), flush=True)


def run_case(case: Case, isolate: bool, timeout: float) -> Result:
    """Measure ``case`` in a fresh interpreter (``isolate``) or in this process."""
    if not isolate:
        try:
            return measure(case)
        except Exception as err:
            return Result(case=case, error=f"{type(err).__name__}: {err}".splitlines()[0][:200])
    env = dict(os.environ, OMP_NUM_THREADS=str(case.threads), MKL_NUM_THREADS=str(case.threads))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(asdict(case))]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return Result(case=case, error=f"timed out after {timeout:.0f} s")
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("RESULT "):
            return Result.from_dict(json.loads(line[len("RESULT "):]))
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return Result(case=case, error=f"worker exited with {proc.returncode}: {tail[:200]}")


# ==================================================================================================
# analysis and tables
# ==================================================================================================
def loglog_fit(sizes: list[float], times: list[float]) -> tuple[float, float]:
    """Least-squares ``log10 t = a + b log10 N``; returns ``(b, a)`` (needs two distinct sizes)."""
    if len(sizes) != len(times) or len(set(sizes)) < 2:
        raise ValueError("loglog_fit: need at least two distinct sizes with one time each")
    if min(sizes) <= 0 or min(times) <= 0:
        raise ValueError("loglog_fit: sizes and times must be positive")
    xs = [math.log10(s) for s in sizes]
    ys = [math.log10(t) for t in times]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    return b, my - b * mx


def _fmt_time(t: float) -> str:
    if not math.isfinite(t):
        return "–"
    return f"{t:.3g}" if t < 100 else f"{t:.0f}"


def _fmt_mem(b: int | None) -> str:
    if b is None:
        return "–"
    mb = b / 2**20
    return f"{mb:.3g}" if mb < 1000 else f"{mb:.0f}"


def results_table(results: list[Result]) -> str:
    head = ("| case | N | T | edges/step | F | adjacency | window | s/epoch (wall) "
            "| s/epoch (CPU) | peak Δmem MB | params |")
    lines = [head, "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        c = r.case
        if r.error:
            lines.append(f"| {c.label} | {r.num_nodes or c.num_nodes or '–'} | – | – | – | "
                         f"{c.method} | {c.window or 'whole'} | error: {r.error} | | | |")
            continue
        lines.append(
            f"| {c.label} | {r.num_nodes} | {r.num_snapshots} | {r.edges_per_step:.1f} | "
            f"{r.num_features} | {c.method} | {c.window or 'whole'} | "
            f"{_fmt_time(r.wall_median)} | "
            f"{_fmt_time(r.cpu_median)} | {_fmt_mem(r.peak_bytes)} | {r.num_parameters:,} |"
        )
    return "\n".join(lines)


def ratio_table(results: list[Result]) -> str:
    by_key: dict[tuple[str, str], Result] = {(r.case.label, r.case.method): r for r in results
                                             if not r.case.window}
    lines = ["| case | N | dense/sparse time (wall) | dense/sparse time (CPU) "
             "| dense/sparse memory |", "|---|---|---|---|---|"]
    for (label, method), dense in by_key.items():
        sparse = by_key.get((label, "sparse"))
        if method != "dense" or sparse is None or dense.error or sparse.error:
            continue
        mem = (f"{dense.peak_bytes / sparse.peak_bytes:.3g}"
               if dense.peak_bytes and sparse.peak_bytes else "–")
        lines.append(
            f"| {label} | {dense.num_nodes} | {dense.wall_median / sparse.wall_median:.3g} | "
            f"{dense.cpu_median / sparse.cpu_median:.3g} | {mem} |"
        )
    return "\n".join(lines) if len(lines) > 2 else "(no case ran both evaluators)"


def scaling_report(results: list[Result]) -> tuple[str, dict[str, dict[str, float]]]:
    """Log-log slopes of sparse-evaluator time against N over the random graphs, per F."""
    groups: dict[int, list[Result]] = {}
    for r in results:
        if r.case.kind == "random" and r.case.method == "sparse" and not r.error:
            groups.setdefault((r.case.num_features, r.case.window), []).append(r)
    out, fits = [], {}
    for (f, w), rs in sorted(groups.items()):
        rs = sorted(rs, key=lambda r: r.num_nodes)
        if len({r.num_nodes for r in rs}) < 2:
            continue
        ns = [r.num_nodes for r in rs]
        fit = {}
        for what in ("wall", "cpu"):
            ts = [getattr(r, f"{what}_median") for r in rs]
            b, a = loglog_fit(ns, ts)
            fit[what], fit[f"{what}_intercept"] = b, a
        tag = f"F={f}" + (f", W={w}" if w else "")
        fits[tag] = fit
        per_node = ", ".join(f"N={n:.0e}: {1e6 * r.cpu_median / n:.3g}" for n, r in zip(
            ns, rs, strict=True))
        verdict = "met" if fit["cpu"] <= SLOPE_TARGET and fit["wall"] <= SLOPE_TARGET else (
            "NOT met")
        out.append(
            f"- {tag}: log10 t = {fit['cpu_intercept']:.3f} + {fit['cpu']:.3f} log10 N (CPU), "
            f"{fit['wall_intercept']:.3f} + {fit['wall']:.3f} log10 N (wall), over N = "
            f"{', '.join(str(n) for n in ns)}; slope target <= {SLOPE_TARGET}: {verdict}. "
            f"CPU µs per node-epoch: {per_node}."
        )
    return ("\n".join(out) or "(fewer than two random-graph sizes: no fit)"), fits


def machine_info(device: str, threads: int) -> dict[str, Any]:
    import torch
    import torch_geometric

    info = {
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_geometric": torch_geometric.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "device": device,
        "threads": threads,
    }
    if device.startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    try:
        info["cpu_model"] = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        info["cpu_model"] = platform.processor() or "unknown"
    return info


# ==================================================================================================
# driver
# ==================================================================================================
def _int_list(text: str) -> list[int]:
    try:
        return [int(float(s)) for s in text.split(",") if s.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from err


def _str_list(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=_int_list, default=None,
                   help="random-graph node counts (default 1000,10000,100000; --quick 100,200,400)")
    p.add_argument("--snapshots", type=int, default=None,
                   help="snapshots T of the random graphs (default 5; --quick 3)")
    p.add_argument("--degree", type=float, default=10.0, help="average degree of random graphs")
    p.add_argument("--features", type=_int_list, default=None,
                   help="feature widths F of the random graphs, 0 = featureless (default 0,8)")
    p.add_argument("--datasets", type=_str_list, default=None,
                   help=f"real datasets (default {','.join(DEFAULT_DATASETS)}; --quick "
                   "vgrnn_enron10; '' for none)")
    p.add_argument("--data-root", default=None,
                   help="dataset root (default $DYNGRAPHVAE_DATA, else ../shared/datasets)")
    p.add_argument("--repeats", type=int, default=None, help="timed epochs (default 3; quick 1)")
    p.add_argument("--warmup", type=int, default=1, help="untimed epochs before timing")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    p.add_argument("--dense-max-nodes", type=int, default=2000,
                   help="also run the dense evaluator on cases with N <= this")
    p.add_argument("--num-samples", type=int, default=1, help="posterior trajectories S")
    p.add_argument("--windows", type=_int_list, default=[0],
                   help="training windows W (TrainConfig.window); 0 = whole-sequence steps. "
                   "With W > 0 an epoch is one pass: the filtered window starts (no gradient), "
                   "then one Adam step per window")
    p.add_argument("--whole-max-nodes", type=int, default=200_000,
                   help="random graphs above this N are timed with windows only (whole-sequence "
                   "steps need about 8 KB per node-step)")
    p.add_argument("--quick", action="store_true",
                   help="tiny sizes, one repeat, in-process: a smoke run in seconds")
    p.add_argument("--in-process", action="store_true",
                   help="measure every case in this process (faster start; memory figures of "
                   "later cases can be hidden by allocator caches of earlier ones)")
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds per isolated case")
    p.add_argument("--json", default=None, help="also write all results to this JSON file")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    q = args.quick
    if args.sizes is None:
        args.sizes = [100, 200, 400] if q else [1000, 10000, 100000]
    if args.snapshots is None:
        args.snapshots = 3 if q else 5
    if args.features is None:
        args.features = [0, 4] if q else [0, 8]
    if args.datasets is None:
        args.datasets = ["vgrnn_enron10"] if q else list(DEFAULT_DATASETS)
    if args.repeats is None:
        args.repeats = 1 if q else 3
    if q:
        args.in_process = True
    for name in ("repeats", "snapshots", "threads", "num_samples"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.warmup < 0:
        p.error("--warmup must be >= 0")
    if args.data_root is None:
        env = os.environ.get("DYNGRAPHVAE_DATA")
        repo = Path(__file__).resolve().parent.parent
        args.data_root = env or str((repo / ".." / "shared" / "datasets").resolve())
    return args


def make_cases(args: argparse.Namespace) -> tuple[list[Case], list[str]]:
    """The cases to run (dataset cases whose files are missing are skipped with a note)."""
    common = dict(device=args.device, threads=args.threads, warmup=args.warmup,
                  repeats=args.repeats, num_samples=args.num_samples)
    cases, notes = [], []
    root = Path(args.data_root)
    for name in args.datasets:
        if not (root / name / "data.npz").is_file():
            notes.append(f"dataset {name!r} skipped: {root / name / 'data.npz'} not found")
            continue
        variants = [(name, 0)]
        if name == "uci_collegemsg":
            variants.append(("uci_collegemsg[>=40]", 40))  # VGRNN's timing subset
        for label, min_edges in variants:
            n = _dataset_nodes(root / name / "data.npz")
            for method in (("dense", "sparse") if n <= args.dense_max_nodes else ("sparse",)):
                for w in args.windows:
                    cases.append(Case(label=label, kind="dataset", method=method, dataset=name,
                                      min_edges=min_edges, data_root=str(root), window=w,
                                      **common))
    for f in args.features:
        for n in args.sizes:
            label = f"random N={n:.0e}" + (f" F={f}" if f else "")
            for method in (("dense", "sparse") if n <= args.dense_max_nodes else ("sparse",)):
                for w in args.windows:
                    if not w and n > args.whole_max_nodes:
                        notes.append(f"{label}: whole-sequence steps not run above "
                                     f"--whole-max-nodes {args.whole_max_nodes} (memory)")
                        continue
                    cases.append(Case(label=label, kind="random", method=method, num_nodes=n,
                                      num_snapshots=args.snapshots, degree=args.degree,
                                      num_features=f, window=w, **common))
    return cases, notes


def _dataset_nodes(path: Path) -> int:
    import numpy as np

    with np.load(path, allow_pickle=False) as z:
        return int(z["num_nodes"])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker is not None:
        _worker_main(args.worker)
        return 0
    cases, notes = make_cases(args)
    info = machine_info(args.device, args.threads)
    load_start = os.getloadavg()
    cmd = "python benchmarks/speed.py " + " ".join(sys.argv[1:] if argv is None else argv)
    mode = "in-process" if args.in_process else "one process each"
    print(f"# {cmd}\n# {len(cases)} cases, {mode}"
          f"; load average at start {load_start[0]:.2f} {load_start[1]:.2f} {load_start[2]:.2f}",
          flush=True)
    results = []
    for case in cases:
        r = run_case(case, isolate=not args.in_process, timeout=args.timeout)
        status = r.error or (f"{_fmt_time(r.wall_median)} s wall, {_fmt_time(r.cpu_median)} s CPU, "
                             f"{_fmt_mem(r.peak_bytes)} MB")
        print(f"#   {case.label} [{case.method}]: {status}", file=sys.stderr, flush=True)
        results.append(r)
    load_end = os.getloadavg()
    scaling, fits = scaling_report(results)
    print(f"\nMachine: {info['cpu_model']}, {info['cpu_count']} cores, device {info['device']}"
          + (f" ({info['gpu']})" if "gpu" in info else "")
          + f", {args.threads} thread(s); Python {info['python']}, torch {info['torch']}, "
          f"torch_geometric {info['torch_geometric']}; {info['date']}.")
    print(f"Load average (1/5/15 min): start {load_start[0]:.2f}/{load_start[1]:.2f}/"
          f"{load_start[2]:.2f}, end {load_end[0]:.2f}/{load_end[1]:.2f}/{load_end[2]:.2f}.")
    print(f"Epoch = elbo + backward + Adam step over all T snapshots, S={args.num_samples}; "
          f"median of {args.repeats} after {args.warmup} warm-up; random graphs: Erdős–Rényi, "
          f"average degree {args.degree:g}, T={args.snapshots}.\n")
    print(results_table(results))
    print("\nDense / sparse adjacency evaluator (same run):\n")
    print(ratio_table(results))
    print(f"\nScaling of the sparse evaluator with N (random graphs):\n\n{scaling}")
    for name, why in UNWEIGHTED.items():
        if any(r.case.dataset == name for r in results):
            notes.append(f"{name}: {why}")
    for label, ref in VGRNN_REFERENCE.items():
        if any(r.case.label == label for r in results):
            notes.append(f"VGRNN released code on {label}: {ref} "
                         "(shared/datasets/VGRNN_RESULTS.md)")
    if notes:
        print("\nNotes:\n" + "\n".join(f"- {n}" for n in notes))
    if args.json:
        Path(args.json).write_text(json.dumps({
            "command": cmd, "machine": info, "load_start": load_start, "load_end": load_end,
            "results": [r.to_dict() for r in results], "fits": fits, "notes": notes,
        }, indent=2))
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
