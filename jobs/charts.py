"""The loss-curve picture posted with training results."""

from __future__ import annotations

import io
from collections.abc import Sequence


def loss_curve_png(losses: Sequence[float], title: str) -> bytes:
    """A small PNG of training loss per optimizer step (with a moving average)."""
    import matplotlib

    matplotlib.use("Agg")  # no display on workers
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=100)
    steps = list(range(1, len(losses) + 1))
    ax.plot(steps, losses, color="#b0c4de", linewidth=1, label="per step")
    window = max(1, len(losses) // 10)
    smooth = [
        sum(losses[max(0, i - window + 1) : i + 1]) / len(losses[max(0, i - window + 1) : i + 1])
        for i in range(len(losses))
    ]
    ax.plot(steps, smooth, color="#1f4e79", linewidth=2, label=f"average of {window}")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (answer tokens)")
    ax.set_title(f"Training loss — {title}")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()
