//! The gate: what turns a leak into a pass for CI. The allow-lists (the
//! configuration's and the tests' own markers) and the baseline amend each
//! report as it arrives, before any writer sees it; the leaks seen are kept
//! for `--write-baseline`.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Result;

use crate::model::allow::{AllowEntry, AllowList};
use crate::model::outcome::TestReport;
use crate::report::baseline::{self, Baseline, Entry};

pub struct Gate {
    allowed: Vec<AllowEntry>,
    allow: AllowList,
    baseline: Option<KnownLeaks>,
    /// Every leak seen, for `--write-baseline`.
    recorded: Vec<Entry>,
    /// (node id, note) of each leak the baseline knows that is gone.
    fixed: Vec<(String, String)>,
}

/// The baseline given with `--baseline`.
struct KnownLeaks {
    baseline: Baseline,
    label: String,
    tolerance: f64,
}

impl Gate {
    /// Reads the baseline (a usage error when it cannot be read).
    pub fn new(allow: &[AllowEntry], baseline: Option<&Path>, tolerance: f64) -> Result<Gate> {
        let baseline = baseline
            .map(|path| -> Result<KnownLeaks> {
                Ok(KnownLeaks {
                    baseline: Baseline::read(path)?,
                    label: path.display().to_string(),
                    tolerance,
                })
            })
            .transpose()?;
        Ok(Gate {
            allowed: allow.to_vec(),
            allow: AllowList::new(allow),
            baseline,
            recorded: Vec::new(),
            fixed: Vec::new(),
        })
    }

    /// Adds the allow-list entries the tests declare themselves (pytest's
    /// `leakhunt` marker), known once they are collected.
    pub fn allow_also(&mut self, entries: &[AllowEntry]) {
        self.allowed.extend_from_slice(entries);
        self.allow = AllowList::new(&self.allowed);
    }

    /// Amends `report` by the allow-lists and the baseline.
    pub fn apply(&mut self, report: &mut TestReport) {
        self.allow.apply(report);
        self.recorded.extend(baseline::leaks_of(report));
        let Some(known) = &self.baseline else {
            return;
        };
        let fixed = baseline::apply(report, &known.baseline, known.tolerance, &known.label);
        self.fixed.extend(fixed.into_iter().map(|f| {
            let note = format!(
                "FIXED {} - no longer leaks {}: re-write the baseline with --write-baseline {}",
                f.test, f.signal, known.label
            );
            (report.item.nodeid.clone(), note)
        }));
    }

    /// The FIXED notes, in the order of `order` (node ids in collection
    /// order): tests finish in any order with several workers.
    pub fn notes(&self, order: &[&str]) -> Vec<String> {
        let position: HashMap<&str, usize> =
            order.iter().enumerate().map(|(at, n)| (*n, at)).collect();
        let mut notes = self.fixed.clone();
        notes.sort_by_key(|(nodeid, _)| position.get(nodeid.as_str()).copied());
        notes.into_iter().map(|(_, note)| note).collect()
    }

    /// `--write-baseline`: the leaks seen.
    pub fn write_baseline(&self, path: &Path) -> Result<()> {
        Baseline::from_entries(self.recorded.clone()).write(path)
    }
}
