//! The diagnosis of a leak: what grows, where it was allocated, what keeps it
//! alive, and which descriptors and threads were left behind.
//!
//! Only tests already judged leaking get it: a second, deeper pass that runs
//! the test a few more times under tracemalloc with deep tracebacks. The
//! in-interpreter half (`python/diagnosis.py`) gathers; this file decides what
//! of it to show.

pub mod sites;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyModule;

use crate::model::diagnosis::cause::{KnownCauses, Root, Untracked};
use crate::model::diagnosis::{Diagnosis, InPlace, LeakedFd, LeakedThread, Site, TypeGrowth};
use crate::model::outcome::Growth;
use crate::model::signal::Signal;
use crate::worker::harness::{self, Chain, Gathered, GrownContainer, Hop, TracedSite};
use crate::worker::interpreter::Interrupted;
use crate::worker::locations::{relative, Folder};
use crate::worker::test_run::TestRun;

use self::sites::{select_sites, RawSite};

const DIAGNOSIS: &str = include_str!("python/diagnosis.py");

/// Runs of the diagnosis pass: 7 snapshots, enough to tell growth every run
/// (or every second or third run) from a one-off fill.
pub const RUNS: usize = 6;
/// Runs after which a check looks whether a leak has a cause already
/// diagnosed: two runs show which types grow (two objects or more).
pub const CHECK_RUNS: usize = 2;
/// tracemalloc frames kept per allocation during the pass: deep enough to get
/// from a C library call back to the user's own line.
const FRAMES: usize = 25;
/// What tracing costs a run for each frame it keeps, in untraced runs, at
/// worst: pyparsing's examples take 0.53 s of CPU a run untraced, and 2.5,
/// 6.5, 13.7 and 28.8 s traced 1, 5, 10 and 25 frames deep.
const RUNS_PER_TRACED_FRAME: f64 = 2.2;
const MAX_TYPES: usize = 8;
const MAX_CHAINS: usize = 3;
/// Seconds a diagnosis may take, runs included. It stops there, keeps what it
/// has and says so: the verdict is already made and stays.
pub const BUDGET_SECONDS: f64 = 20.0;

static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// Loaded on the first leak, so a clean session never even parses it.
fn module(py: Python<'_>) -> Result<&Bound<'_, PyModule>> {
    let module = MODULE.get_or_try_init(py, || {
        harness::load(py, DIAGNOSIS, "_leakhunt_diagnosis").map(Bound::unbind)
    })?;
    Ok(module.bind(py))
}

fn call<'py>(
    py: Python<'py>,
    function: &str,
    args: impl IntoPyObject<'py, Target = pyo3::types::PyTuple, Error: Into<PyErr>>,
) -> Result<Bound<'py, PyAny>> {
    harness::call(module(py)?, "diagnosis", function, args)
}

