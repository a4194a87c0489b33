//! The HTML report: one self-contained file a person opens after a CI run.
//!
//! Everything is inline (CSS, a few lines of JS for sorting, SVG charts) and
//! nothing is fetched: CI artefacts are often opened offline or from a
//! sandboxed viewer, and a report must not phone home. The output depends only
//! on the session, so the same run gives the same file.

use std::fmt::Write as _;
use std::path::Path;

use crate::model::outcome::{SessionReport, SessionStatus, TestReport, Verdict};
use crate::model::sanitize::printable;
use crate::model::signal::{Sample, Signal};
use crate::report::atomic::write_atomically;
use crate::report::bounds::{self, BODY_CHARS};
use crate::report::explain::grouped_lines;
use crate::report::format::{amount, growth_outcome, rates};
use crate::report::terminal::summary_counts;

/// Colour of a growing signal's line; the integration test looks for it in a
/// screenshot, so keep the two in step.
pub const GROWING_COLOUR: &str = "#d62728";
const FLAT_COLOUR: &str = "#4a6fa5";

/// Chart geometry, in SVG user units (= CSS pixels here).
const CHART_WIDTH: f64 = 300.0;
const CHART_HEIGHT: f64 = 120.0;
/// Room on the left for the min/max labels, which can be 10 digits long.
const PLOT_LEFT: f64 = 74.0;
const PLOT_RIGHT: f64 = 292.0;
const PLOT_TOP: f64 = 24.0;
const PLOT_BOTTOM: f64 = 98.0;

/// Writes the report atomically, creating the parent folder if missing.
pub fn write_html(session: &SessionReport, path: &Path) -> anyhow::Result<()> {
    write_atomically(path, render_html(session).as_bytes(), "HTML report")
}

