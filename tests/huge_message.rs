//! A test whose failure message is 10 MB (fixtures/huge_message): every
//! report stays usable. JUnit and HTML carry a bounded head of each text,
//! the terminal a smaller one, each cut saying how much it left out; the JSON
//! report keeps the whole message; the tests after it run.

mod common;

use common::{final_counts, head, run_with_reports, verdicts};

const TEN_MB: usize = 10_000_000;

/// "AssertionError: " is 16 of the summary's 1,000 characters.
fn cut_summary() -> String {
    format!(
        "AssertionError: {}… [cut: {} more characters]",
        "x".repeat(1_000 - 16),
        TEN_MB - (1_000 - 16)
    )
}

#[test]
fn a_ten_megabyte_message_leaves_every_report_usable() {
    let dir = tempfile::tempdir().unwrap();
    // The JUnit file is checked against the schema: XML parsers accept it
    // (libxml2 refuses a node over 10,000,000 bytes).
    let (run, xml, json, page) =
        run_with_reports(&["--engine", "builtin", "huge_message"], dir.path());
    assert_eq!(
        verdicts(&run.stdout),
        [
            "huge_message/test_huge.py::test_huge_assert_message FAILED",
            "huge_message/test_huge.py::test_huge_str_of_the_exception FAILED",
            "huge_message/test_huge.py::test_after_them_still_runs PASSED",
        ],
        "{}",
        head(&run.stdout)
    );
    assert_eq!(final_counts(&run.stdout), "2 failed, 1 passed");
    assert_eq!(run.code, 1, "{}", run.stderr);

    // The terminal: each traceback cut at 64 Ki characters, each summary
    // line at 1,000: 90 MB of output (each message three times) became
    // about 200 KB.
    assert!(
        run.stdout.len() < 300_000,
        "{} bytes of output",
        run.stdout.len()
    );
    let marker = " more characters not shown; the JSON report (--json) has the whole text]\n";
    assert_eq!(
        run.stdout.matches(marker).count(),
        2,
        "{}",
        head(&run.stdout)
    );
    let short = format!(
        "FAILED huge_message/test_huge.py::test_huge_assert_message - {}\n",
        cut_summary()
    );
    assert!(run.stdout.contains(&short), "{}", head(&run.stdout));
    // The traceback's cut keeps whole characters, and says how many follow.
    assert!(
        run.stdout.contains("é\n[cut: 99") && !run.stdout.contains('\u{fffd}'),
        "{}",
        head(&run.stdout)
    );

    // JUnit: bounded, with the summary as the message.
    assert!(xml.len() < 10_000_000, "{} bytes of JUnit", xml.len());
    assert!(xml.contains(&format!(
        "<failure type=\"AssertionError\" message=\"{}\">",
        cut_summary()
    )));
    assert_eq!(xml.matches(marker.trim_end()).count(), 2);

    // HTML: bounded the same way.
    assert!(page.len() < 10_000_000, "{} bytes of HTML", page.len());
    assert_eq!(page.matches(marker.trim_end()).count(), 2);

    // JSON: the whole message, as the cuts say.
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    let message = |index: usize| {
        json["tests"][index]["failure"]["message"]
            .as_str()
            .map(|m| m.chars().count())
    };
    assert_eq!(message(0), Some(TEN_MB));
    assert_eq!(message(1), Some(TEN_MB));
}