/// Runs the test RUNS more times and says what its leak (`growth`) is made
/// of. A failure of the pass itself is a note on the diagnosis, not the end
/// of the session: the verdict stands without it. Ctrl-C still stops.
///
/// `known`: the causes this worker diagnosed in full. When the judged growth
/// may have one of them, the pass checks after its first CHECK_RUNS runs
/// which types grew and whether the known causes' globals reach them; only
/// when a known cause may be theirs does it finish there (census, referrer
/// chains) as a check. A check that shows a known cause is the diagnosis
/// (`same_cause_as`); one that does not is followed by a full pass.
/// Otherwise the pass simply goes on: its first runs are the check's.
pub fn diagnose(
    run: &mut TestRun<'_, '_>,
    growth: &[Growth],
    known: &mut KnownCauses,
    nodeid: &str,
    run_cpu: Duration,
) -> Result<Diagnosis> {
    let started = Instant::now();
    let frames = frames_for(run_cpu);
    let grew: Vec<Signal> = growth.iter().map(|g| g.signal).collect();
    let check = known.plausible(&grew).map(|(untracked, roots)| Check {
        known,
        grew: &grew,
        untracked,
        roots,
    });
    let starts = known.starts();
    let mut diagnosis = match noted(try_diagnose(run, growth, check.as_ref(), frames, starts))? {
        Passed::Checked(mut checked) => {
            if let Some(first) = known.matching(&checked) {
                checked.same_cause_as = Some(first.to_string());
                checked.seconds = started.elapsed().as_secs_f64();
                return Ok(checked);
            }
            match noted(try_diagnose(run, growth, None, frames, starts))? {
                Passed::Full(d) | Passed::Checked(d) => d,
            }
        }
        Passed::Full(d) => d,
    };
    // A check that matched nothing is part of what this diagnosis cost.
    diagnosis.seconds = started.elapsed().as_secs_f64();
    if frames < FRAMES && diagnosis.note.is_none() {
        // Only what the test's own lines made is shown: with nothing at all,
        // say that this is what the shallow traces cost (bidict's
        // microbenchmarks: their statistics, made by the plugin, were all).
        let found = !(diagnosis.types.is_empty()
            && diagnosis.sites.is_empty()
            && diagnosis.in_place.is_empty());
        let consequence = if found {
            "where it was allocated may stop short of the test's own line"
        } else {
            "nothing that grew was traced back to the test's own lines, so no type, \
             line or holder is shown"
        };
        diagnosis.note = Some(format!(
            "traced {frames} frames deep, not {FRAMES}, for a run takes {:.2} s of CPU \
             untraced: {consequence}",
            run_cpu.as_secs_f64()
        ));
    }
    if diagnosis.note.is_none() && diagnosis.shows_nothing() {
        // urllib3's tests grew trio's timer heap, in the server's thread:
        // a LEAKED section with series and no word of why nothing follows.
        diagnosis.note = Some(format!(
            "nothing the test's own lines made grew in the diagnosis's {} runs: a \
             library or a thread it runs made what grows, or it did not grow again \
             there; no type, line or holder is shown",
            diagnosis.runs
        ));
    }
    known.remember(&diagnosis, nodeid);
    Ok(diagnosis)
}

/// The bounded caches the last pass's chains go through, as (name, maxsize,
/// misses so far), when every chain goes through one; else none.
pub fn filling_caches(py: Python<'_>) -> Result<Vec<(String, usize, usize)>> {
    Ok(call(py, "filling", ())?.extract()?)
}

/// Lets go of the caches the last pass found.
pub fn forget_caches(py: Python<'_>) -> Result<()> {
    call(py, "forget_caches", ()).map(drop)
}

/// A failed pass is a note on an empty diagnosis; Ctrl-C stays an error.
fn noted(result: Result<Passed>) -> Result<Passed> {
    match result {
        Err(error) if !error.is::<Interrupted>() => Ok(Passed::Full(Diagnosis {
            note: Some(format!("leakhunt could not diagnose this leak: {error:#}")),
            ..Diagnosis::default()
        })),
        result => result,
    }
}

/// What a pass ended with.
enum Passed {
    /// All its runs (or as many as it could do).
    Full(Diagnosis),
    /// The check after CHECK_RUNS runs, finished because a known cause may
    /// match it.
    Checked(Diagnosis),
}

/// The known causes a pass checks against, and what it asks of the check.
struct Check<'k> {
    known: &'k KnownCauses,
    grew: &'k [Signal],
    untracked: Untracked,
    /// Where the plausible causes' objects are held, to look from.
    roots: Vec<Root>,
}

/// The pass under way.
struct Pass {
    started: Instant,
    /// The descriptors open before it.
    fds_before: BTreeSet<i64>,
    folder: Folder,
}

/// How deep to trace a test whose untraced run takes `run_cpu`: so that
/// RUNS traced runs fit the budget (a slow test is traced less deep, and
/// its pass gets the runs that find the cause).
fn frames_for(run_cpu: Duration) -> usize {
    let per_frame = RUNS_PER_TRACED_FRAME * run_cpu.as_secs_f64();
    if per_frame <= 0.0 {
        return FRAMES;
    }
    let affordable = BUDGET_SECONDS / RUNS as f64 / per_frame;
    (affordable as usize).clamp(1, FRAMES)
}

