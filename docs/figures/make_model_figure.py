"""Draw docs/figures/model.png: the temporal graph VAE's generative and inference structure.

Run: python docs/figures/make_model_figure.py
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch  # noqa: E402

T = 3
fig, ax = plt.subplots(figsize=(9, 3.6))
ax.set_xlim(-0.7, T + 0.7)
ax.set_ylim(-0.9, 1.9)
ax.axis("off")
ax.set_aspect("equal")
R = 0.28


def node(x, y, text, filled):
    ax.add_patch(plt.Circle((x, y), R, fc="#d9d9d9" if filled else "white", ec="black", lw=1.4,
                            zorder=3))
    ax.text(x, y, text, ha="center", va="center", fontsize=12, zorder=4)


def arrow(p, q, style="-|>", ls="-", color="black", rad=0.0):
    # start and end on the circles' rims so the heads stay visible
    (x0, y0), (x1, y1) = p, q
    d = ((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5
    ux, uy = (x1 - x0) / d, (y1 - y0) / d
    ax.add_patch(FancyArrowPatch((x0 + R * ux, y0 + R * uy), (x1 - R * ux, y1 - R * uy),
                                 arrowstyle=style, mutation_scale=14, lw=1.3, ls=ls, color=color,
                                 shrinkA=0, shrinkB=0, connectionstyle=f"arc3,rad={rad}",
                                 zorder=5))


for t in range(T + 1):
    node(t, 1.2, f"$Z_{t}$", filled=False)
    if t >= 1:
        node(t, 0.0, f"$G_{t}$", filled=True)
for t in range(T):
    arrow((t, 1.2), (t + 1, 1.2))                       # transition p(Z_{t+1} | Z_t)
    arrow((t, 1.2), (t + 1, 0.0))                       # decoder p(G_{t+1} | Z_t)
for t in range(1, T + 1):                               # posterior q(Z_t | Z_{t-1}, G_{1:t})
    arrow((t, 0.0), (t, 1.2), ls="--", color="#c0392b")
ax.text(-0.55, 1.2, "latent", ha="right", va="center", fontsize=10)
ax.text(-0.55, 0.0, "observed\n$(X_t, A_t)$", ha="right", va="center", fontsize=10)
ax.text(T / 2, 1.75, r"solid: $p(Z_{t+1}\mid Z_t)\,p(G_{t+1}\mid Z_t)$"
        r" — $Z_t$ generates the next graph;  $Z_0$ fixed", ha="center", fontsize=10)
ax.text(T / 2, -0.75, r"dashed (red): filtering posterior $q(Z_{t}\mid Z_{t-1}, G_{1:t})$"
        " (through a recurrent summary of $G_{1:t}$)",
        ha="center", fontsize=10, color="#c0392b")
out = Path(__file__).with_name("model.png")
fig.savefig(out, dpi=130, bbox_inches="tight")
print(out)
