//! Which tests a worker takes together, and in what order (planning only: no
//! processes here).
//!
//! A worker takes a file at a time, in collection order, so that each
//! worker runs its tests in the order pytest would: suites depend on it
//! (pyrsistent's `vector_test.py` reloads `pyrsistent._pvector`, after which
//! 22 tests of files collected before it recurse for ever; started first as
//! its largest file, it made them fail). Once no file is left, an idle worker
//! takes about half of what a busy worker still has to do in its file (by
//! the durations remembered from the last session, else one unit a test), so
//! that a long file that starts last does not run alone. Tests that share a module- or class-scoped fixture (pytest
//! engine) are pinned together: a file whose tests use a module-scoped one is
//! never split, a class whose tests use a class-scoped one is split from the
//! rest of its file only as a whole. The built-in engine pins nothing.
//!
//! One test that takes longer than the others share (yarl's
//! `test_default_ignorable_covers_idna_stripped`: 10.6 s of a 19.7 s
//! suite, 80 % of the way through it) would start only once the workers
//! reached it together and then run alone: with what it took last time
//! remembered, a second worker starts at it instead and goes on forward from
//! there, while the first takes the files before it. Both still run their
//! tests in collection order.

use std::collections::VecDeque;

use crate::model::outcome::TestItem;

/// Seconds a head start must save, by the remembered durations, before a
/// worker starts away from the front.
const HEAD_START_GAIN: f64 = 1.0;

/// Consecutive tests of one file, in collection order.
pub type Unit = Vec<usize>;

/// What the scheduler knows about the collected tests, by collection index.
#[derive(Debug, Clone, Default)]
pub struct Schedule {
    /// Expected seconds of each test.
    costs: Vec<f64>,
    /// Tests with the same pin run in the same worker, one after the other.
    pins: Vec<Option<String>>,
}

impl Schedule {
    /// `pins` are what the engine reported: for each test, the node id of the
    /// module (no `::`) or class whose scoped fixtures it uses, if any (empty
    /// when the engine pins nothing).
    pub fn new(tests: &[TestItem], costs: Vec<f64>, pins: &[Option<String>]) -> Schedule {
        let pinned_files: Vec<&str> = tests
            .iter()
            .zip(pins)
            .filter(|(_, pin)| pin.as_deref().is_some_and(|p| !p.contains("::")))
            .map(|(test, _)| test.path.as_str())
            .collect();
        let pins = tests
            .iter()
            .enumerate()
            .map(|(index, test)| {
                if pinned_files.contains(&test.path.as_str()) {
                    Some(format!("file {}", test.path))
                } else {
                    pins.get(index).cloned().flatten()
                }
            })
            .collect();
        Schedule { costs, pins }
    }

    fn cost(&self, tests: &[usize]) -> f64 {
        tests
            .iter()
            .map(|&t| self.costs.get(t).copied().unwrap_or(1.0))
            .sum()
    }

    /// The selected tests by file, in collection order.
    pub fn units(tests: &[TestItem], selected: &[usize]) -> Vec<Unit> {
        let mut files: Vec<Unit> = Vec::new();
        for &index in selected {
            match files.last_mut() {
                Some(file) if tests[file[0]].path == tests[index].path => file.push(index),
                _ => files.push(vec![index]),
            }
        }
        files
    }

    /// Whether the test after `before` may run in another worker.
    fn may_split(&self, before: usize, after: usize) -> bool {
        match (self.pins.get(before), self.pins.get(after)) {
            (Some(Some(a)), Some(Some(b))) => a != b,
            _ => true,
        }
    }

