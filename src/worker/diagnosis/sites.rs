//! Allocation sites: which tracemalloc tracebacks grew steadily, grouped by
//! the user's own frame. Pure Rust, so it is tested on made-up snapshots.

use std::collections::BTreeMap;

pub use crate::worker::harness::Frames;

/// One traceback, with its traced size and block count at each snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawSite {
    pub frames: Frames,
    pub sizes: Vec<i64>,
    pub counts: Vec<i64>,
}

/// A site to show: the user's frame and what grew there.
#[derive(Debug, Clone, PartialEq)]
pub struct Selected {
    pub frame: (String, u32),
    /// The user's frames that called it, innermost first (at most 2).
    pub via: Frames,
    pub bytes_per_run: f64,
    pub blocks_per_run: f64,
    pub steady: bool,
}

const MAX_SITES: usize = 5;

/// Whether `frames[at]` (innermost first) is the user's. Code run from a
/// string is the user's only when what ran it is: dataclasses make
/// `__init__` so, and pytest's `CallInfo` and `Instant` showed as
/// `<string>:3` sites, with no source, of a leak that held pytest's frames.
fn is_mine(frames: &[(String, u32)], at: usize, folded: &dyn Fn(&(String, u32)) -> bool) -> bool {
    if folded(&frames[at]) {
        return false;
    }
    if frames[at].0 != "<string>" {
        return true;
    }
    frames[at + 1..]
        .iter()
        .find(|caller| caller.0 != "<string>")
        .is_none_or(|caller| !folded(caller))
}

/// Grew between at least two snapshots and never shrank: a leak that keeps
/// going, not a cache that filled once.
pub fn is_steady(sizes: &[i64]) -> bool {
    let steps: Vec<i64> = sizes.windows(2).map(|w| w[1] - w[0]).collect();
    steps.iter().all(|&d| d >= 0) && steps.iter().filter(|&&d| d > 0).count() >= 2
}

/// The sites worth showing, biggest first: only steady ones, unless none is
/// (then every site that grew, marked unsteady); only the user's frames. `folded` says whether a
/// frame belongs to the standard library, leakhunt or site-packages.
pub fn select_sites(
    raw: &[RawSite],
    runs: usize,
    folded: &dyn Fn(&(String, u32)) -> bool,
) -> Vec<Selected> {
    let steady: Vec<&RawSite> = raw.iter().filter(|s| is_steady(&s.sizes)).collect();
    let (chosen, are_steady) = if steady.is_empty() {
        (raw.iter().collect::<Vec<_>>(), false)
    } else {
        (steady, true)
    };
    // From the snapshot after the pass's second run on, when three or more
    // follow the first (runs 2, 4, 6): what the first runs left for good or
    // the last leaves until the next is at both ends (docutils' odt
    // writer parses its stylesheet anew each run, and the last copy is
    // alive at the end: that line read +59.8 KiB a run, +767 B so).
    let from_second = runs >= 4 && raw.iter().all(|s| s.sizes.len() >= 4);
    let (skip, runs) = if from_second {
        (1, runs - 2)
    } else {
        (0, runs)
    };
    // Tracebacks that differ only in folded frames are one site to the user.
    let mut groups: BTreeMap<(String, u32), (Frames, i64, i64, i64)> = BTreeMap::new();
    for site in chosen {
        let mine: Frames = (0..site.frames.len())
            .filter(|&at| is_mine(&site.frames, at, folded))
            .map(|at| site.frames[at].clone())
            .collect();
        // A site without a single user frame is not the test's doing (pytest's
        // per-run state, the harness's bookkeeping, a stdlib cache): a report
        // never starts at a library's line.
        let Some(frame) = mine.first().cloned() else {
            continue;
        };
        let bytes = net(&site.sizes[skip..]);
        let blocks = net(&site.counts[skip..]);
        let entry = groups
            .entry(frame.clone())
            .or_insert_with(|| (Vec::new(), 0, 0, i64::MIN));
        entry.1 += bytes;
        entry.2 += blocks;
        if bytes > entry.3 {
            // A generator expression's frame is called from its own line: say it once.
            entry.0 = mine
                .iter()
                .skip(1)
                .filter(|f| **f != frame)
                .take(2)
                .cloned()
                .collect();
            entry.3 = bytes;
        }
    }
    let runs = runs.max(1) as f64;
    let mut sites: Vec<Selected> = groups
        .into_iter()
        .filter(|(_, g)| g.1 > 0)
        .map(|(frame, (via, bytes, blocks, _))| Selected {
            frame,
            via,
            bytes_per_run: bytes as f64 / runs,
            blocks_per_run: blocks as f64 / runs,
            steady: are_steady,
        })
        .collect();
    sites.sort_by(|a, b| {
        b.bytes_per_run
            .total_cmp(&a.bytes_per_run)
            .then_with(|| a.frame.cmp(&b.frame))
    });
    sites.truncate(MAX_SITES);
    sites
}

