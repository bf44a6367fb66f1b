"""``python -m bench --only AREA`` splices its sections into BENCHMARKS.md instead of erasing it."""

from __future__ import annotations

from bench.report import Section, Verdict, render, splice


def document(*sections: Section) -> str:
    return render(sections, command="python -m bench", quick=False, seconds=1.0, load=(0.5, 0.7))


OLD = document(
    Section("Domain", "domain figures: old\n", (Verdict("op", "10 µs", "≤ 10 µs", True),)),
    Section("Store", "store figures: old\n", (Verdict("transact", "0.8x", "≥ 0.7x", True),)),
)


class TestSplice:
    def test_only_the_named_sections_change(self) -> None:
        new = document(
            Section("Store", "store figures: new\n", (Verdict("transact", "0.9x", "≥ 0.7x", True),))
        )
        spliced = splice(OLD, new, ["Store"])
        assert "domain figures: old" in spliced
        assert "store figures: new" in spliced
        assert "store figures: old" not in spliced
        assert spliced.index("## Domain") < spliced.index("## Store")

    def test_a_spliced_section_says_which_run_it_comes_from(self) -> None:
        new = document(Section("Store", "store figures: new\n"))
        store = splice(OLD, new, ["Store"]).split("## Store", 1)[1].split("\n## ", 1)[0]
        assert "Run:" in store
        assert "Load average (1 min) 0.50" in store

    def test_target_rows_are_replaced_by_name_and_others_kept(self) -> None:
        new = document(
            Section("Store", "new\n", (Verdict("transact", "0.9x", "≥ 0.7x", True),)),
        )
        targets = splice(OLD, new, ["Store"]).split("## Targets", 1)[1]
        assert "| transact | 0.9x |" in targets
        assert "| transact | 0.8x |" not in targets
        assert "| op | 10 µs |" in targets

    def test_a_new_section_goes_before_the_performance_work(self) -> None:
        verdict = Verdict("verify", "0.7x", "≤ 1x", True)
        new = document(Section("Webhooks", "webhook figures\n", (verdict,)))
        spliced = splice(OLD, new, ["Webhooks"])
        assert spliced.index("## Store") < spliced.index("## Webhooks")
        assert spliced.index("## Webhooks") < spliced.index("## Performance work")
        assert "| verify | 0.7x |" in spliced.split("## Targets", 1)[1]
