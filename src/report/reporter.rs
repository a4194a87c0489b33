//! One observer of the session: each result goes through the gate once, then
//! out to the terminal as it arrives; at the end, to every report asked for
//! (JUnit, JSON, HTML, GitHub annotations, the baseline).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::model::allow::AllowEntry;
use crate::model::event::Event;
use crate::model::outcome::SessionReport;
use crate::plan::CollectedCounts;
use crate::report::annotations;
use crate::report::atomic::check_writable;
use crate::report::gate::Gate;
use crate::report::html::write_html;
use crate::report::json::write_json;
use crate::report::junit::write_junit;
use crate::report::terminal::{Header, Terminal};
use crate::settings::{Settings, Verbosity};

pub struct Reporter {
    terminal: Terminal,
    gate: Gate,
    junitxml: Option<PathBuf>,
    json: Option<PathBuf>,
    html: Option<PathBuf>,
    write_baseline: Option<PathBuf>,
}

impl Reporter {
    /// Reads the baseline; writes to stdout.
    pub fn new(settings: &Settings) -> Result<Reporter> {
        let live = std::io::stdout().is_terminal() && settings.verbosity != Verbosity::Quiet;
        let mut terminal = Terminal::new(
            Box::new(std::io::stdout()),
            settings.verbosity,
            settings.color,
            live,
        );
        if settings.workers > 1 {
            // Tests show as they finish, as pytest-xdist shows them.
            terminal.in_completion_order();
        }
        let reports = [
            (&settings.junitxml, "JUnit report"),
            (&settings.json, "JSON report"),
            (&settings.html, "HTML report"),
            (&settings.write_baseline, "baseline"),
        ];
        for (path, what) in reports {
            if let Some(path) = path {
                check_writable(path, what).map_err(|error| {
                    anyhow::anyhow!(
                        "cannot write the {what} {} ({error:#}): choose a path in a folder you \
                         can write to",
                        path.display()
                    )
                })?;
            }
        }
        Ok(Reporter {
            terminal,
            gate: Gate::new(
                &settings.allow,
                settings.baseline.as_deref(),
                settings.baseline_tolerance,
            )?,
            junitxml: settings.junitxml.clone(),
            json: settings.json.clone(),
            html: settings.html.clone(),
            write_baseline: settings.write_baseline.clone(),
        })
    }

    /// The allow-list entries the tests declare themselves.
    pub fn allow_also(&mut self, entries: &[AllowEntry]) {
        self.gate.allow_also(entries);
    }

    pub fn header(&mut self, header: &Header<'_>, counts: CollectedCounts) {
        self.terminal.header(header);
        self.terminal.collected(
            counts.collected,
            counts.selected,
            counts.errors,
            counts.skipped_files,
        );
    }

    /// A result (amended by the gate before anything shows it), or progress.
    pub fn on_event(&mut self, event: Event<'_>) {
        match event {
            Event::Report(report) => {
                self.gate.apply(report);
                self.terminal.test_done(report);
            }
            Event::Progress(progress) => self.terminal.progress(progress),
        }
    }

    /// The end of the terminal report, then every file report. `rootdir`
    /// makes the annotations' paths.
    pub fn finish(
        &mut self,
        session: &SessionReport,
        deselected: usize,
        rootdir: &Path,
    ) -> Result<()> {
        let order: Vec<&str> = session
            .tests
            .iter()
            .map(|t| t.item.nodeid.as_str())
            .collect();
        let notes = self.gate.notes(&order);
        // Every report is written that can be, whichever fails.
        let mut failures = Vec::new();
        if let Some(path) = &self.write_baseline {
            failures.extend(self.gate.write_baseline(path).err());
        }
        self.terminal.finish(session, deselected, &notes);
        // Workflow commands must start a line: after the report, never inside it.
        if std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") {
            let workspace = std::env::var_os("GITHUB_WORKSPACE")
                .map(PathBuf::from)
                .or_else(|| std::env::current_dir().ok())
                .unwrap_or_default();
            for line in annotations::github(session, rootdir, &workspace) {
                println!("{line}");
            }
        }
        if let Some(path) = &self.junitxml {
            failures.extend(
                write_junit(session, path).err().map(|e| {
                    e.context(format!("cannot write the JUnit report {}", path.display()))
                }),
            );
        }
        if let Some(path) = &self.json {
            failures.extend(
                write_json(session, path)
                    .err()
                    .map(|e| e.context(format!("cannot write the JSON report {}", path.display()))),
            );
        }
        if let Some(path) = &self.html {
            failures.extend(
                write_html(session, path)
                    .err()
                    .map(|e| e.context(format!("cannot write the HTML report {}", path.display()))),
            );
        }
        match failures.len() {
            0 => Ok(()),
            1 => Err(failures.remove(0)),
            _ => {
                let each: Vec<String> = failures.iter().map(|e| format!("{e:#}")).collect();
                Err(anyhow::anyhow!("{}", each.join("; ")))
            }
        }
    }
}
