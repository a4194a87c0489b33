//! A leak's diagnosis as text lines, the same in the terminal and in JUnit.

use crate::model::diagnosis::cause::cause_of;
use crate::model::diagnosis::{native_commands, LeakedFd, LeakedThread, Location};
use crate::model::outcome::{CacheFill, TestReport};
use crate::model::signal::Signal;
use crate::report::format::amount;

/// The diagnosis of `test` among the `leaks` of a session: in full for the
/// first leak of its cause, with the other tests of that cause listed; one
/// line naming the cause and that first test for the others.
pub fn grouped_lines(test: &TestReport, leaks: &[&TestReport]) -> Vec<String> {
    let Some(cause) = test.diagnosis.as_ref().and_then(cause_of) else {
        return diagnosis_lines(test);
    };
    let same: Vec<&TestReport> = leaks
        .iter()
        .copied()
        .filter(|t| t.diagnosis.as_ref().and_then(cause_of).as_ref() == Some(&cause))
        .collect();
    // Shown in full: the first of them diagnosed in full (the others of its
    // worker got only the check that they match it).
    let full = same
        .iter()
        .find(|t| {
            t.diagnosis
                .as_ref()
                .is_some_and(|d| d.same_cause_as.is_none())
        })
        .or(same.first());
    match full {
        Some(first) if first.item.nodeid != test.item.nodeid => fill_lines(test)
            .chain([format!(
                "same cause as {} (diagnosed there): {}",
                first.item.nodeid, cause.text
            )])
            .collect(),
        _ => {
            let mut lines = diagnosis_lines(test);
            if same.len() > 1 {
                lines.push(format!(
                    "the same cause leaks in {} more tests:",
                    same.len() - 1
                ));
                lines.extend(
                    same.iter()
                        .filter(|t| t.item.nodeid != test.item.nodeid)
                        .map(|t| format!("  {}", t.item.nodeid)),
                );
            }
            lines
        }
    }
}

/// What filling the bounded caches of `test` did, if anything.
fn fill_lines(test: &TestReport) -> impl Iterator<Item = String> + '_ {
    test.filled.iter().map(CacheFill::text)
}

/// The diagnosis of `test`, after what filling its bounded caches did, if
/// anything; nothing when it has neither.
pub fn diagnosis_lines(test: &TestReport) -> Vec<String> {
    let mut lines: Vec<String> = fill_lines(test).collect();
    let Some(d) = &test.diagnosis else {
        return lines;
    };
    if let Some(note) = &d.note {
        lines.push(format!("diagnosis incomplete: {note}"));
    }
    if let Some(cause) = cause_of(d) {
        lines.push(format!("cause: {}", cause.text));
    }
    if !d.types.is_empty() {
        lines.push(format!("what grows, per run ({} diagnosis runs):", d.runs));
        for t in &d.types {
            let untracked = if t.tracked { "" } else { "  (not gc-tracked)" };
            lines.push(format!(
                "  {:>8} {:>12}  {}{untracked}",
                count(t.count_per_run),
                amount(Signal::Bytes, t.bytes_per_run),
                t.name
            ));
        }
    }
    if !d.in_place.is_empty() {
        lines.push("grown in place, per run (no new objects):".to_string());
        for g in &d.in_place {
            lines.push(format!(
                "  len {:>8} {:>12}  {}",
                count(g.items_per_run),
                amount(Signal::Bytes, g.bytes_per_run),
                g.name
            ));
        }
    }
    if !d.sites.is_empty() {
        lines.push("where it was allocated, per run:".to_string());
        for site in &d.sites {
            let steady = if site.steady { "" } else { " (not steady)" };
            if d.native {
                // Read from malloc's in-use bytes around the user's lines.
                let called = if site.c_functions.is_empty() {
                    "C code called on this line".to_string()
                } else {
                    format!(
                        "C functions called on this line: {}",
                        site.c_functions.join(", ")
                    )
                };
                lines.push(format!(
                    "  {}: {} of malloc ({called})",
                    site.location.at(),
                    amount(Signal::Bytes, site.bytes_per_run)
                ));
            } else {
                lines.push(format!(
                    "  {}: {}, {} blocks{steady}",
                    site.location.at(),
                    amount(Signal::Bytes, site.bytes_per_run),
                    count(site.blocks_per_run)
                ));
            }
            push_source(&mut lines, &site.location);
            for via in &site.via {
                lines.push(format!("    called from {}", via.at()));
            }
        }
    }
    let mut chains: Vec<(&str, &str)> = d
        .types
        .iter()
        .filter_map(|t| Some((t.name.as_str(), t.held_by.as_deref()?)))
        .chain(
            d.in_place
                .iter()
                .filter_map(|g| Some((g.name.as_str(), g.held_by.as_deref()?))),
        )
        .collect();
    // What keeps each kind of leaked descriptor's owner alive, once a kind,
    // and not again for a type that grows and has its chain already.
    for fd in &d.fds {
        if let (Some(owner), Some(chain)) = (fd.owner.as_deref(), fd.held_by.as_deref()) {
            if chains.iter().all(|(name, _)| *name != owner) {
                chains.push((owner, chain));
            }
        }
    }
    if !chains.is_empty() {
        lines.push("what keeps it alive:".to_string());
        for (name, chain) in chains {
            lines.push(format!("  {name}: {chain}"));
        }
    }
    // Descriptors or threads that leaked explain what their lines allocated
    // (urllib3's connections, each a socket its server thread keeps).
    if d.holds_nothing() && d.sites.iter().any(|s| s.steady) {
        lines.push(if d.atexit_per_run > 0.0 {
            format!(
                "no container refers to what these lines allocated, but atexit callbacks grew, \
                 {} a run: atexit keeps each callback and its arguments in C (atexit.register)",
                count(d.atexit_per_run)
            )
        } else {
            "no container refers to what these lines allocated: a reference was taken and \
             never released (C code, e.g. a missing Py_DECREF)"
                .to_string()
        });
    }
    fd_lines(&mut lines, &d.fds, d.runs);
    thread_lines(&mut lines, &d.threads, d.runs);
    if d.native {
        lines.push(
            "native: it grew outside Python's object allocator (no new objects or blocks): \
             C code allocates it, with malloc or with PyMem_Malloc for more than 512 bytes. \
             To see where:"
                .to_string(),
        );
        for command in native_commands(&test.item.nodeid) {
            lines.push(format!("  {command}"));
        }
    }
    lines
}