/// The whole HTML document for `session`.
pub fn render_html(session: &SessionReport) -> String {
    let mut out = String::with_capacity(16 * 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<title>leakhunt report</title>\n<style>\n");
    out.push_str(STYLE);
    out.push_str("</style>\n</head>\n<body>\n");
    header(&mut out, session);
    table(&mut out, session);
    details(&mut out, session);
    out.push_str("<script>\n");
    out.push_str(SCRIPT);
    out.push_str("</script>\n</body>\n</html>\n");
    out
}

fn header(out: &mut String, session: &SessionReport) {
    // The HTML report sees only the session, not the deselected count the
    // terminal has; the counts are otherwise the terminal's final line.
    let summary = summary_counts(session, 0);
    let tone = match session.status() {
        SessionStatus::Bad => "bad",
        SessionStatus::Warn => "warn",
        SessionStatus::Good => "good",
    };
    let _ = writeln!(
        out,
        "<header>\n<h1>leakhunt report</h1>\n<p class=\"meta\">leakhunt {}</p>",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(
        out,
        "<p class=\"summary {tone}\">{} in {:.2}s</p>",
        escape(&summary),
        session.duration.as_secs_f64()
    );
    if session.interrupted {
        out.push_str("<p class=\"interrupted\">interrupted: not every test ran</p>\n");
    }
    out.push_str("</header>\n");
}

fn table(out: &mut String, session: &SessionReport) {
    out.push_str(
        "<table id=\"tests\" class=\"sortable\">\n<thead><tr>\
         <th data-type=\"text\">test</th>\
         <th data-type=\"num\">verdict</th>\
         <th data-type=\"num\">runs</th>\
         <th data-type=\"num\">duration</th>\
         <th data-type=\"text\">growth per run</th>\
         </tr></thead>\n<tbody>\n",
    );
    for (index, error) in session.collection_errors.iter().enumerate() {
        // Sorts with the errors; it ran no test, hence no runs or duration.
        let _ = writeln!(
            out,
            "<tr class=\"error\"><td class=\"node\"><a href=\"#collect-{index}\">{}</a></td>\
             <td data-sort=\"{}\"><span class=\"verdict error\">ERROR</span> collecting</td>\
             <td class=\"num\" data-sort=\"0\"></td><td class=\"num\" data-sort=\"0\"></td>\
             <td></td></tr>",
            escape(&error.path),
            rank(Verdict::Error),
        );
    }
    for (index, test) in session.tests.iter().enumerate() {
        let class = verdict_class(test.verdict);
        let name = escape(&test.item.nodeid);
        let node = if has_details(test) {
            format!("<a href=\"#test-{index}\">{name}</a>")
        } else {
            name
        };
        let seconds = test.duration.as_secs_f64();
        let _ = writeln!(
            out,
            "<tr class=\"{class}\"><td class=\"node\">{node}</td>\
             <td data-sort=\"{}\"><span class=\"verdict {class}\">{}</span></td>\
             <td class=\"num\" data-sort=\"{}\">{}</td>\
             <td class=\"num\" data-sort=\"{seconds:.6}\">{seconds:.2}s</td>\
             <td>{}</td></tr>",
            rank(test.verdict),
            test.verdict.word(),
            test.runs,
            test.runs,
            escape(&rates(&test.growth)),
        );
    }
    out.push_str("</tbody>\n</table>\n");
}

fn has_details(test: &TestReport) -> bool {
    matches!(
        test.verdict,
        Verdict::Leaked | Verdict::Inconclusive | Verdict::Failed | Verdict::Error
    )
}

fn details(out: &mut String, session: &SessionReport) {
    for (index, error) in session.collection_errors.iter().enumerate() {
        let _ = writeln!(
            out,
            "<section id=\"collect-{index}\" class=\"detail error\">\n\
             <h2><span class=\"verdict error\">ERROR</span> collecting {}</h2>\n<pre>{}</pre>\n</section>",
            escape(&error.path),
            escape_body(&error.message),
        );
    }
    let leaks: Vec<&TestReport> = session
        .tests
        .iter()
        .filter(|t| t.verdict == Verdict::Leaked)
        .collect();
    for (index, test) in session.tests.iter().enumerate() {
        match test.verdict {
            Verdict::Leaked | Verdict::Inconclusive | Verdict::Allowed => {
                leak_detail(out, index, test, &leaks)
            }
            Verdict::Failed | Verdict::Error => failure_detail(out, index, test),
            Verdict::Passed | Verdict::Skipped | Verdict::XFailed | Verdict::XPassed => {}
        }
    }
}

fn section_start(out: &mut String, index: usize, test: &TestReport) {
    let class = verdict_class(test.verdict);
    let _ = writeln!(
        out,
        "<section id=\"test-{index}\" class=\"detail {class}\">\n\
         <h2><span class=\"verdict {class}\">{}</span> {}</h2>\n\
         <p class=\"where\">{}</p>",
        test.verdict.word(),
        escape(&test.item.nodeid),
        escape(&test.item.location()),
    );
}

fn leak_detail(out: &mut String, index: usize, test: &TestReport, leaks: &[&TestReport]) {
    section_start(out, index, test);
    let _ = writeln!(
        out,
        "<p>{} after {} runs ({} warm-up): {}</p>",
        escape(&growth_outcome(test)),
        test.runs,
        test.warmup,
        escape(&rates(&test.growth)),
    );
    if test.series.len() < 2 {
        out.push_str("<p>no series was recorded</p>\n");
    } else {
        out.push_str("<div class=\"charts\">\n");
        for signal in Signal::ALL {
            let growth = test.growth.iter().find(|g| g.signal == signal);
            chart(out, &test.series, signal, growth.map(|g| g.per_run));
        }
        out.push_str("</div>\n");
    }
    // The diagnosis as the terminal shows it: a cause once, with its tests.
    let lines = grouped_lines(test, leaks);
    if !lines.is_empty() {
        let _ = writeln!(
            out,
            "<pre class=\"diagnosis\">{}</pre>",
            escape(&lines.join("\n"))
        );
    }
    out.push_str("</section>\n");
}

fn failure_detail(out: &mut String, index: usize, test: &TestReport) {
    section_start(out, index, test);
    if let Some(failure) = &test.failure {
        let _ = writeln!(
            out,
            "<p class=\"failure\">{}</p>",
            escape(&bounds::summary(&printable(&failure.summary())))
        );
        if let Some(not_repeatable) = &test.not_repeatable {
            let _ = writeln!(
                out,
                "<p class=\"not-repeatable\">{}</p>",
                escape(&not_repeatable.describe())
            );
        }
        if !failure.traceback.is_empty() {
            let _ = writeln!(out, "<pre>{}</pre>", escape_body(&failure.traceback));
        }
    }
    if !test.captured.is_empty() {
        let _ = writeln!(
            out,
            "<h3>Captured output</h3>\n<pre>{}</pre>",
            escape_body(&test.captured)
        );
    }
    out.push_str("</section>\n");
}

/// One small line chart of `signal` over the series: the baseline, then one
/// point per judged run. A growing signal (`per_run` is its rate) is drawn in
/// red on a tinted background so it stands out among the flat ones.
fn chart(out: &mut String, series: &[Sample], signal: Signal, per_run: Option<f64>) {
    let values: Vec<i64> = series.iter().map(|s| s.get(signal)).collect();
    let (Some(&min), Some(&max)) = (values.iter().min(), values.iter().max()) else {
        return;
    };
    let growing = per_run.is_some();
    let (class, colour) = if growing {
        ("chart growing", GROWING_COLOUR)
    } else {
        ("chart", FLAT_COLOUR)
    };
    let title = match per_run {
        Some(rate) => format!("{signal} {}/run", amount(signal, rate)),
        None => signal.name().to_owned(),
    };
    let last_run = values.len() - 1;
    let x_step = (PLOT_RIGHT - PLOT_LEFT) / last_run.max(1) as f64;
    let span = (max - min) as f64;
    let points: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, &value)| {
            let x = PLOT_LEFT + i as f64 * x_step;
            // A flat series is drawn across the middle rather than on an axis.
            let y = if span == 0.0 {
                (PLOT_TOP + PLOT_BOTTOM) / 2.0
            } else {
                PLOT_BOTTOM - (value - min) as f64 / span * (PLOT_BOTTOM - PLOT_TOP)
            };
            format!("{x:.1},{y:.1}")
        })
        .collect();
    let label_x = PLOT_LEFT - 4.0;
    // A flat series has one value: label it once, beside its line.
    let y_labels = if span == 0.0 {
        format!(
            "<text x=\"{label_x}\" y=\"{}\" class=\"label\" text-anchor=\"end\">{min}</text>\n",
            (PLOT_TOP + PLOT_BOTTOM) / 2.0 + 4.0
        )
    } else {
        format!(
            "<text x=\"{label_x}\" y=\"{}\" class=\"label\" text-anchor=\"end\">{max}</text>\n\
             <text x=\"{label_x}\" y=\"{PLOT_BOTTOM}\" class=\"label\" text-anchor=\"end\">{min}</text>\n",
            PLOT_TOP + 8.0
        )
    };
    let _ = writeln!(
        out,
        "<svg class=\"{class}\" data-signal=\"{signal}\" width=\"{CHART_WIDTH}\" height=\"{CHART_HEIGHT}\" \
         viewBox=\"0 0 {CHART_WIDTH} {CHART_HEIGHT}\" role=\"img\" aria-label=\"{title}\">\n\
         <title>{signal}: {min} to {max} over {last_run} runs</title>\n\
         <text x=\"6\" y=\"14\" class=\"name\">{title}</text>\n\
         <line x1=\"{PLOT_LEFT}\" y1=\"{PLOT_TOP}\" x2=\"{PLOT_LEFT}\" y2=\"{PLOT_BOTTOM}\" class=\"axis\"/>\n\
         <line x1=\"{PLOT_LEFT}\" y1=\"{PLOT_BOTTOM}\" x2=\"{PLOT_RIGHT}\" y2=\"{PLOT_BOTTOM}\" class=\"axis\"/>\n\
         {y_labels}\
         <text x=\"{PLOT_LEFT}\" y=\"{run_y}\" class=\"label\">0</text>\n\
         <text x=\"{PLOT_RIGHT}\" y=\"{run_y}\" class=\"label\" text-anchor=\"end\">run {last_run}</text>\n\
         <polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"{}\" stroke-linejoin=\"round\"/>\n\
         </svg>",
        points.join(" "),
        if growing { 2.5 } else { 1.5 },
        run_y = PLOT_BOTTOM + 14.0,
    );
}