fn try_diagnose(
    run: &mut TestRun<'_, '_>,
    growth: &[Growth],
    check: Option<&Check<'_>>,
    frames: usize,
    starts: &[Root],
) -> Result<Passed> {
    let started = Instant::now();
    let py = run.py;
    let grew = |signal| growth.iter().any(|g| g.signal == signal);
    // Memory that grew without new objects is inside containers that already
    // exist: compare their sizes too (a heap walk, so only then).
    let in_place = !grew(Signal::Objects) && (grew(Signal::Blocks) || grew(Signal::Bytes));
    // Heap bytes count malloc too, so a native leak grows them as well as RSS.
    let native = (grew(Signal::Rss) || grew(Signal::Bytes))
        && !grew(Signal::Objects)
        && !grew(Signal::Blocks);
    let fds_before = open_fds();
    let folder = Folder::new(py, &run.config.diagnosis.rootdir)?
        .with_test_files(&run.config.diagnosis.test_files);
    call(
        py,
        "begin",
        (
            frames,
            in_place,
            native,
            folder.library.clone(),
            folder.test_files.clone(),
            BUDGET_SECONDS,
        ),
    )?;
    let pass = Pass {
        started,
        fds_before,
        folder,
    };
    let gathered = gather(run, &pass, check, starts);
    // Whatever happened, tracing goes back to what the sampler expects.
    let ended = call(py, "end", ());
    let mut passed = gathered?;
    ended?;
    let (Passed::Full(diagnosis) | Passed::Checked(diagnosis)) = &mut passed;
    diagnosis.native = native && found_no_python_growth(diagnosis);
    diagnosis.seconds = started.elapsed().as_secs_f64();
    Ok(passed)
}

/// No new objects or blocks were judged, yet bytes (which count malloc) or
/// RSS grew: the memory is native, unless the pass found objects that grow
/// or a container grown in place. SQLAlchemy's objects dropped once as
/// sqlite3 pruned its cursors' weak references, and were not judged to
/// grow: "native … (no new objects or blocks)" stood beside "+13
/// weakref.ReferenceType" a run.
fn found_no_python_growth(diagnosis: &Diagnosis) -> bool {
    diagnosis.types.is_empty() && diagnosis.in_place.is_empty()
}

fn gather(
    run: &mut TestRun<'_, '_>,
    pass: &Pass,
    check: Option<&Check<'_>>,
    starts: &[Root],
) -> Result<Passed> {
    let (py, sampler) = (run.py, run.sampler);
    let started = pass.started;
    let mut diagnosis = Diagnosis::default();
    let mut previous = sampler.sample(py, None)?;
    let mut longest_run = 0.0_f64;
    for number in 1..=RUNS {
        // Two runs tell growth from a one-off; past the budget, no more. Nor
        // a run that would end past it: traced deep, a run may take 50 times
        // as long (pyparsing's examples: 0.5 s a run, 30-43 s traced), and
        // a second one outlasted the supervisor's limit, which stopped the
        // worker.
        let spent = started.elapsed().as_secs_f64();
        let done = number - 1;
        let runs = if done == 1 { "run" } else { "runs" };
        if number > 2 && spent > BUDGET_SECONDS / 2.0 {
            diagnosis.note = Some(format!(
                "the diagnosis stopped after {done} {runs}: they took {spent:.1} s, past half \
                 its {BUDGET_SECONDS} s budget (a traced run is slow); the leak stands on its \
                 judged runs"
            ));
            break;
        }
        if number > 1 && spent + longest_run > BUDGET_SECONDS {
            diagnosis.note = Some(format!(
                "the diagnosis stopped after {done} {runs} ({spent:.1} s, the longest \
                 {longest_run:.1} s, traced): one more would end past its {BUDGET_SECONDS} s budget; \
                 the leak stands on its judged runs"
            ));
            break;
        }
        let run_started = Instant::now();
        if let Some(problem) = run.run_once()? {
            diagnosis.note = Some(format!(
                "the test stopped passing on diagnosis run {number}: {} {}",
                problem.kind, problem.message
            ));
            return Ok(Passed::Full(diagnosis));
        }
        longest_run = longest_run.max(run_started.elapsed().as_secs_f64());
        previous = sampler.sample(py, Some(&previous))?;
        call(py, "point", (number % 2 == 0,))?;
        diagnosis.runs = number;
        if number == CHECK_RUNS {
            if let Some(check) = check {
                let probes: Vec<(&str, &str, usize, &str)> = check
                    .roots
                    .iter()
                    .map(|r| (&*r.module, &*r.global, r.depth, &*r.type_name))
                    .collect();
                let (mut seen, reached): (Vec<(String, u64, u64)>, Vec<bool>) =
                    call(py, "peek", (check.untracked.0, probes))?.extract()?;
                let unreached: Vec<Root> = check
                    .roots
                    .iter()
                    .zip(reached)
                    .filter(|(_, reached)| !reached)
                    .map(|(root, _)| root.clone())
                    .collect();
                // In the order of the census, whose first types get chains.
                seen.sort_by(|a, b| b.2.cmp(&a.2).then(b.1.cmp(&a.1)).then(a.0.cmp(&b.0)));
                let top: Vec<String> = seen.into_iter().take(MAX_CHAINS).map(|r| r.0).collect();
                if check.known.may_match(check.grew, &top, &unreached) {
                    return conclude(run, pass, diagnosis, starts).map(Passed::Checked);
                }
            }
        }
    }
    conclude(run, pass, diagnosis, starts).map(Passed::Full)
}