fn push_source(lines: &mut Vec<String>, at: &Location) {
    if !at.source.is_empty() {
        lines.push(format!("      {}", at.source));
    }
}

/// Descriptors of one kind, or opened on one line (a temporary file a run,
/// each with its own name), are one row; `others` when their targets differ.
fn fd_lines(lines: &mut Vec<String>, fds: &[LeakedFd], runs: usize) {
    let mut groups: Vec<(&LeakedFd, usize, bool)> = Vec::new();
    for fd in fds {
        let same = |g: &&mut (&LeakedFd, usize, bool)| {
            g.0.owner == fd.owner
                && g.0.created == fd.created
                && (g.0.created.is_some() || same_target(&g.0.target, &fd.target))
        };
        match groups.iter_mut().find(same) {
            Some(group) => {
                group.1 += 1;
                group.2 |= !same_target(&group.0.target, &fd.target);
            }
            None => groups.push((fd, 1, false)),
        }
    }
    if groups.is_empty() {
        return;
    }
    lines.push("leaked file descriptors, per run:".to_string());
    for (fd, n, others) in groups {
        let owner = match (&fd.owner, &fd.created) {
            (Some(owner), Some(at)) => format!("{owner} created at {}", at.at()),
            (Some(owner), None) => owner.clone(),
            (None, Some(at)) => format!("no file or socket object owns it, opened at {}", at.at()),
            (None, None) => {
                "no file or socket object owns it (os.open, os.pipe, os.dup, socket.detach or C code)".to_string()
            }
        };
        let others = if others { " and others" } else { "" };
        lines.push(format!(
            "  {:>8}  {}{others}  {owner}",
            count(n as f64 / runs.max(1) as f64),
            display_target(&fd.target)
        ));
        if let Some(at) = &fd.created {
            push_source(lines, at);
        }
    }
}

/// `socket:[123]` and `socket:[456]` are the same kind of thing.
fn same_target(a: &str, b: &str) -> bool {
    display_target(a) == display_target(b)
}

/// A socket's or a pipe's inode number says nothing; what an anonymous
/// inode is says what made it (`anon_inode:[eventfd]`: pyzmq's context
/// left by a failed constructor, which read `anon_inode:[…]`).
fn display_target(target: &str) -> String {
    match target.split_once(":[") {
        Some((kind, _)) if matches!(kind, "socket" | "pipe") => format!("{kind}:[…]"),
        _ => target.to_string(),
    }
}

fn thread_lines(lines: &mut Vec<String>, threads: &[LeakedThread], runs: usize) {
    let mut groups: Vec<(&LeakedThread, usize)> = Vec::new();
    for thread in threads {
        match groups
            .iter_mut()
            .find(|g| g.0.target == thread.target && g.0.started == thread.started)
        {
            Some(group) => {
                group.0 = thread;
                group.1 += 1;
            }
            None => groups.push((thread, 1)),
        }
    }
    if groups.is_empty() {
        return;
    }
    lines.push("leaked threads, per run:".to_string());
    for (thread, n) in groups {
        let target = if thread.target.is_empty() {
            String::new()
        } else {
            format!(" running {}", thread.target)
        };
        let started = thread
            .started
            .as_ref()
            .map_or(String::new(), |at| format!(", started at {}", at.at()));
        lines.push(format!(
            "  {:>8}  thread {:?}{target}{started}",
            count(n as f64 / runs.max(1) as f64),
            thread.name
        ));
        if let Some(at) = &thread.started {
            push_source(lines, at);
        }
    }
}

