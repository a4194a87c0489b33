//! Which tests run: discovery, node ids, `-k`, `--changed`, shards, the
//! counts the report shows ([`TestPlan`]), and how the selected tests are
//! grouped into work for the workers (`schedule`). Pure but for finding
//! files and asking git what changed: no processes of ours.

pub mod changed;
pub mod discovery;
pub mod keyword;
pub mod schedule;
pub mod selection;
pub mod shard;

use crate::model::outcome::TestItem;
use crate::plan::selection::Selection;
use crate::plan::shard::Shard;

/// The tests this session runs, out of those collected, and how to count them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestPlan {
    /// Indices into the collection, in collection order.
    pub selected: Vec<usize>,
    /// Collected but not run: `-k`, the engine's own deselection, other shards.
    pub deselected: usize,
    /// The "collected N items / M deselected / K skipped" line. A file skipped
    /// whole at import counts once, as a skip, not as an item.
    pub counts: CollectedCounts,
    /// Tests were selected, but this shard has none of their files.
    pub nothing_in_shard: bool,
}

/// What the "collected" line says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CollectedCounts {
    pub collected: usize,
    pub selected: usize,
    pub errors: usize,
    pub skipped_files: usize,
}

impl TestPlan {
    /// The plan for `tests` (the whole collection, with `errors` files that
    /// could not be collected) after `selection`, keeping `shard`'s files.
    pub fn new(
        tests: &[TestItem],
        errors: usize,
        selection: &Selection,
        shard: Option<Shard>,
    ) -> TestPlan {
        let mut selected = selection.selected.clone();
        if let Some(shard) = shard {
            selected.retain(|&i| shard.owns(&tests[i].path));
        }
        let nothing_in_shard =
            shard.is_some() && selected.is_empty() && !selection.selected.is_empty();
        let collected = selection.deselected_before + selection.collected.len();
        let skipped_files = selected
            .iter()
            .filter(|&&i| tests[i].is_skipped_file())
            .count();
        TestPlan {
            deselected: collected - selected.len(),
            counts: CollectedCounts {
                collected: collected - skipped_files,
                selected: selected.len() - skipped_files,
                errors,
                skipped_files,
            },
            selected,
            nothing_in_shard,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(nodeid: &str) -> TestItem {
        let path = nodeid.split("::").next().unwrap_or(nodeid);
        if nodeid.contains("::") {
            let name = nodeid.rsplit("::").next().unwrap_or(nodeid);
            crate::model::outcome::TestItem {
                nodeid: nodeid.to_string(),
                path: path.to_string(),
                name: name.to_string(),
                ..TestItem::skipped_file(path, 1)
            }
        } else {
            TestItem::skipped_file(path, 1)
        }
    }

    fn tests() -> Vec<TestItem> {
        [
            "a/test_one.py::test_a",
            "a/test_one.py::test_b",
            "b/test_two.py::test_c",
            "c/test_skipped.py",
            "d/test_four.py::test_d",
        ]
        .into_iter()
        .map(item)
        .collect()
    }

    #[test]
    fn without_shard_the_selection_runs_and_the_rest_is_deselected() {
        let selection = Selection {
            collected: vec![0, 1, 2, 3, 4],
            selected: vec![0, 2, 3],
            deselected_before: 2,
        };
        let plan = TestPlan::new(&tests(), 1, &selection, None);
        assert_eq!(
            plan,
            TestPlan {
                selected: vec![0, 2, 3],
                deselected: 4,
                counts: CollectedCounts {
                    collected: 6,
                    selected: 2,
                    errors: 1,
                    skipped_files: 1,
                },
                nothing_in_shard: false,
            }
        );
    }

    #[test]
    fn a_shard_keeps_the_tests_of_its_files_only() {
        let tests = tests();
        let all: Vec<usize> = (0..tests.len()).collect();
        let selection = Selection {
            collected: all.clone(),
            selected: all,
            deselected_before: 0,
        };
        let mut seen = Vec::new();
        for k in 1..=3 {
            let shard: Shard = format!("{k}/3").parse().unwrap();
            let plan = TestPlan::new(&tests, 0, &selection, Some(shard));
            assert_eq!(plan.deselected, tests.len() - plan.selected.len());
            // Tests of one file stay together.
            let owns_one = plan.selected.contains(&0);
            assert_eq!(owns_one, plan.selected.contains(&1));
            seen.extend(plan.selected);
        }
        seen.sort();
        assert_eq!(seen, vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn a_shard_without_any_selected_file_says_so() {
        let tests = tests();
        let selection = Selection {
            collected: vec![0, 1, 2, 3, 4],
            selected: vec![2],
            deselected_before: 0,
        };
        let owner = (1..=4)
            .map(|k| format!("{k}/4").parse::<Shard>().unwrap())
            .find(|s| s.owns(&tests[2].path))
            .unwrap();
        let other = (1..=4)
            .map(|k| format!("{k}/4").parse::<Shard>().unwrap())
            .find(|s| !s.owns(&tests[2].path))
            .unwrap();
        assert!(!TestPlan::new(&tests, 0, &selection, Some(owner)).nothing_in_shard);
        let elsewhere = TestPlan::new(&tests, 0, &selection, Some(other));
        assert!(elsewhere.nothing_in_shard);
        assert_eq!(elsewhere.selected, Vec::<usize>::new());
        assert_eq!(elsewhere.deselected, 5);
        // Nothing selected at all is not a shard's business.
        let none = Selection {
            collected: vec![0, 1, 2, 3, 4],
            selected: vec![],
            deselected_before: 0,
        };
        assert!(!TestPlan::new(&tests, 0, &none, Some(other)).nothing_in_shard);
    }
}