/// What the runs of the pass left: sites, census, referrer chains,
/// descriptors and threads. `starts`: the globals where the causes this
/// worker diagnosed before hold their largest type.
fn conclude(
    run: &mut TestRun<'_, '_>,
    pass: &Pass,
    mut diagnosis: Diagnosis,
    starts: &[Root],
) -> Result<Diagnosis> {
    let py = run.py;
    let Pass {
        started,
        fds_before,
        folder,
    } = pass;
    let started = *started;
    let runs_done = diagnosis.runs;
    let new_fds: Vec<i64> = open_fds().difference(fds_before).copied().collect();
    let gathered: Gathered = call(py, "finish", (new_fds.clone(),))?
        .extract()
        .map_err(|e| anyhow::anyhow!("unexpected result from diagnosis.finish: {e}"))?;
    let runs = runs_done.max(1) as f64;
    diagnosis.atexit_per_run = gathered.atexit_added as f64 / runs;
    if gathered.tracing_lost && diagnosis.note.is_none() {
        diagnosis.note = Some(
            "the test stops or restarts tracemalloc itself, which ends the diagnosis's \
             tracing: where its memory was allocated cannot be told"
                .to_string(),
        );
    }

    let raw_sites: Vec<RawSite> = gathered
        .sites
        .into_iter()
        .map(
            |TracedSite {
                 frames,
                 sizes,
                 counts,
             }| RawSite {
                frames,
                sizes,
                counts,
            },
        )
        .collect();
    diagnosis.sites = select_sites(&raw_sites, runs_done, &|f| folder.folded(f))
        .into_iter()
        .map(|s| Site {
            location: folder.location(&s.frame),
            via: s.via.iter().map(|f| folder.location(f)).collect(),
            bytes_per_run: s.bytes_per_run,
            blocks_per_run: s.blocks_per_run,
            steady: s.steady,
            c_functions: Vec::new(),
        })
        .collect();

    // A native leak: the user's lines after which malloc's in-use bytes grew.
    // Only unsteady Python sites: noise beside it, when malloc names a line.
    if diagnosis.sites.iter().all(|s| !s.steady) {
        let native: Vec<Site> = gathered
            .malloc
            .into_iter()
            .filter_map(|line| {
                Some(Site {
                    location: folder.user_frame(&line.frames)?,
                    via: Vec::new(),
                    bytes_per_run: line.bytes as f64 / runs,
                    blocks_per_run: 0.0,
                    steady: true,
                    c_functions: line.c_functions,
                })
            })
            // Less than a page a run is the allocator's noise, not the leak.
            .filter(|site| site.bytes_per_run >= 4096.0)
            .take(1)
            .collect();
        if !native.is_empty() {
            diagnosis.sites = native;
        }
    }

    let census_runs = gathered.census_runs.max(1) as f64;
    let mut census = gathered.census;
    // One survivor is the last value of something replaced each run, not a leak.
    census.retain(|row| row.count >= 2);
    census.sort_by(|a, b| {
        b.bytes
            .cmp(&a.bytes)
            .then(b.count.cmp(&a.count))
            .then(a.type_name.cmp(&b.type_name))
    });
    census.truncate(MAX_TYPES);
    let mut grown: Vec<GrownContainer> = gathered.grown;
    // One item more in six runs is some cache of the interpreter's, not the leak.
    grown.retain(|g| g.len_grown() >= 2 || g.bytes_grown() > 0);
    grown.sort_by(|a, b| {
        (b.bytes_grown(), b.len_grown())
            .cmp(&(a.bytes_grown(), a.len_grown()))
            .then(a.type_name.cmp(&b.type_name))
    });
    // Growth in place only explains a leak that made no new objects.
    grown.truncate(if census.is_empty() { MAX_CHAINS } else { 0 });

    let mut handles: Vec<usize> = census.iter().take(MAX_CHAINS).map(|r| r.sample).collect();
    let typed = handles.len();
    handles.extend(grown.iter().map(|g| g.sample));
    // One owner of each kind of leaked descriptor: what keeps it open.
    let mut owned: Vec<(&str, usize)> = Vec::new();
    for fd in &new_fds {
        let Some(found) = gathered.fds.get(fd) else {
            continue;
        };
        if let (Some(owner), Some(sample)) = (found.owner.as_deref(), found.sample) {
            if owned.len() < MAX_CHAINS && owned.iter().all(|(seen, _)| *seen != owner) {
                owned.push((owner, sample));
            }
        }
    }
    handles.extend(owned.iter().map(|(_, sample)| *sample));
    // A cause met before whose largest type is the largest here: its global
    // is looked down from first, which spares walks of the whole heap.
    let largest = census.first().map(|row| row.type_name.as_str());
    let starts: Vec<(&str, &str, usize)> = starts
        .iter()
        .filter(|root| Some(root.type_name.as_str()) == largest)
        .map(|root| (&*root.module, &*root.global, root.depth))
        .collect();
    let chains: Vec<Option<Chain>> = call(py, "chains", (handles, starts))?.extract()?;
    if chains.iter().flatten().any(|c| c.timed_out) && diagnosis.note.is_none() {
        diagnosis.note = Some(out_of_time(started, "while searching what keeps it alive"));
    } else if typed > 0 && chains[..typed].iter().all(Option::is_none) && diagnosis.note.is_none() {
        // The search stops at a depth: say why "what keeps it alive" is
        // missing. Not for grown containers: one nobody holds is dropped.
        diagnosis.note = Some(
            "no module, class or thread was found holding what grows within the \
             references searched up from it; the leak stands on its judged runs"
                .to_string(),
        );
    }
    let mut chains: Vec<Option<String>> = chains.into_iter().map(chain_text).collect();
    let owner_chains: Vec<(String, Option<String>)> = owned
        .iter()
        .map(|(owner, _)| owner.to_string())
        .zip(chains.split_off(typed + grown.len()))
        .collect();
    let mut chains = chains.into_iter();
    diagnosis.types = census
        .iter()
        .enumerate()
        .map(|(i, row)| TypeGrowth {
            name: row.type_name.clone(),
            count_per_run: row.count as f64 / census_runs,
            bytes_per_run: row.bytes as f64 / census_runs,
            tracked: row.tracked,
            held_by: if i < MAX_CHAINS {
                chains.next().flatten()
            } else {
                None
            },
        })
        .collect();
    diagnosis.in_place = grown
        .iter()
        .map(|g| InPlace {
            name: g.type_name.clone(),
            bytes_per_run: g.bytes_grown() as f64 / runs,
            items_per_run: g.len_grown() as f64 / runs,
            held_by: chains.next().flatten(),
        })
        // A container nobody holds cannot be what keeps growing.
        .filter(|g| {
            g.held_by
                .as_deref()
                .is_some_and(|c| c.starts_with("module "))
        })
        .collect();

    let owners = gathered.fds;
    diagnosis.fds = new_fds
        .iter()
        .map(|&fd| {
            let owner = owners.get(&fd);
            LeakedFd {
                fd,
                target: fd_target(fd, &folder.rootdir),
                // None for a descriptor no object owns, seen opened by the audit hook.
                owner: owner.and_then(|o| o.owner.clone()),
                created: owner.and_then(|o| folder.user_frame(&o.frames)),
                held_by: owner
                    .and_then(|o| o.owner.as_deref())
                    .and_then(|o| owner_chains.iter().find(|(name, _)| name == o))
                    .and_then(|(_, chain)| chain.clone()),
            }
        })
        .collect();
    diagnosis.threads = gathered
        .threads
        .into_iter()
        .map(|thread| LeakedThread {
            name: thread.name,
            target: thread.target,
            started: folder.user_frame(&thread.frames),
        })
        .collect();
    Ok(diagnosis)
}