/// `+10`, `+1.67`.
fn count(value: f64) -> String {
    if (value - value.round()).abs() < 1e-9 {
        format!("{:+}", value.round() as i64)
    } else {
        format!("{value:+.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::diagnosis::{Diagnosis, LeakedFd, Location, Site, TypeGrowth};
    use crate::model::outcome::Verdict;

    fn leak(nodeid: &str, same_cause_as: Option<&str>) -> TestReport {
        let mut report = TestReport::example(nodeid, Verdict::Leaked, &[(Signal::Objects, 1.0)]);
        report.diagnosis = Some(Diagnosis {
            runs: if same_cause_as.is_some() { 2 } else { 6 },
            types: vec![TypeGrowth {
                name: "m.Item".into(),
                count_per_run: 1.0,
                bytes_per_run: 56.0,
                tracked: true,
                held_by: Some("module m -> KEPT (list) -> [3] -> m.Item".into()),
            }],
            same_cause_as: same_cause_as.map(str::to_string),
            ..Diagnosis::default()
        });
        report
    }

    #[test]
    fn a_site_that_did_not_grow_every_run_says_so() {
        let mut report = leak("t.py::test_a", None);
        let site = |line, steady| Site {
            location: Location {
                path: "t.py".into(),
                line,
                source: "BUF.extend(b'x' * 1000)".into(),
            },
            via: Vec::new(),
            bytes_per_run: 4915.2,
            blocks_per_run: 0.17,
            steady,
            c_functions: Vec::new(),
        };
        if let Some(d) = report.diagnosis.as_mut() {
            d.sites = vec![site(9, false), site(10, true)];
        }
        let lines = diagnosis_lines(&report);
        let at = |prefix: &str| lines.iter().find(|l| l.starts_with(prefix)).cloned();
        assert_eq!(
            at("  t.py:9:").as_deref(),
            Some("  t.py:9: +4.8 KiB, +0.17 blocks (not steady)")
        );
        assert_eq!(
            at("  t.py:10:").as_deref(),
            Some("  t.py:10: +4.8 KiB, +0.17 blocks")
        );
    }

    #[test]
    fn a_leaked_descriptor_explains_what_its_line_allocated() {
        // urllib3's connections: +30 B a run at `with HTTPConnectionPool(`,
        // each a socket its server's thread keeps, read "a missing Py_DECREF".
        let mut report = leak("t.py::test_a", None);
        let hint = "no container refers to what these lines allocated: a reference \
                    was taken and never released (C code, e.g. a missing Py_DECREF)";
        if let Some(d) = report.diagnosis.as_mut() {
            d.types.clear();
            d.sites = vec![Site {
                location: Location {
                    path: "t.py".into(),
                    line: 7,
                    source: "with Pool(address) as pool:".into(),
                },
                via: Vec::new(),
                bytes_per_run: 30.0,
                blocks_per_run: 0.25,
                steady: true,
                c_functions: Vec::new(),
            }];
        }
        assert!(diagnosis_lines(&report).contains(&hint.to_string()));
        if let Some(d) = report.diagnosis.as_mut() {
            d.fds.push(LeakedFd {
                fd: 12,
                target: "socket:[81235]".into(),
                owner: Some("socket.socket".into()),
                created: None,
                held_by: None,
            });
        }
        let lines = diagnosis_lines(&report);
        assert!(!lines.contains(&hint.to_string()), "{lines:?}");
        assert!(
            lines.contains(&"     +0.17  socket:[…]  socket.socket".to_string()),
            "{lines:?}"
        );
    }

    #[test]
    fn a_descriptor_s_inode_number_is_left_out_and_its_kind_kept() {
        assert_eq!(display_target("socket:[81235]"), "socket:[…]");
        assert_eq!(display_target("pipe:[4411]"), "pipe:[…]");
        assert_eq!(
            display_target("anon_inode:[eventfd]"),
            "anon_inode:[eventfd]"
        );
        assert_eq!(display_target("/tmp/x.log"), "/tmp/x.log");
        assert!(same_target("socket:[1]", "socket:[2]"));
        assert!(!same_target(
            "anon_inode:[eventfd]",
            "anon_inode:[eventpoll]"
        ));
    }

    #[test]
    fn a_cause_is_shown_in_full_at_its_full_diagnosis() {
        // Another worker's check came first in the report's order.
        let checked = leak("t.py::test_b", Some("t.py::test_c"));
        let full = leak("t.py::test_c", None);
        let leaks = [&checked, &full];
        let cause = "m.Item: module m -> KEPT (list) -> […] -> m.Item";
        assert_eq!(
            grouped_lines(&checked, &leaks),
            [format!(
                "same cause as t.py::test_c (diagnosed there): {cause}"
            )]
        );
        let lines = grouped_lines(&full, &leaks);
        assert!(lines.contains(&"what grows, per run (6 diagnosis runs):".to_string()));
        assert_eq!(
            lines[lines.len() - 2..],
            [
                "the same cause leaks in 1 more tests:".to_string(),
                "  t.py::test_b".to_string()
            ]
        );
    }
}