fn net(values: &[i64]) -> i64 {
    match (values.first(), values.last()) {
        (Some(first), Some(last)) => last - first,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(list: &[(&str, u32)]) -> Frames {
        list.iter().map(|(f, l)| (f.to_string(), *l)).collect()
    }

    fn library(frame: &(String, u32)) -> bool {
        frame.0.starts_with("/usr/lib/") || frame.0.starts_with("<leakhunt ")
    }

    #[test]
    fn steady_means_never_shrinking_and_growing_twice() {
        assert!(is_steady(&[0, 10, 20, 30]));
        assert!(is_steady(&[0, 0, 10, 10, 20]));
        assert!(!is_steady(&[0, 100, 100, 100]), "a one-off fill");
        assert!(!is_steady(&[0, 10, 5, 20]), "it shrank");
    }

    #[test]
    fn user_frame_first_and_tracebacks_grouped_by_it() {
        let raw = vec![
            RawSite {
                frames: frames(&[
                    ("/usr/lib/python3.11/socket.py", 232),
                    ("/r/test_x.py", 7),
                    ("/r/test_x.py", 20),
                    ("<leakhunt _leakhunt_builtin>", 300),
                ]),
                sizes: vec![0, 100, 200, 300],
                counts: vec![0, 1, 2, 3],
            },
            RawSite {
                frames: frames(&[("/r/test_x.py", 7), ("/r/test_x.py", 21)]),
                sizes: vec![0, 50, 100, 150],
                counts: vec![0, 2, 4, 6],
            },
            RawSite {
                frames: frames(&[("/r/test_x.py", 9)]),
                sizes: vec![0, 1000, 1000, 1000],
                counts: vec![0, 1, 1, 1],
            },
        ];
        let sites = select_sites(&raw, 3, &library);
        assert_eq!(
            sites,
            vec![Selected {
                frame: ("/r/test_x.py".to_string(), 7),
                via: frames(&[("/r/test_x.py", 20)]),
                bytes_per_run: 150.0,
                blocks_per_run: 3.0,
                steady: true,
            }]
        );
    }

    #[test]
    fn with_six_runs_a_site_counts_from_the_second_run_on() {
        // Snapshots at the start and after runs 2, 4 and 6: a document of
        // 1,000 bytes the last run keeps, and 16 bytes that leak a run.
        let raw = vec![RawSite {
            frames: frames(&[("/r/test_x.py", 7)]),
            sizes: vec![0, 1032, 1064, 1096],
            counts: vec![0, 11, 13, 15],
        }];
        let sites = select_sites(&raw, 6, &library);
        assert_eq!(
            (sites[0].bytes_per_run, sites[0].blocks_per_run),
            (16.0, 1.0)
        );
        // Fewer snapshots or runs: from the start, over every run.
        let sites = select_sites(&raw, 3, &library);
        assert_eq!(sites[0].bytes_per_run, 1096.0 / 3.0);
    }

    #[test]
    fn code_run_from_a_string_is_the_user_s_only_when_the_user_ran_it() {
        let site = |frames: Frames| RawSite {
            frames,
            sizes: vec![0, 10, 20],
            counts: vec![0, 1, 2],
        };
        // A library's dataclass __init__, then the user's own exec.
        let raw = vec![
            site(frames(&[
                ("<string>", 3),
                ("/usr/lib/python3.11/dataclasses.py", 9),
            ])),
            site(frames(&[
                ("<string>", 4),
                ("<string>", 1),
                ("/r/test_x.py", 12),
            ])),
        ];
        let sites = select_sites(&raw, 2, &library);
        let shown: Vec<&(String, u32)> = sites.iter().map(|s| &s.frame).collect();
        assert_eq!(shown, [&("<string>".to_string(), 4)]);
        assert_eq!(
            sites[0].via,
            frames(&[("<string>", 1), ("/r/test_x.py", 12)])
        );
    }

    #[test]
    fn a_generator_expression_is_not_its_own_caller() {
        let raw = vec![RawSite {
            frames: frames(&[
                ("/r/test_x.py", 20),
                ("/r/test_x.py", 20),
                ("/r/test_x.py", 30),
            ]),
            sizes: vec![0, 10, 20],
            counts: vec![0, 1, 2],
        }];
        let sites = select_sites(&raw, 2, &library);
        assert_eq!(sites[0].via, frames(&[("/r/test_x.py", 30)]));
    }

    #[test]
    fn unsteady_sites_only_when_nothing_else_grew() {
        let site = |file: &str| RawSite {
            frames: frames(&[(file, 1)]),
            sizes: vec![0, 0, 0, 64],
            counts: vec![0, 0, 0, 1],
        };
        let sites = select_sites(&[site("/r/test_x.py")], 3, &library);
        assert_eq!(sites.len(), 1);
        assert_eq!(sites[0].frame, ("/r/test_x.py".to_string(), 1));
        assert!(!sites[0].steady);
        let harness = select_sites(&[site("<leakhunt _leakhunt_builtin>")], 3, &library);
        assert_eq!(harness, []);
    }

    #[test]
    fn a_steady_library_site_is_never_shown() {
        // pytest's logging plugin replaces a StringIO every run.
        let pytest = RawSite {
            frames: frames(&[("/usr/lib/python3.11/site-packages/_pytest/logging.py", 410)]),
            sizes: vec![0, 10, 20, 30],
            counts: vec![0, 1, 2, 3],
        };
        assert_eq!(select_sites(&[pytest], 3, &library), []);
    }
}