/// `module test_orders -> Order.registry (list) -> [17] -> TrackedOrder`.
fn chain_text(chain: Option<Chain>) -> Option<String> {
    let Chain {
        root,
        hops,
        reached,
        timed_out,
        island,
    } = chain?;
    if timed_out {
        return None;
    }
    if !reached {
        let held = match island {
            0 => "nothing refers to it".to_string(),
            1 => "only 1 object refers to it, and nothing the gc sees refers to that".to_string(),
            n => format!("only {n} objects refer to it, and nothing the gc sees refers to them"),
        };
        return Some(format!(
            "{held}: a reference was taken and never released (C code, e.g. a missing Py_DECREF)"
        ));
    }
    let mut text = root;
    let last = hops.len().saturating_sub(1);
    let mut repeats = 1;
    for (i, hop) in hops.iter().enumerate() {
        let Hop { label, type_name } = hop;
        // A linked list or a traceback's entries: one hop, and how many.
        if i + 1 < last && hops[i + 1] == *hop {
            repeats += 1;
            continue;
        }
        match (label.is_empty(), i < last) {
            (false, true) => text.push_str(&format!(" -> {label} ({type_name})")),
            (true, true) => text.push_str(&format!(" -> ({type_name})")),
            (false, false) => text.push_str(&format!(" -> {label} -> {type_name}")),
            (true, false) => text.push_str(&format!(" -> {type_name}")),
        }
        if repeats > 1 {
            text.push_str(&format!(" x{repeats}"));
            repeats = 1;
        }
    }
    Some(text)
}