    /// The plan for `workers`: the units to take from the front, and, when
    /// one test (with what is pinned before it) would end the session alone
    /// while the workers shared what comes before it, a head start for a
    /// second worker: everything from there on, in collection order. The
    /// units then stop where the head start begins. Only a clear gain by the
    /// remembered durations counts: they are estimates, and without them
    /// every test costs the same and no test stands out.
    pub fn head_start(&self, units: Vec<Unit>, workers: usize) -> (Vec<Unit>, Option<Unit>) {
        if workers < 2 {
            return (units, None);
        }
        let order: Vec<usize> = units.iter().flatten().copied().collect();
        let shares = workers as f64;
        let each = self.cost(&order) / shares;
        let least = HEAD_START_GAIN.max(each / 10.0);
        let mut before = 0.0;
        let (mut group, mut before_group) = (0, 0.0);
        let mut best: Option<(usize, f64)> = None;
        for (at, &test) in order.iter().enumerate() {
            if at > 0 && self.may_split(order[at - 1], test) {
                (group, before_group) = (at, before);
            }
            before += self.cost(&[test]);
            if group == 0 {
                continue;
            }
            // Shared until the group starts, then on one worker to its end.
            let shared = before_group / shares;
            let gain = shared.min(shared + (before - before_group) - each);
            if gain >= least && best.is_none_or(|(_, g)| gain > g) {
                best = Some((group, gain));
            }
        }
        let Some((cut, _)) = best else {
            return (units, None);
        };
        let mut front = Vec::new();
        let mut seen = 0;
        for unit in units {
            if seen < cut {
                let kept = (cut - seen).min(unit.len());
                front.push(unit[..kept].to_vec());
            }
            seen += unit.len();
        }
        (front, Some(order[cut..].to_vec()))
    }

