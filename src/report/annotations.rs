//! GitHub Actions workflow commands: failures and leaks show up on the right
//! line of the pull request's diff.

use std::path::Path;

use crate::model::outcome::{SessionReport, Verdict};
use crate::report::bounds;
use crate::report::format::rates;

/// One `::error file=…,line=…,title=…::message` line per failed, errored or
/// leaking test (`::warning` for inconclusive ones), on the line that
/// allocated a leak when the diagnosis found it, else on the test's line. Paths are made relative
/// to `workspace` (GitHub's checkout), where the test files live under
/// `rootdir`.
pub fn github(session: &SessionReport, rootdir: &Path, workspace: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    for error in &session.collection_errors {
        let file = relative(&rootdir.join(&error.path), workspace);
        lines.push(format!(
            "::error file={},title={}::{}",
            property(&file),
            property(&format!("collection error in {}", error.path)),
            data(error.message.trim_end())
        ));
    }
    for test in &session.tests {
        let (level, what, detail) = match test.verdict {
            Verdict::Leaked => ("error", "leaked", rates(&test.growth)),
            Verdict::Inconclusive => ("warning", "inconclusive", rates(&test.growth)),
            Verdict::Failed | Verdict::Error => (
                "error",
                if test.verdict == Verdict::Failed {
                    "failed"
                } else {
                    "error"
                },
                // GitHub shows a title, not 10 MB of a message.
                (test.failure.as_ref())
                    .map(|f| bounds::summary(&f.summary()).into_owned())
                    .unwrap_or_default(),
            ),
            _ => continue,
        };
        // A leak points at the line that allocated it when the diagnosis knows.
        let culprit = test.diagnosis.as_ref().and_then(|d| d.culprit());
        let (path, line) = match culprit {
            Some(at) => (at.path.as_str(), at.line),
            None => (test.item.path.as_str(), test.item.line),
        };
        let file = relative(&rootdir.join(path), workspace);
        lines.push(format!(
            "::{level} file={},line={},title={}::{}",
            property(&file),
            line.max(1),
            property(&format!("{} {what}", test.item.nodeid)),
            data(&detail)
        ));
    }
    lines
}

fn relative(path: &Path, base: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

/// Escapes a message as GitHub's runner expects.
fn data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value (file, title): also `:` and `,`.
fn property(text: &str) -> String {
    data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::outcome::{Failure, TestReport};
    use crate::model::signal::Signal;

    fn report(verdict: Verdict) -> TestReport {
        TestReport::example(
            "tests/test_x.py::test_y",
            verdict,
            &[(Signal::Objects, 3.0)],
        )
    }

    #[test]
    fn a_diagnosed_leak_points_at_its_allocating_line() {
        let mut leaked = report(Verdict::Leaked);
        leaked.diagnosis = Some(crate::model::diagnosis::Diagnosis {
            sites: vec![crate::model::diagnosis::Site {
                location: crate::model::diagnosis::Location {
                    path: "tests/test_x.py".into(),
                    line: 40,
                    source: "KEPT.append(x)".into(),
                },
                via: Vec::new(),
                bytes_per_run: 64.0,
                blocks_per_run: 1.0,
                steady: true,
                c_functions: Vec::new(),
            }],
            ..Default::default()
        });
        let session = SessionReport {
            tests: vec![leaked],
            ..SessionReport::default()
        };
        let lines = github(&session, Path::new("/repo"), Path::new("/repo"));
        assert!(
            lines[0].starts_with("::error file=tests/test_x.py,line=40,"),
            "{lines:?}"
        );
    }

    #[test]
    fn leaks_and_failures_point_at_the_test_line() {
        let mut failed = report(Verdict::Failed);
        failed.failure = Some(Failure {
            kind: "ValueError".into(),
            message: "50% off, a:b\nsecond line".into(),
            traceback: String::new(),
            run: 1,
            phase: "call".into(),
        });
        let session = SessionReport {
            tests: vec![report(Verdict::Leaked), failed, report(Verdict::Passed)],
            ..SessionReport::default()
        };
        let lines = github(&session, Path::new("/repo/sub"), Path::new("/repo"));
        assert_eq!(
            lines,
            [
                "::error file=sub/tests/test_x.py,line=12,title=tests/test_x.py%3A%3Atest_y leaked::+3 objects/run",
                "::error file=sub/tests/test_x.py,line=12,title=tests/test_x.py%3A%3Atest_y failed::ValueError: 50%25 off, a:b",
            ]
        );
    }
}
