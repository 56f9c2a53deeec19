"""Charts for BENCHMARKS.md from `parlor-bench compare --json` results (one JSON object per
line, as in docs/bench-results.jsonl).

    python3 crates/parlor-bench/charts.py docs/bench-results.jsonl docs/bench

Needs matplotlib (pip install matplotlib); not part of the test suite.
"""

import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(results, outdir):
    rows = [json.loads(line) for line in open(results) if line.strip()]
    os.makedirs(outdir, exist_ok=True)
    live = [r for r in rows if r["parlor"]["scenario"] == "livestream"]
    live.sort(key=lambda r: r["parlor"]["subscribers"])
    charts = [
        ("forwarded_pps_per_cpu_s", "forwarded packets per SFU CPU-second", "livestream-pps-per-cpu.png"),
        ("sfu_cpu_pct", "SFU CPU (% of one core)", "livestream-cpu.png"),
        ("loss_pct", "loss at subscribers (%)", "livestream-loss.png"),
        ("forwarded_pps", "forwarded packets per second", "livestream-pps.png"),
    ]
    for key, label, name in charts:
        fig, ax = plt.subplots(figsize=(6, 3.6), dpi=110)
        for system, style in (("parlor", "o-"), ("janus", "s--")):
            xs = [r[system]["subscribers"] for r in live if system in r]
            ys = [r[system][key] for r in live if system in r]
            ax.plot(xs, ys, style, label=system.capitalize())
        ax.set_xlabel("subscribers (livestream, 1 publisher, VP8 600 kbps + Opus)")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        ax.legend()
        ax.set_ylim(bottom=0, top=max(1.0, ax.get_ylim()[1]))
        fig.tight_layout()
        fig.savefig(os.path.join(outdir, name))
        plt.close(fig)
        print(os.path.join(outdir, name))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