    /// For an idle worker: the back of `queue`, the tests a busy worker has
    /// not started yet (after `current`, the one it runs), about half of the
    /// work it has left, cut where the pins allow. None when nothing can be
    /// taken.
    pub fn split(&self, current: Option<usize>, queue: &mut VecDeque<usize>) -> Option<Unit> {
        let tests: Vec<usize> = queue.iter().copied().collect();
        let left = self.cost(&tests) + current.map_or(0.0, |c| self.cost(&[c]));
        let target = left / 2.0;
        let mut best: Option<(usize, f64)> = None;
        let mut taken = 0.0;
        for at in (0..tests.len()).rev() {
            taken += self.cost(&tests[at..=at]);
            let before = if at == 0 {
                current
            } else {
                Some(tests[at - 1])
            };
            if before.is_some_and(|b| !self.may_split(b, tests[at])) {
                continue;
            }
            let miss = (taken - target).abs();
            if best.is_none_or(|(_, m)| miss < m) {
                best = Some((at, miss));
            }
        }
        let (at, _) = best?;
        Some(queue.split_off(at).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(path: &str, name: &str) -> TestItem {
        TestItem::example(path, name)
    }

    fn suite() -> Vec<TestItem> {
        vec![
            item("a.py", "t0"),
            item("a.py", "t1"),
            item("b.py", "t2"),
            item("b.py", "t3"),
            item("b.py", "t4"),
            item("c.py", "t5"),
        ]
    }

    #[test]
    fn files_go_in_collection_order_whatever_they_cost() {
        let tests = suite();
        let all: Vec<usize> = (0..tests.len()).collect();
        assert_eq!(
            Schedule::units(&tests, &all),
            [vec![0, 1], vec![2, 3, 4], vec![5]]
        );
        assert_eq!(Schedule::units(&tests, &[1, 5]), [vec![1], vec![5]]);
    }

    #[test]
    fn an_idle_worker_takes_half_of_what_is_left() {
        let tests: Vec<TestItem> = (0..10).map(|i| item("p.py", &format!("t{i}"))).collect();
        let schedule = Schedule::new(&tests, vec![1.0; 10], &[]);
        // Running t0, with t1..t9 to go: 10 tests' work, 5 for each.
        let mut queue: VecDeque<usize> = (1..10).collect();
        assert_eq!(
            schedule.split(Some(0), &mut queue),
            Some(vec![5, 6, 7, 8, 9])
        );
        assert_eq!(queue, [1, 2, 3, 4]);
        let mut last: VecDeque<usize> = [9].into();
        assert_eq!(schedule.split(Some(8), &mut last), Some(vec![9]));
        assert!(last.is_empty());
        assert_eq!(schedule.split(Some(9), &mut last), None);
    }

    #[test]
    fn a_long_test_late_in_the_order_starts_a_second_worker() {
        // a.py: t0 t1; b.py: t2 .. t7, t6 taking 10 s where the others take 1.
        let mut tests = vec![item("a.py", "t0"), item("a.py", "t1")];
        tests.extend((2..8).map(|i| item("b.py", &format!("t{i}"))));
        let mut costs = vec![1.0; 8];
        costs[6] = 10.0;
        let schedule = Schedule::new(&tests, costs, &[]);
        let all: Vec<usize> = (0..8).collect();
        let units = Schedule::units(&tests, &all);
        // Shared, t6 would start at 3 s and end at 13 s; alone, at 10 s.
        assert_eq!(
            schedule.head_start(units.clone(), 2),
            (vec![vec![0, 1], vec![2, 3, 4, 5]], Some(vec![6, 7]))
        );
        assert_eq!(schedule.head_start(units.clone(), 1), (units.clone(), None));
        // Pinned to t5 by a class-scoped fixture: the head start begins at t5.
        let class = Some("b.py::C".to_string());
        let mut pins = vec![None; 8];
        pins[5] = class.clone();
        pins[6] = class;
        let mut costs = vec![1.0; 8];
        costs[6] = 10.0;
        let pinned = Schedule::new(&tests, costs, &pins);
        assert_eq!(
            pinned.head_start(units, 2),
            (vec![vec![0, 1], vec![2, 3, 4]], Some(vec![5, 6, 7]))
        );
    }

    #[test]
    fn no_head_start_without_a_clear_gain() {
        let tests: Vec<TestItem> = (0..400).map(|i| item("p.py", &format!("t{i}"))).collect();
        let all: Vec<usize> = (0..400).collect();
        let units = Schedule::units(&tests, &all);
        // Nothing remembered: every test counts as one.
        let uniform = Schedule::new(&tests, vec![1.0; 400], &[]);
        assert_eq!(uniform.head_start(units.clone(), 2), (units.clone(), None));
        // Long, but early enough that the workers reach it soon.
        let mut costs = vec![0.01; 400];
        costs[50] = 3.0;
        let early = Schedule::new(&tests, costs, &[]);
        assert_eq!(early.head_start(units.clone(), 2), (units.clone(), None));
        // Long and last, but it would save under a tenth of each worker's share.
        let mut costs = vec![0.1; 400];
        costs[399] = 3.0;
        let last = Schedule::new(&tests, costs, &[]);
        assert_eq!(last.head_start(units.clone(), 2), (units, None));
    }

    #[test]
    fn pinned_tests_stay_together() {
        let tests = vec![
            item("m.py", "free"),
            item("m.py", "C::a"),
            item("m.py", "C::b"),
            item("m.py", "C::c"),
            item("n.py", "x"),
            item("n.py", "y"),
            item("n.py", "z"),
        ];
        let class = Some("m.py::C".to_string());
        let pins = vec![
            None,
            class.clone(),
            class.clone(),
            class,
            None,
            Some("n.py".to_string()),
            None,
        ];
        let schedule = Schedule::new(&tests, vec![1.0; 7], &pins);
        // The class goes whole, or not at all.
        let mut queue: VecDeque<usize> = [1, 2, 3].into();
        assert_eq!(schedule.split(Some(0), &mut queue), Some(vec![1, 2, 3]));
        let mut queue: VecDeque<usize> = [2, 3].into();
        assert_eq!(schedule.split(Some(1), &mut queue), None);
        // A module-scoped fixture in one test pins its whole file.
        let mut queue: VecDeque<usize> = [5, 6].into();
        assert_eq!(schedule.split(Some(4), &mut queue), None);
    }
}