/// Sort key of the verdict column: the worst first when sorted ascending.
fn rank(verdict: Verdict) -> u8 {
    match verdict {
        Verdict::Leaked => 0,
        Verdict::Failed => 1,
        Verdict::Error => 2,
        Verdict::Inconclusive => 3,
        Verdict::Allowed => 4,
        Verdict::Skipped => 5,
        Verdict::XFailed => 6,
        Verdict::XPassed => 7,
        Verdict::Passed => 8,
    }
}

fn verdict_class(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Passed => "passed",
        Verdict::Failed => "failed",
        Verdict::Error => "error",
        Verdict::Skipped => "skipped",
        Verdict::Leaked => "leaked",
        Verdict::Inconclusive => "inconclusive",
        Verdict::Allowed => "allowed",
        Verdict::XFailed => "xfailed",
        Verdict::XPassed => "xpassed",
    }
}

/// A traceback or output in a `<pre>`: cut at [`BODY_CHARS`], so that a
/// 10 MB message does not make a page browsers choke on, then escaped.
fn escape_body(text: &str) -> String {
    escape(&bounds::body(&printable(text.trim_end()), BODY_CHARS))
}

/// Test-provided text as HTML text or attribute value: ANSI escapes and
/// control characters made visible first (as in every report), then the
/// markup characters escaped, so no test output can open a tag or a script.
fn escape(text: &str) -> String {
    let text = printable(text);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px; color: #222; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 0 0 6px; overflow-wrap: anywhere; }
h3 { font-size: 14px; margin: 12px 0 4px; }
.meta { color: #666; margin: 0 0 8px; }
.summary { font-weight: 600; padding: 6px 10px; border-radius: 4px; display: inline-block; }
.summary.bad { background: #fde2e1; color: #a1161b; }
.summary.warn { background: #fff3cd; color: #7a5a00; }
.summary.good { background: #dff3e3; color: #1b6b2f; }
.interrupted { color: #a1161b; font-weight: 600; }
table { border-collapse: collapse; margin: 16px 0 24px; width: 100%; }
th, td { border-bottom: 1px solid #e3e3e3; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; cursor: pointer; user-select: none; white-space: nowrap; }
th[aria-sort="ascending"]::after { content: " \25B2"; }
th[aria-sort="descending"]::after { content: " \25BC"; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.node { font-family: ui-monospace, Menlo, Consolas, monospace; overflow-wrap: break-word; }
.verdict { font-weight: 700; font-size: 12px; }
.verdict.passed { color: #1b6b2f; }
.verdict.skipped, .verdict.inconclusive, .verdict.allowed, .verdict.xfailed, .verdict.xpassed { color: #8a6d00; }
.verdict.failed, .verdict.error, .verdict.leaked { color: #c0161b; }
.detail { border: 1px solid #e3e3e3; border-radius: 6px; padding: 12px; margin: 0 0 16px; }
.where { color: #666; margin: 0 0 6px; font-family: ui-monospace, Menlo, Consolas, monospace; }
.failure { color: #a1161b; font-weight: 600; }
.not-repeatable { color: #8a5a00; font-weight: 600; }
pre { background: #f7f7f7; padding: 8px; overflow-x: auto; white-space: pre-wrap; word-break: break-all; }
.charts { display: flex; flex-wrap: wrap; gap: 8px; }
svg.chart { background: #fafafa; border: 1px solid #e6e6e6; border-radius: 4px; }
svg.chart.growing { background: #fff1f0; border-color: #f3b5b3; }
svg .name { font-size: 12px; font-weight: 600; fill: #333; }
svg .label { font-size: 10px; fill: #666; }
svg .axis { stroke: #bbb; stroke-width: 1; }
"#;

/// Sorts the table by the clicked column: numbers by their `data-sort` value,
/// text by its content; a second click reverses. Sorting is stable, so ties
/// keep the order of the previous sort (collection order at first).
const SCRIPT: &str = r#"(function () {
  function key(cell) {
    return cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent;
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var headers = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(headers, function (th, column) {
      th.addEventListener("click", function () {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(headers, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var numeric = th.getAttribute("data-type") === "num";
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = key(a.cells[column]), y = key(b.cells[column]);
          var order = numeric ? parseFloat(x) - parseFloat(y) : x.localeCompare(y);
          return ascending ? order : -order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::outcome::{CollectionError, Failure, Growth};
    use crate::model::repeatability::NotRepeatable;
    use std::fs;
    use std::time::Duration;

    fn report(name: &str, verdict: Verdict) -> TestReport {
        let mut report = TestReport::example(&format!("pkg/test_x.py::{name}"), verdict, &[]);
        report.item.name = name.to_owned();
        report.item.line = 7;
        report.runs = 13;
        report.duration = Duration::from_micros(12_345_600);
        report
    }

    fn session() -> SessionReport {
        let passed = report("test_ok", Verdict::Passed);
        let mut leaked = report("test_leak[a]", Verdict::Leaked);
        leaked.runs = 23;
        leaked.growth = vec![
            Growth {
                signal: Signal::Objects,
                per_run: 1.0,
            },
            Growth {
                signal: Signal::Bytes,
                per_run: 416.0,
            },
        ];
        leaked.series = (0..4)
            .map(|i| Sample([120 + i, 500, 1000 + 416 * i, 4, 1, 30_000_000]))
            .collect();
        let mut hostile = report("test_<script>alert(1)</script>", Verdict::Failed);
        hostile.failure = Some(Failure {
            kind: "AssertionError".to_owned(),
            message: "<script>alert('x')</script> & \"q\" \x1b[31mred\x1b[0m".to_owned(),
            traceback: "Traceback:\n  <b>bold</b>\0".to_owned(),
            run: 2,
            phase: "call".to_owned(),
        });
        hostile.captured = "printed </pre><script>".to_owned();
        SessionReport {
            tests: vec![passed, leaked, hostile],
            collection_errors: vec![CollectionError {
                path: "pkg/test_broken.py".to_owned(),
                message: "ImportError: <no>".to_owned(),
            }],
            duration: Duration::from_millis(1_180),
            interrupted: true,
            ..SessionReport::default()
        }
    }

    #[test]
    fn header_has_counts_duration_and_interruption() {
        let html = render_html(&session());
        for fragment in [
            "<!DOCTYPE html>",
            &format!(
                "<p class=\"meta\">leakhunt {}</p>",
                env!("CARGO_PKG_VERSION")
            ),
            "<p class=\"summary bad\">1 failed, 1 passed, 1 leaked, 1 error in 1.18s</p>",
            "<p class=\"interrupted\">interrupted: not every test ran</p>",
        ] {
            assert!(html.contains(fragment), "missing {fragment:?} in\n{html}");
        }
    }

    #[test]
    fn table_row_of_a_leaked_test() {
        let html = render_html(&session());
        let row = "<tr class=\"leaked\"><td class=\"node\"><a href=\"#test-1\">pkg/test_x.py::test_leak[a]</a></td>\
                   <td data-sort=\"0\"><span class=\"verdict leaked\">LEAKED</span></td>\
                   <td class=\"num\" data-sort=\"23\">23</td>\
                   <td class=\"num\" data-sort=\"12.345600\">12.35s</td>\
                   <td>+1 objects/run, +416 B/run</td></tr>";
        assert!(html.contains(row), "missing {row:?} in\n{html}");
        // A passing test has no details to link to.
        assert!(html.contains("<td class=\"node\">pkg/test_x.py::test_ok</td>"));
        // Collection errors are rows too, linked to their traceback.
        assert!(html.contains(
            "<a href=\"#collect-0\">pkg/test_broken.py</a></td><td data-sort=\"2\"><span class=\"verdict error\">ERROR</span> collecting</td>"
        ));
        assert!(html.contains("<section id=\"collect-0\" class=\"detail error\">"));
        assert!(html.contains("<pre>ImportError: &lt;no&gt;</pre>"));
    }

    #[test]
    fn one_chart_per_signal_of_a_leaked_test() {
        let html = render_html(&session());
        let section = html
            .split("<section id=\"test-1\"")
            .nth(1)
            .and_then(|rest| rest.split("</section>").next())
            .expect("the leaked test has a section");
        assert_eq!(section.matches("<svg ").count(), Signal::ALL.len());
        for signal in Signal::ALL {
            assert!(
                section.contains(&format!("data-signal=\"{signal}\"")),
                "no chart for {signal}"
            );
        }
        // Growing signals are highlighted and titled with their rate; the
        // axis labels show the series' min and max.
        assert!(section.contains(
            "<svg class=\"chart growing\" data-signal=\"objects\" width=\"300\" height=\"120\""
        ));
        assert!(section.contains(">objects +1 objects/run</text>"));
        assert!(section.contains("class=\"label\" text-anchor=\"end\">123</text>"));
        assert!(section.contains("class=\"label\" text-anchor=\"end\">120</text>"));
        assert!(section.contains(&format!("stroke=\"{GROWING_COLOUR}\"")));
        assert!(section.contains("<svg class=\"chart\" data-signal=\"fds\""));
        // Baseline plus three judged runs: four points, left to right.
        assert!(section.contains("points=\"74.0,98.0 146.7,73.3 219.3,48.7 292.0,24.0\""));
        // Only leaked and inconclusive tests get charts.
        assert_eq!(html.matches("<svg ").count(), Signal::ALL.len());
    }

    #[test]
    fn a_test_that_is_not_repeatable_says_how() {
        let mut failed = report("test_again", Verdict::Failed);
        failed.failure = Some(Failure {
            kind: "AssertionError".to_owned(),
            message: "registered twice".to_owned(),
            traceback: String::new(),
            run: 2,
            phase: "call".to_owned(),
        });
        failed.not_repeatable = Some(NotRepeatable::FailsWhenRepeated { run: 2 });
        let html = render_html(&SessionReport {
            tests: vec![failed],
            ..SessionReport::default()
        });
        assert!(html.contains(
            "<p class=\"failure\">passed run 1, failed run 2: AssertionError: registered twice</p>\n\
             <p class=\"not-repeatable\">not repeatable: passes, then fails when run again (run 2)</p>\n"
        ), "{html}");
    }

    #[test]
    fn test_provided_strings_are_escaped() {
        let html = render_html(&session());
        // The only script element is leakhunt's own.
        assert_eq!(html.matches("<script").count(), 1, "{html}");
        assert_eq!(html.matches("</pre><").count(), 0, "{html}");
        for fragment in [
            "pkg/test_x.py::test_&lt;script&gt;alert(1)&lt;/script&gt;</h2>",
            "<p class=\"failure\">passed run 1, failed run 2: AssertionError: &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot; red</p>",
            "<pre>Traceback:\n  &lt;b&gt;bold&lt;/b&gt;#x00</pre>",
            "<pre>printed &lt;/pre&gt;&lt;script&gt;</pre>",
        ] {
            assert!(html.contains(fragment), "missing {fragment:?} in\n{html}");
        }
        assert!(!html.contains('\x1b') && !html.contains('\0'));
    }

    #[test]
    fn nothing_is_fetched_from_the_network() {
        for html in [
            render_html(&session()),
            render_html(&SessionReport::default()),
        ] {
            assert!(!html.contains("http://") && !html.contains("https://"));
            assert!(!html.contains(" src=") && !html.contains("<link"));
        }
    }

    #[test]
    fn empty_session_reads_no_tests_ran() {
        let html = render_html(&SessionReport::default());
        assert!(html.contains("<p class=\"summary warn\">no tests ran in 0.00s</p>"));
        assert!(html.contains("<tbody>\n</tbody>"));
    }

    #[test]
    fn flat_and_short_series_draw_safely() {
        let mut test = report("test_flat", Verdict::Inconclusive);
        test.series = vec![Sample([5; 6]); 3];
        let mut out = String::new();
        leak_detail(&mut out, 0, &test, &[]);
        assert!(
            out.contains("points=\"74.0,61.0 183.0,61.0 292.0,61.0\""),
            "{out}"
        );
        // One value, labelled once.
        assert_eq!(
            out.matches("text-anchor=\"end\">5</text>").count(),
            6,
            "{out}"
        );
        test.series.truncate(1);
        let mut out = String::new();
        leak_detail(&mut out, 0, &test, &[]);
        assert!(out.contains("no series was recorded") && !out.contains("<svg"));
    }

    #[test]
    fn write_goes_through_a_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out/report.html");
        write_html(&session(), &path).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), render_html(&session()));
        let names: Vec<_> = fs::read_dir(dir.path().join("out"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, ["report.html"]);
    }
}
