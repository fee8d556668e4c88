"""The report's parts for the benchmarks of a large clinic: start-up (7) and pages (8).

`run_all.py` calls `verdicts` and `details` for RESULTS.md and `panels` for the chart.
"""

from __future__ import annotations

from typing import Any

Verdict = tuple[str, str, str, bool | None]

STARTUP_TARGET = 3.0
PAGE_TARGET_MS = 150.0
PAGE_TARGET_RATIO = 3.0


def verdicts(runs: dict[str, Any]) -> list[Verdict]:
    rows: list[Verdict] = []
    st = runs.get("startup", {}).get("result")
    if st:
        cases = {x["command"]: x for x in st["cases"]}
        floor, help_ = cases["import click"], cases["reminders --help"]
        rows.append(
            (
                "7. `reminders --help` vs `python -c 'import click'`",
                f"{help_['median_s'] * 1000:.0f} vs {floor['median_s'] * 1000:.0f} ms "
                f"= {help_['ratio']:.2f}x",
                f"within {STARTUP_TARGET:g}x",
                help_["ratio"] <= STARTUP_TARGET,
            )
        )
    pg = runs.get("pages", {}).get("result")
    if pg:
        small, large = pg["sizes"][0], pg["sizes"][-1]
        for x in pg["cases"]:
            p95 = x[str(large)]["p95_ms"]
            rows.append(
                (
                    f"8. {x['name']} at {large:,} patients",
                    f"p95 {p95:.0f} ms; {x['ratio']:.1f}x the {small:,}-patient p95 "
                    f"({x[str(small)]['p95_ms']:.0f} ms)",
                    f"<= {PAGE_TARGET_MS:.0f} ms, within {PAGE_TARGET_RATIO:g}x",
                    p95 <= PAGE_TARGET_MS and x["ratio"] <= PAGE_TARGET_RATIO,
                )
            )
    return rows


def details(runs: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    st = runs.get("startup", {}).get("result")
    if st:
        lines += [
            "## 7. Start-up of the command",
            "",
            f"Each command a fresh process, {st['runs']} runs each, interleaved; heavy imports from "
            "`python -X importtime`.",
            "",
            "| command | median | p95 | vs `import click` | heavy libraries imported |",
            "|---|---|---|---|---|",
        ]
        for x in st["cases"]:
            lines.append(
                f"| `{x['command']}` | {x['median_s'] * 1000:.0f} ms | {x['p95_s'] * 1000:.0f} ms | "
                f"{x['ratio']:.2f}x | {', '.join(x['heavy_imports']) or 'none'} |"
            )
        lines.append("")
    pg = runs.get("pages", {}).get("result")
    if pg:
        sizes = pg["sizes"]
        lines += [
            "## 8. Pages and API at a large clinic's size",
            "",
            "`reminders serve` on PostgreSQL databases seeded by `seed_large.py` "
            f"({', '.join(f'{n:,}' for n in sizes)} patients), real HTTP on loopback, a signed-in staff "
            f"session (API: a token); {pg['requests']} timed requests per path and size, interleaved "
            "between the sizes.",
            "",
            "| page | " + " | ".join(f"p50 / p95 at {n:,}" for n in sizes) + " | p95 ratio | verdict |",
            "|---|" + "---|" * len(sizes) + "---|---|",
        ]
        for x in pg["cases"]:
            cells = " | ".join(f"{x[str(n)]['p50_ms']:.0f} / {x[str(n)]['p95_ms']:.0f} ms" for n in sizes)
            verdict = "met" if x["met"] else "**missed**"
            lines.append(f"| {x['name']} (`{x['path']}`) | {cells} | {x['ratio']:.1f}x | {verdict} |")
        lines.append("")
        if pg.get("seed"):
            seed = pg["seed"]
            lines += [
                f"Seeding {seed['patients']:,} patients took {seed['seconds']:.0f} s: "
                + ", ".join(f"{n:,} {t}" for t, n in seed["rows"].items())
                + ".",
                "",
            ]
        for name, plans in pg.get("plans", {}).items():
            lines += [f"### Plans: {name}", ""]
            for plan in plans:
                lines += [
                    f"{plan['ms']:.1f} ms in-process:",
                    "",
                    "```",
                    _shortened(plan["sql"].strip()),
                    "",
                    plan["plan"],
                    "```",
                    "",
                ]
    return lines


def draw(runs: dict[str, Any], startup_ax: Any, pages_ax: Any) -> None:
    """The chart's panels 7 (start-up) and 8 (pages)."""
    st = runs.get("startup", {}).get("result")
    if st:
        names = [x["command"] for x in st["cases"]]
        values = [x["median_s"] * 1000 for x in st["cases"]]
        bars = startup_ax.bar(range(len(values)), values, color=["#9e9e9e"] + ["#1f77b4"] * (len(values) - 1))
        for bar, x in zip(bars, st["cases"], strict=True):
            startup_ax.text(
                bar.get_x() + bar.get_width() / 2,
                bar.get_height(),
                f"{x['ratio']:.1f}x",
                ha="center",
                va="bottom",
            )
        floor = st["cases"][0]["median_s"] * 1000
        startup_ax.axhline(
            floor * STARTUP_TARGET, color="red", linestyle="--", linewidth=1, label="3x import click"
        )
        startup_ax.set_xticks(range(len(names)), [n.replace(" ", "\n", 1) for n in names], fontsize=8)
        startup_ax.set_ylabel("ms (median)")
        startup_ax.legend(fontsize=8)
    startup_ax.set_title("7. Start-up (target: --help within 3x of import click)", fontsize=10)
    pg = runs.get("pages", {}).get("result")
    if pg:
        small, large = pg["sizes"][0], pg["sizes"][-1]
        cases = pg["cases"]
        y = range(len(cases))
        pages_ax.barh(
            [i + 0.2 for i in y],
            [x[str(small)]["p95_ms"] for x in cases],
            0.4,
            color="#9e9e9e",
            label=f"{small:,} patients",
        )
        pages_ax.barh(
            [i - 0.2 for i in y],
            [x[str(large)]["p95_ms"] for x in cases],
            0.4,
            color="#1f77b4",
            label=f"{large:,} patients",
        )
        pages_ax.axvline(PAGE_TARGET_MS, color="red", linestyle="--", linewidth=1, label="150 ms")
        pages_ax.set_yticks(list(y), [x["name"] for x in cases], fontsize=7)
        pages_ax.invert_yaxis()
        pages_ax.set_xscale("log")
        pages_ax.set_xlabel("p95 ms (log scale)")
        pages_ax.legend(fontsize=8)
    pages_ax.set_title("8. Pages and API, p95 (target <= 150 ms, within 3x)", fontsize=10)


def _shortened(sql: str, most: int = 1500) -> str:
    """A statement as the results show it: a long one (a list of parameters, say) cut short."""
    return sql if len(sql) <= most else f"{sql[:most]} ... ({len(sql) - most:,} characters more)"