fn out_of_time(started: Instant, when: &str) -> String {
    format!(
        "the diagnosis ran out of time ({:.1} s of {BUDGET_SECONDS} s) {when}; \
         the leak stands on its judged runs",
        started.elapsed().as_secs_f64()
    )
}

/// Open descriptors, without the one this listing itself holds.
fn open_fds() -> BTreeSet<i64> {
    let listing = format!("/proc/{}/fd", std::process::id());
    std::fs::read_dir("/proc/self/fd")
        .map(|dir| {
            dir.filter_map(|e| {
                let entry = e.ok()?;
                let target = std::fs::read_link(entry.path()).ok()?;
                if target.to_string_lossy() == listing {
                    return None;
                }
                entry.file_name().to_str()?.parse().ok()
            })
            .collect()
        })
        .unwrap_or_default()
}

fn fd_target(fd: i64, rootdir: &Path) -> String {
    match std::fs::read_link(format!("/proc/self/fd/{fd}")) {
        Ok(target) => relative(rootdir, &target.to_string_lossy()),
        Err(_) => "(closed since)".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pyo3::types::PyDict;

    fn chain(root: &str, hops: &[(&str, &str)]) -> Option<Chain> {
        Some(Chain {
            root: root.to_string(),
            hops: hops
                .iter()
                .map(|(label, type_name)| Hop {
                    label: label.to_string(),
                    type_name: type_name.to_string(),
                })
                .collect(),
            reached: true,
            timed_out: false,
            island: 0,
        })
    }

    #[test]
    fn objects_the_pass_found_growing_are_not_native_memory() {
        let mut diagnosis = Diagnosis::default();
        assert!(found_no_python_growth(&diagnosis));
        diagnosis.types.push(TypeGrowth {
            name: "weakref.ReferenceType".into(),
            count_per_run: 13.0,
            bytes_per_run: 1040.0,
            tracked: true,
            held_by: None,
        });
        assert!(!found_no_python_growth(&diagnosis));
    }

    #[test]
    fn chains_read_from_the_root_down() {
        let hops = [
            ("Order.registry", "list"),
            ("[17]", "test_orders.TrackedOrder"),
        ];
        assert_eq!(
            chain_text(chain("module test_orders", &hops)).as_deref(),
            Some("module test_orders -> Order.registry (list) -> [17] -> test_orders.TrackedOrder")
        );
        let hops = [("STRINGS", "set"), ("", "str")];
        assert_eq!(
            chain_text(chain("module m", &hops)).as_deref(),
            Some("module m -> STRINGS (set) -> str")
        );
        // A traceback kept by an exception in a global grows two entries a run.
        let mut hops = vec![("BOOM", "ValueError"), (".__traceback__", "traceback")];
        hops.extend([(".tb_next", "traceback"); 8]);
        hops.push((".tb_frame", "frame"));
        assert_eq!(
            chain_text(chain("module t", &hops)).as_deref(),
            Some(
                "module t -> BOOM (ValueError) -> .__traceback__ (traceback) \
                 -> .tb_next (traceback) x8 -> .tb_frame -> frame"
            )
        );
        hops.pop();
        assert_eq!(
            chain_text(chain("module t", &hops)).as_deref(),
            Some(
                "module t -> BOOM (ValueError) -> .__traceback__ (traceback) \
                 -> .tb_next (traceback) x7 -> .tb_next -> traceback"
            )
        );
        assert_eq!(chain_text(None), None);
        let timed_out = chain("", &[]).map(|c| Chain {
            reached: false,
            timed_out: true,
            ..c
        });
        assert_eq!(chain_text(timed_out), None);
    }

    /// A known cause's cache holds every earlier test's objects beside this
    /// one's: the walk down from its global meets 60,000 keys and streams
    /// at one step, past its budget. The chains of the new objects are still
    /// found from there, through what the test made that holds them (the
    /// stream above its buffer), with no search up the whole heap.
    #[test]
    fn a_known_cause_is_found_below_a_cache_past_the_walk_budget() {
        Python::initialize();
        Python::attach(|py| {
            let globals = PyDict::new(py);
            globals
                .set_item("SOURCE", include_str!("../../fixtures/stream_cache.py"))
                .unwrap();
            py.run(
                c"
import gc, sys, types
holder = sys.modules['leakhunt_cache_holder'] = types.ModuleType('leakhunt_cache_holder')
exec(SOURCE, vars(holder))
gc.collect()
gc.freeze()
new = holder.Stream()
holder.STREAMS[object()] = new
targets = [new.buffer, new]
",
                Some(&globals),
                None,
            )
            .unwrap();
            let targets = globals.get_item("targets").unwrap().unwrap();
            let starts = vec![("leakhunt_cache_holder", "STREAMS", 3)];
            let found: Vec<Option<Chain>> = call(py, "_forward", (targets, starts))
                .unwrap()
                .extract()
                .unwrap();
            py.run(
                c"gc.unfreeze(); del sys.modules['leakhunt_cache_holder']",
                Some(&globals),
                None,
            )
            .unwrap();
            let texts: Vec<Option<String>> = found.into_iter().map(chain_text).collect();
            let stream = "module leakhunt_cache_holder -> STREAMS (dict) -> [<object>]";
            assert_eq!(
                texts,
                [
                    Some(format!(
                        "{stream} (leakhunt_cache_holder.Stream) -> .buffer -> _io.BytesIO"
                    )),
                    Some(format!("{stream} -> leakhunt_cache_holder.Stream")),
                ]
            );
        });
    }

    /// A test of a few milliseconds a run is traced 25 frames deep; a slow
    /// one less, so that 6 traced runs fit 20 s at 2.2 runs a frame.
    #[test]
    fn slow_tests_are_traced_less_deep() {
        let frames = |ms| frames_for(Duration::from_millis(ms));
        assert_eq!(frames(0), 25);
        assert_eq!(frames(20), 25);
        assert_eq!(frames(60), 25);
        assert_eq!(frames(100), 15);
        assert_eq!(frames(530), 2);
        assert_eq!(frames(5_000), 1);
    }
}
